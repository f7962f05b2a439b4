// What a stop (SIGTERM, unmount) may leave behind: the committed size never covers bytes that were
// never stored, and every write acknowledged before the stop is stored by the last flush.

import { randomBytes } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { dfsError, isDfsError } from '../../src/errors.js'
import type { ChunkRef } from '../../src/meta/namespace/types.js'
import { CHUNK, makeFs, readAll } from './fakes.js'

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void
  const opened = new Promise<void>(resolve => { open = resolve })
  return { opened, open }
}

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !what(); i++) await new Promise(resolve => setImmediate(resolve))
  expect(what()).toBe(true)
}

describe('the size a chunk record commits', () => {
  it('stops where bytes still only in memory begin (the next chunk of a cp being written)', async () => {
    const { fs, meta, chunks } = makeFs()
    const held = gate()
    const write = chunks.write.bind(chunks)
    chunks.write = async (data: Buffer) => { await held.opened; return write(data) }

    const data = randomBytes(CHUNK + 3000)
    const fh = await fs.create('/f', 0o644)
    const ino = (await fs.getattr('/f')).ino
    await fs.write(fh, data.subarray(0, CHUNK), 0) // fills chunk 0: it is being stored
    await fs.write(fh, data.subarray(CHUNK), CHUNK) // chunk 1: buffered only
    held.open()
    await until(() => meta.records.some(r => r.op === 'chunk' && r.index === 0))

    // What a crash or a stop now would leave: chunk 0 and a size that ends with it.
    const replayed = meta.replayed().inodes.get(ino)!
    expect(replayed.size).toBe(CHUNK)
    expect(replayed.chunks?.length).toBe(1)

    await fs.flush(fh)
    await fs.release(fh)
    expect(meta.replayed().inodes.get(ino)!.size).toBe(data.length)
    expect((await readAll(fs, '/f')).equals(data)).toBe(true)
  })

  it('stops before the writes a chunk received while it was being stored', async () => {
    const { fs, meta, chunks } = makeFs()
    const held = gate()
    const write = chunks.write.bind(chunks)
    chunks.write = async (d: Buffer) => { await held.opened; return write(d) }

    const fh = await fs.create('/g', 0o644)
    const ino = (await fs.getattr('/g')).ino
    await fs.write(fh, Buffer.alloc(1000, 1), 0)
    const flushing = fs.flush(fh) // chunk 0 (1000 bytes) is being stored
    await fs.write(fh, Buffer.alloc(2000, 2), 1000) // meanwhile the file grows within chunk 0
    held.open()
    await until(() => meta.records.some(r => r.op === 'chunk' && r.index === 0))
    expect(meta.replayed().inodes.get(ino)!.size).toBe(1000)
    await flushing
    await fs.release(fh)
    expect(meta.replayed().inodes.get(ino)!.size).toBe(3000)
    expect((await readAll(fs, '/g')).equals(Buffer.concat([Buffer.alloc(1000, 1), Buffer.alloc(2000, 2)]))).toBe(true)
  })

  it('still covers a hole made by writing past the end', async () => {
    const { fs, meta } = makeFs()
    const fh = await fs.create('/h', 0o644)
    const ino = (await fs.getattr('/h')).ino
    await fs.write(fh, Buffer.alloc(CHUNK, 7), 3 * CHUNK) // chunks 0-2 are a hole
    await until(() => meta.records.some(r => r.op === 'chunk' && r.index === 3))
    expect(meta.replayed().inodes.get(ino)!.size).toBe(4 * CHUNK)
    await fs.release(fh)
  })
})

describe('stopping writes (unmount)', () => {
  it('refuses new writes and truncates, and lets those under way finish before the last flush', async () => {
    const { fs, meta, chunks } = makeFs()
    const first = randomBytes(2 * CHUNK)
    const fh = await fs.create('/f', 0o644)
    await fs.write(fh, first, 0)
    await fs.flush(fh)

    // A write into a stored chunk must first read it: hold that read so the write is under way.
    const held = gate()
    const read = chunks.read.bind(chunks)
    chunks.read = async (ref: ChunkRef) => { await held.opened; return read(ref) }
    const patch = Buffer.alloc(100, 9)
    const writing = fs.write(fh, patch, CHUNK + 10)
    await new Promise(resolve => setImmediate(resolve))

    let stopped = false
    const stopping = fs.stopWrites().then(() => { stopped = true })
    const refused = await fs.write(fh, Buffer.alloc(10), 0).then(() => 'ok', err => (isDfsError(err) ? err.code : String(err)))
    expect(refused).toBe('EIO')
    expect(await fs.ftruncate(fh, 0).then(() => 'ok', err => (isDfsError(err) ? err.code : String(err)))).toBe('EIO')
    expect(await fs.truncate('/f', 0).then(() => 'ok', err => (isDfsError(err) ? err.code : String(err)))).toBe('EIO')
    await new Promise(resolve => setImmediate(resolve))
    expect(stopped).toBe(false) // the write under way is waited for

    held.open()
    expect(await writing).toBe(100)
    await stopping
    await fs.flushAll()
    const expected = Buffer.from(first)
    patch.copy(expected, CHUNK + 10)
    const ino = (await fs.getattr('/f')).ino
    const inode = meta.replayed().inodes.get(ino)!
    expect(inode.size).toBe(2 * CHUNK)
    const stored = Buffer.concat(inode.chunks!.map(ref => chunks.stored.get(ref!.id)!))
    expect(stored.equals(expected)).toBe(true)
  })
})

describe('storing everything buffered (flushAll) when the NameNode does not answer', () => {
  const unavailable = () => dfsError('NAMENODE_UNAVAILABLE', 'the NameNode at tcp://x did not answer within 2 s (commit)', {})

  it('names the file whose bytes it could not commit, and the sync that failed', async () => {
    const { fs, session } = makeFs()
    const fh = await fs.create('/held', 0o644)
    await fs.write(fh, Buffer.alloc(5000, 1), 0)
    session.commit = async () => { throw unavailable() }
    session.sync = async () => { throw dfsError('NAMENODE_UNAVAILABLE', 'no answer (sync)', {}) }

    const report = await fs.flushAll()
    expect(report.unstored).toEqual([expect.objectContaining({ path: '/held', bytes: 5000, code: 'NAMENODE_UNAVAILABLE' })])
    expect(isDfsError(report.unsynced, 'NAMENODE_UNAVAILABLE')).toBe(true)
  })

  it('still names the files when the sync itself fails (it used to throw the list away)', async () => {
    const { fs, session } = makeFs()
    const fh = await fs.create('/held', 0o644)
    await fs.write(fh, Buffer.alloc(5000, 1), 0)
    session.commit = async () => { throw dfsError('ENOSPC', 'no node would take it', {}) }
    session.sync = async () => { throw dfsError('EIO', 'the journal cannot be written', {}) }

    const report = await fs.flushAll()
    expect(report.unstored).toEqual([expect.objectContaining({ path: '/held', bytes: 5000, code: 'ENOSPC' })])
    expect(report.unsynced?.message).toBe('the journal cannot be written')
  })

  it('asks for the sync when a store failed in an outage that has ended and every byte is stored now', async () => {
    vi.useFakeTimers()
    let made: ReturnType<typeof makeFs>
    let fh: number
    let down = true
    try {
      made = makeFs()
      fh = await made.fs.create('/a', 0o644)
      await made.fs.write(fh, Buffer.alloc(5000, 1), 0)
      const commit = made.session.commit.bind(made.session)
      made.session.commit = async (...args: Parameters<typeof commit>) => {
        if (down) throw unavailable()
        return commit(...args)
      }
      await vi.advanceTimersByTimeAsync(7_000) // the background writeback tries, and fails
    } finally {
      vi.useRealTimers()
    }
    const { fs, session, logs } = made
    await until(() => logs.some(line => line.startsWith('storing chunk 0')))
    down = false
    let syncs = 0
    const sync = session.sync.bind(session)
    session.sync = async () => { syncs++; return sync() }

    const report = await fs.flushAll()
    expect(report.unstored).toEqual([])
    expect(report.unsynced).toBeUndefined()
    expect(syncs).toBe(1)
    await fs.release(fh)
  })
})

describe('background writeback once writes stopped', () => {
  it('seals nothing again by itself: only flushAll stores from then on', async () => {
    vi.useFakeTimers()
    try {
      const { fs, session, logs } = makeFs()
      const fh = await fs.create('/held', 0o644)
      await fs.write(fh, Buffer.alloc(5000, 1), 0)
      let commits = 0
      session.commit = async () => { commits++; throw dfsError('NAMENODE_UNAVAILABLE', 'no answer (commit)', {}) }
      await vi.advanceTimersByTimeAsync(7_000)
      expect(commits, 'the writeback tried once').toBe(1)
      await fs.stopWrites()
      await vi.advanceTimersByTimeAsync(60_000)
      expect(commits, logs.join('\n')).toBe(1)
      fs.close()
    } finally {
      vi.useRealTimers()
    }
  })
})

