// Chunk memory on a sequential cold read (ChunkCache, util/sha256.ts recycle): a chunk the store read
// and handed to nobody (only copied out of, readInto) is the cache's alone, and its memory is reused
// by a later read once the cache evicts it, rather than fresh memory mapped, faulted in and zeroed
// for every chunk. A buffer handed out (read()) is never reused under its holder.

import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { hashCounts, hashableBuffer, memoryCounts } from '../../src/util/sha256.js'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { makeCluster, type TestCluster } from './fakes.js'

const CHUNK = 256 * 1024

let cluster: TestCluster | undefined
afterEach(async () => {
  await cluster?.cleanup()
  cluster = undefined
})

/** `count` chunks written to a cluster whose cache holds two, then the cache emptied (a cold reader). */
async function chunks(count: number): Promise<{ c: TestCluster; refs: ChunkRef[]; datas: Buffer[] }> {
  const c = (cluster = await makeCluster(3, { replicas: 2, cacheBytes: 2 * CHUNK }))
  const refs: ChunkRef[] = []
  const datas: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const data = hashableBuffer(CHUNK)
    randomBytes(CHUNK).copy(data)
    datas.push(Buffer.from(data))
    refs.push(await c.store.write(data))
  }
  c.store.cache.clear()
  return { c, refs, datas }
}

function delta<T extends Record<string, number>>(before: T, now: T): T {
  return Object.fromEntries(Object.keys(before).map(k => [k, now[k] - before[k]])) as T
}

describe('chunk memory of a sequential read', () => {
  it('reuses the memory of chunks the cache evicts: 3 fresh buffers for 8 chunks through a cache of 2, none hashed through a copy', async () => {
    const { c, refs, datas } = await chunks(8)
    const memory = { ...memoryCounts }
    const hashes = { ...hashCounts }
    const out = Buffer.alloc(64 * 1024)
    for (const [i, ref] of refs.entries()) {
      // A reader's requests: 64 KiB pieces, each copied out of the chunk's (cached) bytes.
      for (let at = 0; at < CHUNK; at += out.length) {
        expect(await c.store.readInto(ref, at, out, 0, out.length)).toBe(out.length)
        expect(out.equals(datas[i].subarray(at, at + out.length))).toBe(true)
      }
    }
    expect(delta(memory, memoryCounts)).toEqual({ fresh: 3, reused: 5, recycled: 6 })
    expect(delta(hashes, hashCounts)).toEqual({ inline: 0, shared: 8, copied: 0, whileRead: 0 })
    expect(c.store.stats.reads).toBe(8 * (CHUNK / out.length))
  })

  it('never reuses a buffer read() handed out, cached or joined while it was being fetched', async () => {
    const { c, refs, datas } = await chunks(8)
    const held = await c.store.read(refs[0]) // fetched for this caller
    void c.store.prefetch(refs[1])
    const joined = await c.store.read(refs[1]) // joined the prefetch under way
    await c.store.readInto(refs[2], 0, Buffer.alloc(1), 0, 1)
    const cached = await c.store.read(refs[2]) // from the cache
    const memory = { ...memoryCounts }
    for (const ref of refs.slice(3)) await c.store.readInto(ref, 0, Buffer.alloc(1), 0, 1)
    // Refs 1 and 2 (0 went already) are evicted by the reads of 3 and 4 and not recycled: those two
    // and the read of 5 take fresh memory. Only 3, 4 and 5, read by readInto alone, are recycled
    // (6 and 7 reuse 3's and 4's memory).
    expect(delta(memory, memoryCounts)).toEqual({ fresh: 3, reused: 2, recycled: 3 })
    expect(held.equals(datas[0])).toBe(true)
    expect(joined.equals(datas[1])).toBe(true)
    expect(cached.equals(datas[2])).toBe(true)
  })

  it('copies a range clipped to the chunk and verifies what it fetches', async () => {
    const { c, refs, datas } = await chunks(1)
    const out = Buffer.alloc(100)
    expect(await c.store.readInto(refs[0], CHUNK - 40, out, 10, 90)).toBe(40)
    expect(out.subarray(10, 50).equals(datas[0].subarray(CHUNK - 40))).toBe(true)
    c.store.cache.clear()
    const file = c.chunkPath(c.indexOf(refs[0].nodes[0]), refs[0].id)
    const other = c.chunkPath(c.indexOf(refs[0].nodes[1]), refs[0].id)
    const { writeFile } = await import('node:fs/promises')
    await writeFile(file, randomBytes(CHUNK))
    await writeFile(other, randomBytes(CHUNK))
    await expect(c.store.readInto(refs[0], 0, out, 0, 10)).rejects.toMatchObject({ code: 'CHUNK_UNREADABLE' })
  })
})
