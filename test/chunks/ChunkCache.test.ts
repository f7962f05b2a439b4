import { describe, expect, it } from 'vitest'
import { ChunkCache } from '../../src/chunks/ChunkCache.js'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { hashableBuffer, memoryCounts } from '../../src/util/sha256.js'

// The cache only checks the recorded hash string, so tests can use any label as the 'hash'.
const ref = (id: string, len = 0) => ({ id, len, sha256: 'h' })

describe('ChunkCache', () => {
  it('stays within its byte budget, evicting the least recently used', () => {
    const cache = new ChunkCache(1000)
    const ids = Array.from({ length: 10 }, newChunkId)
    for (const id of ids.slice(0, 3)) cache.set(ref(id), Buffer.alloc(300, 1))
    cache.get(ref(ids[0], 300)) // ids[1] is now the least recently used
    cache.set(ref(ids[3]), Buffer.alloc(300, 2))
    expect(cache.bytes).toBeLessThanOrEqual(1000)
    expect(cache.has(ids[0])).toBe(true)
    expect(cache.has(ids[1])).toBe(false)
    for (const id of ids.slice(4)) cache.set(ref(id), Buffer.alloc(250))
    expect(cache.bytes).toBeLessThanOrEqual(1000)
    expect(cache.size).toBe(4)
  })

  it('does not store a chunk larger than the whole cache', () => {
    const cache = new ChunkCache(100)
    cache.set(ref(newChunkId()), Buffer.alloc(101))
    expect(cache.size).toBe(0)
  })

  it('holds empty chunks', () => {
    const cache = new ChunkCache(100)
    const id = newChunkId()
    cache.set(ref(id), Buffer.alloc(0))
    expect(cache.get(ref(id, 0))?.length).toBe(0)
  })

  it('is off with a budget of 0', () => {
    const cache = new ChunkCache(0)
    const id = newChunkId()
    cache.set(ref(id), Buffer.from('x'))
    expect(cache.get(ref(id, 1))).toBeUndefined()
    expect(cache.bytes).toBe(0)
  })

  it('copies a view into a larger buffer instead of pinning the whole of it', () => {
    const cache = new ChunkCache(1 << 20)
    const big = Buffer.alloc(1 << 20, 7)
    const id = newChunkId()
    cache.set(ref(id), big.subarray(0, 10))
    big.fill(0)
    const cached = cache.get(ref(id, 10))!
    expect(cached.buffer.byteLength).toBe(10)
    expect([...cached]).toEqual(Array(10).fill(7))
  })

  it('misses when the ref asks for other bytes than were cached under that id', () => {
    const cache = new ChunkCache(100)
    const id = newChunkId()
    cache.set({ id, sha256: 'aaaa' }, Buffer.from('abc'))
    expect(cache.get({ id, len: 3, sha256: 'aaaa' })?.toString()).toBe('abc')
    expect(cache.get({ id, len: 3, sha256: 'bbbb' })).toBeUndefined()
    expect(cache.get({ id, len: 4, sha256: 'aaaa' })).toBeUndefined()
  })

  it('drops deleted entries', () => {
    const cache = new ChunkCache(100)
    const id = newChunkId()
    cache.set(ref(id), Buffer.from('x'))
    cache.delete(id)
    expect(cache.has(id)).toBe(false)
  })

  it('recycles a written chunk its writer let go of (adopt) when it leaves, but not one handed out meanwhile', () => {
    const KiB64 = 64 * 1024
    const cache = new ChunkCache(2 * KiB64)
    const [written, lent, later] = [newChunkId(), newChunkId(), newChunkId()]
    const a = hashableBuffer(KiB64)
    const b = hashableBuffer(KiB64)
    cache.set(ref(written), a)
    cache.set(ref(lent), b)
    expect(cache.get(ref(lent, KiB64))).toBe(b) // a reader holds b now
    cache.adopt(ref(written), a)
    cache.adopt(ref(lent), b)
    cache.adopt(ref(written), Buffer.alloc(KiB64)) // other bytes under that id: ignored
    const before = memoryCounts.recycled
    cache.set(ref(later), hashableBuffer(2 * KiB64)) // both leave
    expect(cache.has(written) || cache.has(lent)).toBe(false)
    expect(memoryCounts.recycled - before).toBe(1)
  })
})
