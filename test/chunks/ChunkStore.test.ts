import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { ChunkStore } from '../../src/chunks/ChunkStore.js'
import { sha256 } from '../../src/chunks/verify.js'
import { isDfsError } from '../../src/errors.js'
import { makeCluster, type TestCluster } from './fakes.js'
import { sha256Of } from '../helpers/sha256.js'

describe('ChunkStore', () => {
  let cluster: TestCluster
  afterEach(async () => {
    await cluster?.cleanup()
  })

  async function flip(path: string, at = 0): Promise<void> {
    const bytes = await readFile(path)
    bytes[at] ^= 0xff
    await writeFile(path, bytes)
  }

  describe('write', () => {
    it('stores R=2 copies on distinct nodes, with the id, length and SHA-256 in the ref', async () => {
      cluster = await makeCluster(3)
      const data = randomBytes(64 * 1024)
      const ref = await cluster.store.write(data)
      expect(ref.id).toMatch(/^[0-9a-f]{32}$/)
      expect(ref).toMatchObject({ len: data.length, sha256: await sha256(data) })
      expect(new Set(ref.nodes).size).toBe(2)
      for (let i = 0; i < 3; i++) {
        const listed = ref.nodes.includes(cluster.nodes[i].nodeId)
        expect(existsSync(cluster.chunkPath(i, ref.id))).toBe(listed)
      }
      expect(Buffer.compare(await cluster.store.read(ref), data)).toBe(0)
    })

    it('spreads chunks over all nodes', async () => {
      cluster = await makeCluster(3)
      // Chunk ids are random, so the counts are too: enough chunks that the bounds sit seven standard
      // deviations below the means (90 chunks and bounds three below failed about one run in 500).
      const refs = await Promise.all(Array.from({ length: 900 }, () => cluster.store.write(randomBytes(100))))
      const perNode = cluster.nodes.map((node) => refs.filter((ref) => ref.nodes.includes(node.nodeId)).length)
      // 1,800 copies over 3 nodes: 600 each on average (binomial, sd 14).
      for (const count of perNode) expect(count).toBeGreaterThan(500)
      const firstChoice = cluster.nodes.map((node) => refs.filter((ref) => ref.nodes[0] === node.nodeId).length)
      // First choice: 300 each on average (sd 14).
      for (const count of firstChoice) expect(count).toBeGreaterThan(200)
    })

    it('sends writes elsewhere when a node is full, and marks it full', async () => {
      cluster = await makeCluster(3)
      const full = cluster.nodes[0]
      full.failures.put = 'NODE_FULL'
      for (let i = 0; i < 20; i++) {
        const ref = await cluster.store.write(randomBytes(10))
        expect([...ref.nodes].sort()).toEqual([cluster.nodes[1].nodeId, cluster.nodes[2].nodeId].sort())
      }
      expect(cluster.registry.status(full.nodeId)?.full).toBe(true)
      // Marked full after its first refusal: later writes do not even try it.
      expect(full.calls.put).toBe(1)
      expect(cluster.store.stats.underReplicatedWrites).toBe(0)
    })

    it('fails with NODE_FULL (ENOSPC) when every node is full', async () => {
      cluster = await makeCluster(3)
      for (const node of cluster.nodes) node.failures.put = 'NODE_FULL'
      const err = await cluster.store.write(randomBytes(10)).catch((e: unknown) => e)
      expect(isDfsError(err, 'NODE_FULL')).toBe(true)
      expect((err as { context: { tried: unknown[] } }).context.tried).toHaveLength(3)
      // Now all are marked full: the next write fails the same way without trying any.
      await expect(cluster.store.write(randomBytes(10))).rejects.toMatchObject({ code: 'NODE_FULL' })
    })

    it('fails with NO_NODES when no node can be written to', async () => {
      cluster = await makeCluster(2)
      await rm(cluster.dirs[0], { recursive: true })
      cluster.nodes[1].failures.put = 'NODE_FULL'
      await expect(cluster.store.write(randomBytes(10))).rejects.toMatchObject({ code: 'NO_NODES' })
      expect(cluster.registry.health(cluster.nodes[0].nodeId)).toBe('suspect')
      await expect(cluster.store.write(randomBytes(10))).rejects.toMatchObject({ code: 'NO_NODES' })
    })

    it('fails a write whose bytes changed after hashing with CHUNK_HASH_MISMATCH, blaming no node', async () => {
      cluster = await makeCluster(3)
      const data = randomBytes(1000) // small: hashed at once, on this thread
      const writing = cluster.store.write(data)
      data[0] ^= 1 // the caller breaks its promise not to change the bytes
      await expect(writing).rejects.toMatchObject({ code: 'CHUNK_HASH_MISMATCH' })
      for (const node of cluster.nodes) {
        expect(cluster.registry.health(node.nodeId)).toBe('alive')
        expect(await node.list()).toEqual([])
      }
    })

    it('writes fewer copies when fewer nodes can take them, and counts it', async () => {
      cluster = await makeCluster(2, { replicas: 3 })
      const ref = await cluster.store.write(randomBytes(10))
      expect(ref.nodes).toHaveLength(2)
      expect(cluster.store.stats.underReplicatedWrites).toBe(1)
    })

    it('replaces a node whose folder was deleted, and retries it after the back-off', async () => {
      let now = 0
      cluster = await makeCluster(3, { retryAfterMs: 1000, now: () => now })
      await rm(cluster.dirs[0], { recursive: true })
      const gone = cluster.nodes[0].nodeId
      for (let i = 0; i < 10; i++) {
        const ref = await cluster.store.write(randomBytes(10))
        expect(ref.nodes).toHaveLength(2)
        expect(ref.nodes).not.toContain(gone)
      }
      expect(cluster.registry.health(gone)).toBe('suspect')
      const attempts = cluster.nodes[0].calls.put
      expect(attempts).toBe(1)
      now += 1000
      // After the back-off the node is tried again (and fails again: the folder is still gone).
      for (let i = 0; i < 10 && cluster.nodes[0].calls.put === attempts; i++) await cluster.store.write(randomBytes(10))
      expect(cluster.nodes[0].calls.put).toBe(attempts + 1)
      expect(existsSync(cluster.dirs[0])).toBe(false)
    })

    it('caches what it wrote: reading it back asks no node', async () => {
      cluster = await makeCluster(3, { cacheBytes: 1 << 20 })
      const data = randomBytes(1000)
      const ref = await cluster.store.write(data)
      expect(Buffer.compare(await cluster.store.read(ref), data)).toBe(0)
      expect(cluster.nodes.reduce((sum, node) => sum + node.calls.get, 0)).toBe(0)
    })
  })

  describe('read', () => {
    it('fails over when a replica file is deleted, and reports the bad replica', async () => {
      cluster = await makeCluster(3)
      const data = randomBytes(5000)
      const ref = await cluster.store.write(data)
      const first = cluster.indexOf(ref.nodes[0])
      await unlink(cluster.chunkPath(first, ref.id))
      expect(Buffer.compare(await cluster.store.read(ref), data)).toBe(0)
      expect(cluster.badReplicas).toHaveLength(1)
      expect(cluster.badReplicas[0]).toMatchObject({ ref, nodeId: ref.nodes[0], reason: { code: 'CHUNK_MISSING' } })
      expect(cluster.store.stats.failovers).toBe(1)
      // A missing chunk says nothing about the node's health.
      expect(cluster.registry.health(ref.nodes[0])).toBe('alive')
    })

    it('fails over when a replica’s bytes are flipped (hash mismatch)', async () => {
      cluster = await makeCluster(3)
      const data = randomBytes(5000)
      const ref = await cluster.store.write(data)
      await flip(cluster.chunkPath(cluster.indexOf(ref.nodes[0]), ref.id), 1234)
      expect(Buffer.compare(await cluster.store.read(ref), data)).toBe(0)
      expect(cluster.badReplicas.map((bad) => [bad.nodeId, bad.reason.code])).toEqual([[ref.nodes[0], 'CHUNK_CORRUPT']])
    })

    it('fails over when a truncated replica has the wrong length', async () => {
      cluster = await makeCluster(3)
      const data = randomBytes(5000)
      const ref = await cluster.store.write(data)
      await writeFile(cluster.chunkPath(cluster.indexOf(ref.nodes[0]), ref.id), data.subarray(0, 100))
      expect(Buffer.compare(await cluster.store.read(ref), data)).toBe(0)
      expect(cluster.badReplicas[0].reason.code).toBe('CHUNK_CORRUPT')
    })

    it('reads everything when a whole node folder is rm -rf’d, and marks the node suspect', async () => {
      cluster = await makeCluster(3)
      const chunks = await Promise.all(
        Array.from({ length: 30 }, async () => {
          const data = randomBytes(1000)
          return { data, ref: await cluster.store.write(data) }
        }),
      )
      await rm(cluster.dirs[1], { recursive: true })
      for (const { data, ref } of chunks) expect(Buffer.compare(await cluster.store.read(ref), data)).toBe(0)
      expect(cluster.registry.health(cluster.nodes[1].nodeId)).toBe('suspect')
      expect(cluster.badReplicas.length).toBeGreaterThan(0)
      for (const bad of cluster.badReplicas) expect(bad).toMatchObject({ nodeId: cluster.nodes[1].nodeId, reason: { code: 'NODE_UNAVAILABLE' } })
      // Writes now avoid it.
      const ref = await cluster.store.write(randomBytes(10))
      expect(ref.nodes).not.toContain(cluster.nodes[1].nodeId)
    })

    it('finds a copy on a node the ref does not list', async () => {
      cluster = await makeCluster(3)
      const found: string[] = []
      cluster.store.onReplicaFound = (_ref, nodeId) => found.push(nodeId)
      const data = randomBytes(1000)
      const ref = await cluster.store.write(data)
      const unlisted = cluster.nodes.find((node) => !ref.nodes.includes(node.nodeId))!
      await unlisted.put(ref.id, data, sha256Of(data))
      for (const nodeId of ref.nodes) await cluster.registry.get(nodeId)!.delete(ref.id)
      expect(Buffer.compare(await cluster.store.read(ref), data)).toBe(0)
      expect(found).toEqual([unlisted.nodeId])
      expect(cluster.badReplicas.map((bad) => bad.nodeId).sort()).toEqual([...ref.nodes].sort())
    })

    it('throws CHUNK_UNREADABLE, naming every node tried and why, when no copy is intact', async () => {
      cluster = await makeCluster(3)
      const ref = await cluster.store.write(randomBytes(1000))
      const [a, b] = ref.nodes.map((nodeId) => cluster.indexOf(nodeId))
      await flip(cluster.chunkPath(a, ref.id))
      await unlink(cluster.chunkPath(b, ref.id))
      const err = await cluster.store.read(ref).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'CHUNK_UNREADABLE', context: { chunk: ref.id } })
      const tried = (err as { context: { tried: Array<{ nodeId: string; code: string }> } }).context.tried
      expect(tried.map((t) => [t.nodeId, t.code])).toEqual([
        [ref.nodes[0], 'CHUNK_CORRUPT'],
        [ref.nodes[1], 'CHUNK_MISSING'],
        [cluster.nodes.find((node) => !ref.nodes.includes(node.nodeId))!.nodeId, 'CHUNK_MISSING'],
      ])
      // The daemon stays up and the next read fails the same clean way.
      await expect(cluster.store.read(ref)).rejects.toMatchObject({ code: 'CHUNK_UNREADABLE' })
    })

    it('never returns bytes that do not match the ref', async () => {
      cluster = await makeCluster(2, { cacheBytes: 1 << 20 })
      const ref = await cluster.store.write(randomBytes(1000))
      // A ref that disagrees with the stored bytes, while the real ones are cached and being fetched.
      const forged: ChunkRef = { ...ref, sha256: await sha256(Buffer.from("something else")) }
      await expect(cluster.store.read(forged)).rejects.toMatchObject({ code: 'CHUNK_UNREADABLE' })
      cluster.store.cache.clear()
      for (const node of cluster.nodes) node.getDelayMs = 20
      const [real, fake] = await Promise.allSettled([cluster.store.read(ref), cluster.store.read(forged)])
      expect(real.status).toBe('fulfilled')
      expect(fake).toMatchObject({ status: 'rejected', reason: { code: 'CHUNK_UNREADABLE' } })
      // Every copy damaged: nothing is returned.
      cluster.store.cache.clear()
      for (const nodeId of ref.nodes) await flip(cluster.chunkPath(cluster.indexOf(nodeId), ref.id), 999)
      await expect(cluster.store.read(ref)).rejects.toMatchObject({ code: 'CHUNK_UNREADABLE' })
    })

    it('shares one fetch among concurrent reads of a chunk', async () => {
      cluster = await makeCluster(3)
      const data = randomBytes(2000)
      const ref = await cluster.store.write(data)
      for (const node of cluster.nodes) node.getDelayMs = 20
      const results = await Promise.all(Array.from({ length: 10 }, () => cluster.store.read(ref)))
      for (const result of results) expect(Buffer.compare(result, data)).toBe(0)
      expect(cluster.nodes.reduce((sum, node) => sum + node.calls.get, 0)).toBe(1)
    })

    it('serves repeated reads from the cache', async () => {
      cluster = await makeCluster(3, { cacheBytes: 1 << 20 })
      const data = randomBytes(2000)
      const ref = await cluster.store.write(data)
      cluster.store.cache.clear()
      await cluster.store.read(ref)
      await cluster.store.read(ref)
      await cluster.store.read(ref)
      expect(cluster.nodes.reduce((sum, node) => sum + node.calls.get, 0)).toBe(1)
      expect(cluster.store.stats.cacheHits).toBe(2)
    })

    it('tries a node marked suspect when the live ones fail, and marks it alive when it answers', async () => {
      cluster = await makeCluster(2)
      const data = randomBytes(100)
      const ref = await cluster.store.write(data)
      cluster.registry.markSuspect(ref.nodes[0], 'test')
      await unlink(cluster.chunkPath(cluster.indexOf(ref.nodes[1]), ref.id))
      expect(Buffer.compare(await cluster.store.read(ref), data)).toBe(0)
      expect(cluster.registry.health(ref.nodes[0])).toBe('alive')
    })
  })

  describe('prefetch', () => {
    it('reads into the cache in the background, sharing a fetch already under way', async () => {
      cluster = await makeCluster(3, { cacheBytes: 1 << 20 })
      const data = randomBytes(2000)
      const ref = await cluster.store.write(data)
      cluster.store.cache.clear()
      for (const node of cluster.nodes) node.getDelayMs = 20
      const reading = cluster.store.read(ref)
      await cluster.store.prefetch(ref)
      await reading
      expect(cluster.store.cache.has(ref.id)).toBe(true)
      await cluster.store.prefetch(ref)
      expect(cluster.nodes.reduce((sum, node) => sum + node.calls.get, 0)).toBe(1)
    })

    it('fetches nothing the cache cannot keep (cache off, or a chunk larger than it): a sequential reader prefetches the chunks ahead on every request', async () => {
      for (const cacheBytes of [0, 1000]) {
        if (cacheBytes > 0) await cluster.cleanup()
        cluster = await makeCluster(2, { cacheBytes })
        const ref = await cluster.store.write(randomBytes(2000))
        for (let i = 0; i < 3; i++) await cluster.store.prefetch(ref)
        // Unfixed: each prefetch fetched the chunk and dropped it.
        expect(cluster.nodes.reduce((sum, node) => sum + node.calls.get, 0)).toBe(0)
      }
    })

    it('swallows failures', async () => {
      cluster = await makeCluster(2, { cacheBytes: 1 << 20 })
      const ref = await cluster.store.write(randomBytes(100))
      cluster.store.cache.clear()
      await cluster.store.delete([ref.id])
      await expect(cluster.store.prefetch(ref)).resolves.toBeUndefined()
      expect(cluster.store.cache.has(ref.id)).toBe(false)
    })
  })

  describe('sync', () => {
    it('calls sync once per node with that node’s chunks, all nodes in parallel', async () => {
      cluster = await makeCluster(3)
      const refs = await Promise.all(Array.from({ length: 12 }, () => cluster.store.write(randomBytes(100))))
      await cluster.store.sync(refs)
      for (const node of cluster.nodes) {
        const expected = refs.filter((ref) => ref.nodes.includes(node.nodeId)).map((ref) => ref.id)
        if (expected.length === 0) {
          expect(node.calls.sync).toBe(0)
          continue
        }
        expect(node.calls.sync).toBe(1)
        expect(node.syncedIds[0].sort()).toEqual(expected.sort())
      }
    })

    it('succeeds while every chunk is durable somewhere, reporting the nodes that failed', async () => {
      cluster = await makeCluster(3)
      const refs = await Promise.all(Array.from({ length: 12 }, () => cluster.store.write(randomBytes(100))))
      cluster.nodes[0].failures.sync = 'NODE_UNAVAILABLE'
      await cluster.store.sync(refs)
      const onFailed = refs.filter((ref) => ref.nodes.includes(cluster.nodes[0].nodeId))
      expect(cluster.badReplicas).toHaveLength(onFailed.length)
      expect(cluster.registry.health(cluster.nodes[0].nodeId)).toBe('suspect')
    })

    it('fails when a chunk could be made durable nowhere', async () => {
      cluster = await makeCluster(2)
      const ref = await cluster.store.write(randomBytes(100))
      for (const node of cluster.nodes) node.failures.sync = 'NODE_UNAVAILABLE'
      await expect(cluster.store.sync([ref])).rejects.toMatchObject({ code: 'NODE_UNAVAILABLE', context: { chunk: ref.id } })
      for (const node of cluster.nodes) node.failures.sync = 'NODE_FULL'
      await expect(cluster.store.sync([ref])).rejects.toMatchObject({ code: 'NODE_FULL' })
    })
  })

  describe('delete', () => {
    it('removes copies from every node, orphans included, and drops them from the cache', async () => {
      cluster = await makeCluster(3, { cacheBytes: 1 << 20 })
      const data = randomBytes(100)
      const ref = await cluster.store.write(data)
      const unlisted = cluster.nodes.find((node) => !ref.nodes.includes(node.nodeId))!
      await unlisted.put(ref.id, data, sha256Of(data)) // an orphan left by a failed-over write
      await cluster.store.delete([ref.id])
      for (let i = 0; i < 3; i++) expect(existsSync(cluster.chunkPath(i, ref.id))).toBe(false)
      expect(cluster.store.cache.has(ref.id)).toBe(false)
      await expect(cluster.store.read(ref)).rejects.toMatchObject({ code: 'CHUNK_UNREADABLE' })
    })

    it('ignores missing chunks and does not fail on an unreachable node', async () => {
      cluster = await makeCluster(3)
      const refs = await Promise.all(Array.from({ length: 5 }, () => cluster.store.write(randomBytes(100))))
      await rm(cluster.dirs[2], { recursive: true })
      await cluster.store.delete(refs.map((ref) => ref.id))
      await cluster.store.delete(refs.map((ref) => ref.id))
      for (let i = 0; i < 2; i++) expect(await cluster.nodes[i].list()).toEqual([])
      expect(cluster.store.stats.deleteFailures).toBe(2)
    })

    it('refuses invalid ids before deleting anything', async () => {
      cluster = await makeCluster(2)
      const ref = await cluster.store.write(randomBytes(100))
      await expect(cluster.store.delete([ref.id, '../x'])).rejects.toMatchObject({ code: 'CHUNK_ID_INVALID' })
      expect(await cluster.store.read(ref)).toHaveLength(100)
    })
  })

  it('refuses a replica count below 1', async () => {
    cluster = await makeCluster(1)
    expect(() => new ChunkStore({ registry: cluster.registry, replicas: 0, cacheBytes: 0 })).toThrow(
      expect.objectContaining({ code: 'BAD_ARGUMENT' }),
    )
  })
})
