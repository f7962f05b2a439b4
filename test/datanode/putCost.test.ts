// What a put costs a local-folder node in file system calls, counted (speed itself is a bench
// figure): a large chunk's copy is open, write, rename and close of its temp file, and a stat of an
// earlier copy it may replace, to keep the usage totals. A small chunk makes none of those calls on
// this thread: the folder's writer thread makes them, one message each way (folderWriter.ts), in
// place for a new chunk's copy, beside its name and renamed over it for any other. A sync is one
// message too.

import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { FolderWriter, folderWriterCounts } from '../../src/datanode/folderWriter.js'
import { sha256Of } from '../helpers/sha256.js'
import { TempDirs } from './tempDirs.js'
import { makeCluster } from '../chunks/fakes.js'

// Every counted call, by name, in order (vi.mock factories are hoisted: what they share is too).
const { calls, counted } = vi.hoisted(() => {
  const calls: string[] = []
  const counted = <F extends (...args: never[]) => unknown>(fn: string, f: F) =>
    ((...args: Parameters<F>) => {
      calls.push(fn)
      return f(...args)
    }) as F
  return { calls, counted }
})

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>()
  return {
    ...actual,
    open: counted('open', actual.open),
    stat: counted('stat', actual.stat),
    rename: counted('rename', actual.rename),
    unlink: counted('unlink', actual.unlink),
    link: counted('link', actual.link),
  }
})

// The put's own calls go through the callback API on plain descriptors (src/util/fdCalls.ts).
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>()
  return {
    ...actual,
    open: counted('open', actual.open),
    write: counted('write', actual.write),
    close: counted('close', actual.close),
    rename: counted('rename', actual.rename),
    stat: counted('stat', actual.stat),
    fstat: counted('fstat', actual.fstat),
    fdatasync: counted('fdatasync', actual.fdatasync),
  }
})

/** The calls a put made, once its background close (if any) has happened too. */
async function callsOf(put: () => Promise<void>): Promise<string[]> {
  calls.length = 0
  await put()
  await vi.waitFor(() => expect(calls).toContain('close'))
  return [...calls].sort()
}

describe('LocalFolderNode.put, counted', () => {
  const temp = new TempDirs()
  afterEach(() => temp.cleanup())

  it('stores a large chunk with open, write, rename and close, and a stat of a copy it may replace (even for an id said to be fresh: a TCP client says so on its word)', async () => {
    const node = await LocalFolderNode.open(await temp.make(), { clusterId: 'c', create: true })
    const big = Buffer.alloc(256 * 1024, 3)
    const fresh = newChunkId()
    expect(await callsOf(() => node.put(fresh, big, sha256Of(big), { fresh: true }))).toEqual(['close', 'open', 'rename', 'stat', 'write'])

    const plain = newChunkId()
    expect(await callsOf(() => node.put(plain, big, sha256Of(big)))).toEqual(['close', 'open', 'rename', 'stat', 'write'])

    // A repair over an existing copy keeps the totals right.
    const other = Buffer.alloc(200 * 1024, 4)
    await node.put(plain, other, sha256Of(other))
    expect(await node.usage()).toMatchObject({ chunks: 2, used: big.length + other.length })
    expect((await node.get(plain)).equals(other)).toBe(true)
    expect((await node.get(fresh)).equals(big)).toBe(true)
    await node.close()
  })

  it('stores a small chunk that may replace a copy (a repair\'s, a retry\'s) with no file call on this thread, whole or nothing, and keeps the totals', async () => {
    const node = await LocalFolderNode.open(await temp.make(), { clusterId: 'c', create: true })
    await node.counted
    const before = { ...folderWriterCounts }
    const id = newChunkId()
    const first = Buffer.alloc(4096, 5)
    calls.length = 0
    await node.put(id, first, sha256Of(first))
    expect(calls).toEqual([])
    expect(await node.usage()).toMatchObject({ chunks: 1, used: first.length })
    // Over the existing copy: the thread says how large the file it replaced was.
    const second = Buffer.from('a shorter copy')
    calls.length = 0
    await node.put(id, second, sha256Of(second))
    expect(calls).toEqual([])
    expect(folderWriterCounts.replaced - before.replaced).toBe(2)
    expect(folderWriterCounts.written - before.written).toBe(0)
    expect(await node.usage()).toMatchObject({ chunks: 1, used: second.length })
    expect((await node.get(id)).equals(second)).toBe(true)
    // Nothing is left beside it.
    expect(await readdir(join(node.dir, 'chunks', id.slice(0, 2)))).toEqual([id])
    // Bytes without the carried hash are refused before anything is written: the copy stays.
    await expect(node.put(id, first, sha256Of(second))).rejects.toMatchObject({ code: 'CHUNK_HASH_MISMATCH' })
    expect(folderWriterCounts.replaced - before.replaced).toBe(2)
    expect((await node.get(id)).equals(second)).toBe(true)
    await node.close()
  })

  it('stores a new small chunk with no file call on this thread: one job for the folder\'s writer thread', async () => {
    const node = await LocalFolderNode.open(await temp.make(), { clusterId: 'c', create: true })
    await node.counted // its first count of the chunks lists the folder on this thread
    const data = Buffer.alloc(4096, 9)
    const hash = sha256Of(data)
    const written = folderWriterCounts.written
    calls.length = 0
    const ids = [newChunkId(), newChunkId(), newChunkId()]
    for (const id of ids) await node.put(id, data, hash, { fresh: true })
    expect(calls).toEqual([])
    expect(folderWriterCounts.written - written).toBe(3)
    expect(await node.usage()).toMatchObject({ chunks: 3, used: 3 * 4096 })
    for (const id of ids) expect((await node.get(id)).equals(data)).toBe(true)
    // fsync's point is unchanged: the chunk files and their folders, by path; made by the thread.
    const sync = vi.spyOn(FolderWriter.prototype, 'sync')
    const synced = folderWriterCounts.synced
    calls.length = 0
    await node.sync(ids)
    expect(calls).toEqual([])
    expect(folderWriterCounts.synced - synced).toBe(1)
    const folders = [...new Set(ids.map((id) => join(node.dir, 'chunks', id.slice(0, 2))))]
    expect(sync.mock.calls).toEqual([[[...ids.map((id) => join(node.dir, 'chunks', id.slice(0, 2), id)), ...folders]]])
    sync.mockRestore()
    // Bytes without the carried hash are refused before anything is written.
    await expect(node.put(newChunkId(), data, sha256Of(Buffer.from('x')), { fresh: true })).rejects.toMatchObject({ code: 'CHUNK_HASH_MISMATCH' })
    expect(folderWriterCounts.written - written).toBe(3)
    expect((await node.list()).sort()).toEqual([...ids].sort())
    await node.close()
  })

  it('is told by the chunk store that a new chunk\'s copies are fresh', async () => {
    const put = vi.spyOn(LocalFolderNode.prototype, 'put')
    const cluster = await makeCluster(3)
    try {
      const ref = await cluster.store.write(Buffer.from('a new chunk'))
      expect(put).toHaveBeenCalledTimes(2)
      for (const call of put.mock.calls) expect(call).toEqual([ref.id, expect.any(Buffer), ref.sha256, { fresh: true }])
    } finally {
      put.mockRestore()
      await cluster.cleanup()
    }
  })
})
