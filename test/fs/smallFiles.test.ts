// What a small file costs the file system core, counted (speed itself is a bench figure): create,
// one write, close is two journal records (the inode, then its chunk with size and times in the
// same record) and one chunk write whose bytes own exactly the file's size of memory; reading it
// back is one record the first time (atime, as relatime moves it) and none after that.

import { createHook } from 'node:async_hooks'
import { describe, expect, it, vi } from 'vitest'
import { OpenFile } from '../../src/fs/OpenFile.js'
import { makeFs } from './fakes.js'

describe('a small file', () => {
  it('costs two journal records and one chunk write of a buffer its own size', async () => {
    const { fs, meta, chunks } = makeFs()
    const written: Buffer[] = []
    const write = chunks.write.bind(chunks)
    chunks.write = async (data: Buffer) => {
      written.push(data)
      return write(data)
    }
    const before = meta.records.length
    const fh = await fs.create('/small', 0o644)
    await fs.write(fh, Buffer.alloc(4096, 1), 0)
    await fs.flush(fh)
    await fs.release(fh)

    expect(meta.records.slice(before).map(r => r.op)).toEqual(['mknod', 'chunk'])
    expect(written).toHaveLength(1)
    // Not a view into a larger buffer: nothing else to zero, collect, or copy out for the cache.
    expect(written[0]!.length).toBe(4096)
    expect(written[0]!.buffer.byteLength).toBe(4096)
    expect((await fs.getattr('/small')).size).toBe(4096)
  })

  it('costs one journal record to read back the first time (its atime), none after that', async () => {
    const { fs, meta, chunks } = makeFs()
    const fh = await fs.create('/small', 0o644)
    await fs.write(fh, Buffer.alloc(4096, 1), 0)
    await fs.release(fh)
    const before = meta.records.length
    const writes = chunks.writes
    for (let i = 0; i < 3; i++) {
      const reader = await fs.open('/small')
      const out = Buffer.alloc(128 * 1024)
      expect(await fs.read(reader, out, 0)).toBe(4096)
      await fs.flush(reader)
      await fs.release(reader)
    }
    expect(meta.records.slice(before).map(r => r.op)).toEqual(['setattr'])
    expect(chunks.writes).toBe(writes)
  })

  it('answers a getattr of an existing name without an await (one promise: the answer)', async () => {
    const { fs } = makeFs()
    await fs.release(await fs.create('/small', 0o644))
    let promises = 0
    const hook = createHook({ init: (_id, type) => { if (type === 'PROMISE') promises++ } })
    hook.enable()
    const answer = fs.getattrCommitted('/small') // what the FUSE adapter asks
    hook.disable()
    expect((await answer).stat.size).toBe(0)
    // The kernel asks several times per file created or opened.
    expect(promises).toBe(1)
  })

  it('says an open file\'s stat may be remembered only while nothing of it is ahead of the namespace', async () => {
    const { fs, chunks } = makeFs()
    const committed = async (path: string) => (await fs.getattrCommitted(path)).committed
    const fh = await fs.create('/f', 0o644)
    expect(await committed('/f')).toBe(true) // just created: the namespace's stat
    await fs.write(fh, Buffer.alloc(100, 1), 0)
    expect(await committed('/f')).toBe(false) // its bytes are only here
    await fs.flush(fh)
    expect(await committed('/f')).toBe(true) // stored and recorded
    const { stat } = await fs.getattrCommitted('/f')
    expect([stat.size, stat.blocks]).toEqual([100, 1])
    chunks.failWrites = new Error('disk gone')
    await fs.write(fh, Buffer.alloc(10, 2), 100)
    await expect(fs.flush(fh)).rejects.toThrow()
    expect(await committed('/f')).toBe(false) // the failure is still to be reported, and the bytes kept
    chunks.failWrites = null
    await fs.flush(fh)
    expect(await committed('/f')).toBe(true)
    await fs.release(fh)
    const reader = await fs.open('/f')
    expect(await committed('/f')).toBe(true) // open to read
    await fs.release(reader)
  })

  it('stores once per close: the release after a flush, and a reader\'s flush and release, have nothing to do', async () => {
    const { fs } = makeFs()
    const flushes = vi.spyOn(OpenFile.prototype, 'flush')
    try {
      const fh = await fs.create('/small', 0o644)
      await fs.write(fh, Buffer.alloc(4096, 1), 0)
      await fs.flush(fh) // close(2)
      await fs.release(fh) // the kernel's release after it
      expect(flushes).toHaveBeenCalledTimes(1)
      const reader = await fs.open('/small')
      await fs.read(reader, Buffer.alloc(4096), 0)
      await fs.flush(reader)
      await fs.release(reader)
      expect(flushes).toHaveBeenCalledTimes(1)
      // A release without a flush before it (no close seen) still stores.
      const again = await fs.open('/small')
      await fs.write(again, Buffer.from('x'), 4096)
      await fs.release(again)
      expect(flushes).toHaveBeenCalledTimes(2)
      expect((await fs.getattr('/small')).size).toBe(4097)
    } finally {
      flushes.mockRestore()
    }
  })
})
