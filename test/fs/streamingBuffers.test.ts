// Chunk buffers of a streaming writer (src/fs/OpenFile.ts): the first chunk grows by doubling (a small
// file never costs a whole chunk), every later chunk the writer reaches by filling the one before is
// allocated at its full size at once, with none of the copies of growing. All of it hashable memory.
// Once a chunk's seal has committed the file system lets go of its buffer (ChunkIO.release), whose
// memory a later buffer may get back unzeroed: a hole written past a buffer's end still reads as zeros.

import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DirtyBudget } from '../../src/fs/DirtyBudget.js'
import { FileSystem } from '../../src/fs/FileSystem.js'
import { NameNode } from '../../src/namenode/NameNode.js'
import { InProcessSession } from '../../src/protocol/InProcessSession.js'
import { MemoryChunks, MemoryStore } from './fakes.js'
import { hashableBuffer, holdShared, memoryCounts, recycle } from '../../src/util/sha256.js'

const MiB = 1024 * 1024
const CHUNK = MiB

function makeFs() {
  const meta = new MemoryStore()
  const chunks = new MemoryChunks()
  const nameNode = new NameNode({ meta, replicas: 2, deleteChunks: ids => chunks.delete(ids), log: () => {} })
  nameNode.start(0)
  const session = new InProcessSession(nameNode, { clusterId: 'test', chunkSize: CHUNK, replicas: 2 }, async () => ({ total: 1 << 30, available: 1 << 29 }))
  const fs = new FileSystem({ meta: session, chunks, chunkSize: CHUNK, dirtyLimit: 64 * CHUNK, owner: { uid: 0, gid: 0 }, log: () => {} })
  return { fs, chunks }
}

afterEach(() => vi.restoreAllMocks())

describe('chunk buffers of a streaming writer', () => {
  it('allocates each chunk past the first at its full size, once', async () => {
    const { fs, chunks } = makeFs()
    const taken: number[] = []
    const take = DirtyBudget.prototype.take
    vi.spyOn(DirtyBudget.prototype, 'take').mockImplementation(function (this: DirtyBudget, bytes: number) {
      taken.push(bytes)
      take.call(this, bytes)
    })
    const stored: Buffer[] = []
    const write = chunks.write.bind(chunks)
    chunks.write = (data: Buffer) => { stored.push(data); return write(data) }

    const data = randomBytes(3 * CHUNK)
    const fh = await fs.create('/stream', 0o644)
    for (let at = 0; at < data.length; at += 128 * 1024) await fs.write(fh, data.subarray(at, at + 128 * 1024), at)
    await fs.release(fh)

    // The first chunk: 128 KiB (the first write), doubled to 1 MiB (three copies); the next two: 1 MiB each, at once.
    expect(taken).toEqual([128 * 1024, 128 * 1024, 256 * 1024, 512 * 1024, CHUNK, CHUNK])
    expect(stored.map(b => b.buffer instanceof SharedArrayBuffer)).toEqual([true, true, true])
  })

  it('lets go of each chunk once its seal has committed, and reads back every byte (the fake scribbles over what it is given back)', async () => {
    const { fs, chunks } = makeFs()
    const data = randomBytes(3 * CHUNK + 1000)
    const fh = await fs.create('/stream', 0o644)
    for (let at = 0; at < data.length; at += 128 * 1024) await fs.write(fh, data.subarray(at, Math.min(data.length, at + 128 * 1024)), at)
    await fs.release(fh)
    expect(chunks.released).toBe(4)
    const back = Buffer.alloc(data.length)
    const rh = await fs.open('/stream', 0)
    expect(await fs.read(rh, back, 0)).toBe(data.length)
    await fs.release(rh)
    expect(back.equals(data)).toBe(true)
  })

  it('zeroes the hole when a write lands past the end of a buffer in recycled memory', async () => {
    const { fs } = makeFs()
    const fh = await fs.create('/holes', 0o644)
    await fs.write(fh, Buffer.alloc(CHUNK, 1), 0)
    // Chunk-sized memory full of 0xff, recycled: the next chunk-sized buffer is this memory, as it is.
    const old = hashableBuffer(CHUNK).fill(0xff)
    holdShared(old)
    recycle(old)
    await new Promise(resolve => setImmediate(resolve))
    const reused = memoryCounts.reused
    await fs.write(fh, Buffer.alloc(10, 2), CHUNK + 1000) // chunk 1: 1000 bytes of hole, then 10 written
    expect(memoryCounts.reused - reused).toBe(1)
    await fs.release(fh)
    const back = Buffer.alloc(CHUNK + 1010)
    const rh = await fs.open('/holes', 0)
    expect(await fs.read(rh, back, 0)).toBe(back.length)
    await fs.release(rh)
    expect(back.subarray(CHUNK, CHUNK + 1000).equals(Buffer.alloc(1000))).toBe(true)
    expect(back.subarray(CHUNK + 1000).equals(Buffer.alloc(10, 2))).toBe(true)
  })
})
