// The chunk store in a layout other than the cluster's R copies, on real local-folder nodes: stripes
// (ec:k+m) written as k + m shards on distinct nodes, read back at chunk lengths around the shard
// padding, failing over at write time, refused with no shard left behind when fewer than k nodes take
// one, synced (durable with k shards), prefetched and shared; and replicas:<copies> unlike R.

import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { ChunkStore } from '../../src/chunks/ChunkStore.js'
import { MIN_SHARD_BYTES, shardLength, type Layout } from '../../src/chunks/layout.js'
import { sha256 } from '../../src/chunks/verify.js'
import { DEFAULT_CHUNK_SIZE } from '../../src/cluster/settings.js'
import { posixCodeOf } from '../../src/errors.js'
import { makeCluster, type TestCluster } from './fakes.js'
import { flipByte, loseShard, shardNode, shardPath, shardsOf } from './ecFixtures.js'

let cluster: TestCluster | undefined
afterEach(async () => {
  await cluster?.cleanup()
  cluster = undefined
})

const ec = (k: number, m: number): Layout => ({ kind: 'ec', k, m })
const gets = (c: TestCluster) => c.nodes.reduce((sum, node) => sum + node.calls.get, 0)
const onDisk = (c: TestCluster, id: string) => c.dirs.flatMap((_, i) => (existsSync(c.chunkPath(i, id)) ? [i] : []))
const filesOnNodes = async (c: TestCluster) => (await Promise.all(c.nodes.map((node) => node.inner.list()))).flat()
/** Random data that ec:k+m stores as a stripe: `extra` bytes past k × MIN_SHARD_BYTES (smaller chunks are stored as m + 1 copies). */
const stripeData = (k: number, extra: number) => randomBytes(k * MIN_SHARD_BYTES + extra)

describe('ChunkStore writing a stripe', () => {
  it('stores k + m shards, each with its own id, length and SHA-256, on distinct nodes, and no copy of the chunk', async () => {
    const c = (cluster = await makeCluster(6))
    const data = randomBytes(100_000)
    const ref = await c.store.write(data, ec(4, 2))
    expect(ref).toMatchObject({ len: data.length, sha256: await sha256(data), nodes: [], ec: { k: 4, m: 2 } })
    expect(ref.copies).toBeUndefined()
    const shards = shardsOf(ref)
    expect(shards).toHaveLength(6)
    expect(new Set(shards.map((s) => s.id)).size).toBe(6)
    expect(shards.map((s) => s.id)).not.toContain(ref.id)
    expect(new Set(shards.map((s) => shardNode(ref, shards.indexOf(s)))).size).toBe(6)
    for (const [i, shard] of shards.entries()) {
      expect(shard.len).toBe(shardLength(data.length, 4))
      expect(shard.nodes).toHaveLength(1)
      expect(onDisk(c, shard.id)).toEqual([c.indexOf(shard.nodes[0])])
      if (i < 4) {
        // Data shard i is bytes [i * shardLen, (i + 1) * shardLen) of the chunk, zero padded.
        const part = Buffer.alloc(shard.len)
        data.copy(part, 0, i * shard.len, Math.min(data.length, (i + 1) * shard.len))
        expect(shard.sha256).toBe(await sha256(part))
      }
    }
    expect(onDisk(c, ref.id)).toEqual([])
    c.store.cache.clear()
    expect((await c.store.read(ref)).equals(data)).toBe(true)
  })

  for (const { k, m } of [{ k: 2, m: 1 }, { k: 4, m: 2 }]) {
    // The smallest stripe, lengths around the shard padding, and a full chunk.
    for (const len of [k * MIN_SHARD_BYTES, k * MIN_SHARD_BYTES + 1, k * MIN_SHARD_BYTES + 8 * k + 1, DEFAULT_CHUNK_SIZE - 1, DEFAULT_CHUNK_SIZE]) {
      it(`ec:${k}+${m}: a chunk of ${len} bytes reads back byte-perfect, intact and with data shard 0 lost`, async () => {
        const c = (cluster = await makeCluster(k + m))
        const data = randomBytes(len)
        const ref = await c.store.write(data, ec(k, m))
        for (const shard of shardsOf(ref)) expect(shard.len).toBe(shardLength(len, k))
        expect((await c.store.read(ref)).equals(data)).toBe(true) // from the cache
        c.store.cache.clear()
        expect((await c.store.read(ref)).equals(data)).toBe(true)
        c.store.cache.clear()
        await loseShard(c, ref, 0, 'deleted')
        expect((await c.store.read(ref)).equals(data)).toBe(true)
        expect(c.badReplicas.map((bad) => bad.nodeId)).toEqual([shardNode(ref, 0)])
      })
    }
  }

  it('reads only the k data shards when they are intact', async () => {
    const c = (cluster = await makeCluster(6))
    const data = stripeData(4, 10_000)
    const ref = await c.store.write(data, ec(4, 2))
    c.store.cache.clear()
    await c.store.read(ref)
    for (const [i, shard] of shardsOf(ref).entries()) expect(c.nodes[c.indexOf(shard.nodes[0])].calls.get).toBe(i < 4 ? 1 : 0)
    expect(c.store.stats.failovers).toBe(0)
  })

  it('caches the whole chunk: reading it back asks no node', async () => {
    const c = (cluster = await makeCluster(3, { cacheBytes: 1 << 20 }))
    const data = stripeData(2, 1000)
    const ref = await c.store.write(data, ec(2, 1))
    expect((await c.store.read(ref)).equals(data)).toBe(true)
    expect(gets(c)).toBe(0)
    expect(c.store.cache.has(ref.id)).toBe(true)
  })

  it('replaces a node whose put fails with the next candidate', async () => {
    const c = (cluster = await makeCluster(4))
    const failing = c.nodes[0]
    failing.failures.put = 'NODE_UNAVAILABLE'
    const under: ChunkRef[] = []
    c.store.onUnderReplicated = (ref) => under.push(ref)
    // Until a write has picked the failing node among its first three.
    let ref: ChunkRef | undefined
    for (let i = 0; i < 30 && failing.calls.put === 0; i++) ref = await c.store.write(stripeData(2, 500), ec(2, 1))
    expect(failing.calls.put).toBe(1)
    const nodes = shardsOf(ref!).map((shard) => shard.nodes[0])
    expect(new Set(nodes).size).toBe(3)
    expect(nodes).not.toContain(failing.nodeId)
    expect(under).toEqual([])
    expect(c.registry.health(failing.nodeId)).toBe('suspect')
  })

  it('with fewer than k nodes taking a shard, fails with NO_NODES (EIO) and leaves no shard behind', async () => {
    const c = (cluster = await makeCluster(6))
    for (const node of c.nodes.slice(3)) node.failures.put = 'NODE_UNAVAILABLE'
    const err = await c.store.write(stripeData(4, 5000), ec(4, 2)).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NO_NODES', context: { k: 4, m: 2, shards: 3 } })
    expect(posixCodeOf(err)).toBe('EIO')
    expect((err as Error).message).toMatch(/got 3 of 6 shards, fewer than the 4 of ec:4\+2/)
    expect(await filesOnNodes(c)).toEqual([])
    expect(c.store.stats.writes).toBe(0)
  })

  it('with the other nodes full, fails with NODE_FULL (ENOSPC), leaving nothing; a NameNode client abandons the shards instead', async () => {
    const c = (cluster = await makeCluster(3))
    c.nodes[1].failures.put = 'NODE_FULL'
    c.nodes[2].failures.put = 'NODE_FULL'
    const err = await c.store.write(stripeData(2, 5000), ec(2, 1)).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NODE_FULL' })
    expect(posixCodeOf(err)).toBe('ENOSPC')
    expect(await filesOnNodes(c)).toEqual([])

    const abandoned: string[] = []
    const client = new ChunkStore({ registry: c.registry, replicas: 2, cacheBytes: 0, abandon: (id) => abandoned.push(id) })
    await expect(client.write(stripeData(2, 5000), ec(2, 1))).rejects.toMatchObject({ code: 'NODE_FULL' })
    // Left for the NameNode to delete: the one shard stored, handed over by its id.
    expect(abandoned).toEqual(await filesOnNodes(c))
    expect(abandoned).toHaveLength(1)
  })

  it('with k to k+m-1 nodes taking a shard, succeeds with the rest unplaced, and hands the stripe to onUnderReplicated', async () => {
    const c = (cluster = await makeCluster(6))
    const under: ChunkRef[] = []
    c.store.onUnderReplicated = (ref) => under.push(ref)
    c.nodes[5].failures.put = 'NODE_FULL'
    const data = stripeData(4, 5000)
    const ref = await c.store.write(data, ec(4, 2))
    expect(under).toEqual([ref])
    expect(c.store.stats.underReplicatedWrites).toBe(1)
    const placed = shardsOf(ref).filter((shard) => shard.nodes.length === 1)
    expect(placed).toHaveLength(5)
    const unplaced = shardsOf(ref).find((shard) => shard.nodes.length === 0)!
    expect(unplaced.sha256).toMatch(/^[0-9a-f]{64}$/) // what the healer must rebuild
    c.store.cache.clear()
    expect((await c.store.read(ref)).equals(data)).toBe(true)
  })

  it('marks every shard id as being written until the write returns (orphan collection leaves them alone)', async () => {
    const c = (cluster = await makeCluster(3))
    const seen: boolean[] = []
    const node = c.nodes[0]
    const put = node.put.bind(node)
    node.put = async (id, data, hash, hint) => {
      seen.push(c.store.isWriting(id))
      return put(id, data, hash, hint)
    }
    const ref = await c.store.write(stripeData(2, 100), ec(2, 1))
    expect(seen).toEqual([true])
    for (const shard of shardsOf(ref)) expect(c.store.isWriting(shard.id)).toBe(false)
  })

  it('refuses a layout it cannot write, before touching any node', async () => {
    const c = (cluster = await makeCluster(3))
    for (const layout of [ec(0, 1), ec(2, 0), ec(25, 1), ec(2, 7), { kind: 'replicas', copies: 0 } as const]) {
      await expect(c.store.write(randomBytes(10), layout)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
    }
    expect(c.nodes.reduce((sum, node) => sum + node.calls.put, 0)).toBe(0)
  })
})

describe('ChunkStore writing a small chunk under an ec policy', () => {
  // Under k × MIN_SHARD_BYTES its k + m shards would each take a filesystem block: m + 1 copies instead.
  it('stores a chunk of k × 4 KiB - 1 bytes under ec:2+1 as 2 copies, no copies field when that is the cluster R', async () => {
    const c = (cluster = await makeCluster(3, { replicas: 2 }))
    const data = randomBytes(2 * MIN_SHARD_BYTES - 1)
    const ref = await c.store.write(data, ec(2, 1))
    expect(ref.ec).toBeUndefined()
    expect(ref.copies).toBeUndefined()
    expect(new Set(ref.nodes).size).toBe(2)
    expect(onDisk(c, ref.id).map((i) => c.nodes[i].nodeId).sort()).toEqual([...ref.nodes].sort())
    expect(await filesOnNodes(c)).toHaveLength(2)
    c.store.cache.clear()
    expect((await c.store.read(ref)).equals(data)).toBe(true)
    // One byte more is a stripe.
    expect((await c.store.write(randomBytes(2 * MIN_SHARD_BYTES), ec(2, 1))).ec).toMatchObject({ k: 2, m: 1 })
  })

  it('records copies in the ref when m + 1 is not the cluster R', async () => {
    const c = (cluster = await makeCluster(3, { replicas: 3 }))
    const ref = await c.store.write(randomBytes(100), ec(2, 1))
    expect(ref).toMatchObject({ copies: 2 })
    expect(ref.ec).toBeUndefined()
    expect(new Set(ref.nodes).size).toBe(2)
    const empty = await c.store.write(Buffer.alloc(0), ec(2, 1))
    expect(empty).toMatchObject({ copies: 2, len: 0 })
    expect(empty.ec).toBeUndefined()
  })
})

describe('ChunkStore reading a stripe', () => {
  it('rebuilds within the same call, then checks the chunk’s own SHA-256', async () => {
    const c = (cluster = await makeCluster(3))
    const data = stripeData(2, 4000)
    const ref = await c.store.write(data, ec(2, 1))
    c.store.cache.clear()
    // A ref whose chunk hash disagrees with its shards (a bug that wrote it): the fast path never
    // rebuilds, so it joins the verified data shards; a rebuild checks the chunk hash and refuses.
    const forged: ChunkRef = { ...ref, sha256: await sha256(Buffer.from('other')) }
    await loseShard(c, ref, 1, 'corrupt')
    const err = await c.store.read(forged).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'CHUNK_UNREADABLE', message: expect.stringMatching(/rebuilt from shards 0, 2 fails its SHA-256 check/) })
    expect((await c.store.read(ref)).equals(data)).toBe(true)
  })

  it('finds a shard on a node its ref does not list, only after the listed shards leave fewer than k', async () => {
    const c = (cluster = await makeCluster(4))
    const found: Array<[string, number | undefined]> = []
    c.store.onReplicaFound = (_ref, nodeId, shard) => found.push([nodeId, shard])
    const data = stripeData(2, 3000)
    const ref = await c.store.write(data, ec(2, 1))
    c.store.cache.clear()
    const stray = c.nodes.find((node) => !shardsOf(ref).some((shard) => shard.nodes.includes(node.nodeId)))!
    // Shard 0 moved to the fourth node (a rebuild interrupted before its record): parity still rebuilds it.
    const shard0 = shardsOf(ref)[0]
    await stray.inner.put(shard0.id, await c.nodes[c.indexOf(shardNode(ref, 0))].inner.get(shard0.id), shard0.sha256)
    await loseShard(c, ref, 0, 'deleted')
    expect((await c.store.read(ref)).equals(data)).toBe(true)
    expect(stray.calls.get).toBe(0)
    expect(found).toEqual([])
    // Parity gone too: only the stray copy makes k.
    c.store.cache.clear()
    await loseShard(c, ref, 2, 'corrupt')
    expect((await c.store.read(ref)).equals(data)).toBe(true)
    expect(found).toEqual([[stray.nodeId, 0]])
  })

  it('shares one fetch among concurrent reads and a prefetch, and caches the chunk', async () => {
    const c = (cluster = await makeCluster(6, { cacheBytes: 1 << 20 }))
    const data = stripeData(4, 8000)
    const ref = await c.store.write(data, ec(4, 2))
    c.store.cache.clear()
    for (const node of c.nodes) node.getDelayMs = 20
    const reads = Array.from({ length: 5 }, () => c.store.read(ref))
    await c.store.prefetch(ref)
    for (const back of await Promise.all(reads)) expect(back.equals(data)).toBe(true)
    expect(gets(c)).toBe(4)
    expect(c.store.cache.has(ref.id)).toBe(true)
    await c.store.prefetch(ref)
    expect((await c.store.read(ref)).equals(data)).toBe(true)
    expect(gets(c)).toBe(4)
  })

  it('prefetch swallows an unreadable stripe', async () => {
    const c = (cluster = await makeCluster(3, { cacheBytes: 1 << 20 }))
    const ref = await c.store.write(stripeData(2, 100), ec(2, 1))
    c.store.cache.clear()
    await loseShard(c, ref, 0, 'deleted')
    await flipByte(shardPath(c, ref, 1))
    await expect(c.store.prefetch(ref)).resolves.toBeUndefined()
    expect(c.store.cache.has(ref.id)).toBe(false)
  })
})

describe('ChunkStore syncing a stripe', () => {
  it('syncs each shard id on its node, once per node', async () => {
    const c = (cluster = await makeCluster(6))
    const refs = await Promise.all(Array.from({ length: 4 }, () => c.store.write(stripeData(4, 300), ec(4, 2))))
    await c.store.sync(refs)
    for (const node of c.nodes) {
      const expected = refs.flatMap((ref) => shardsOf(ref).filter((shard) => shard.nodes.includes(node.nodeId)).map((shard) => shard.id))
      expect(node.syncedIds).toEqual([expect.arrayContaining(expected)])
      expect(node.syncedIds[0]).toHaveLength(expected.length)
    }
  })

  it('is durable with k shards durable (reporting the rest), and fails with fewer', async () => {
    const c = (cluster = await makeCluster(6))
    const ref = await c.store.write(stripeData(4, 300), ec(4, 2))
    const [a, b, d] = [4, 5, 0].map((i) => c.nodes[c.indexOf(shardNode(ref, i))])
    a.failures.sync = 'NODE_UNAVAILABLE'
    b.failures.sync = 'NODE_UNAVAILABLE'
    await c.store.sync([ref])
    expect(c.badReplicas.map((bad) => bad.nodeId).sort()).toEqual([a.nodeId, b.nodeId].sort())
    for (const bad of c.badReplicas) expect(bad.ref).toBe(ref)
    d.failures.sync = 'NODE_FULL'
    const err = await c.store.sync([ref]).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NODE_UNAVAILABLE', context: { chunk: ref.id, k: 4, m: 2 } })
    expect((err as Error).message).toMatch(/durable on 3 shards, fewer than the 4 of ec:4\+2/)
  })
})

describe('ChunkStore writing replicas:<copies> unlike R', () => {
  it('writes 3 copies on 4 nodes with cluster R = 2, and records copies in the ref', async () => {
    const c = (cluster = await makeCluster(4, { replicas: 2 }))
    const data = randomBytes(2000)
    const ref = await c.store.write(data, { kind: 'replicas', copies: 3 })
    expect(ref.copies).toBe(3)
    expect(new Set(ref.nodes).size).toBe(3)
    expect(onDisk(c, ref.id).map((i) => c.nodes[i].nodeId).sort()).toEqual([...ref.nodes].sort())
    c.store.cache.clear()
    expect((await c.store.read(ref)).equals(data)).toBe(true)
    // The cluster's R, said or not: no copies field.
    expect((await c.store.write(data, { kind: 'replicas', copies: 2 })).copies).toBeUndefined()
    expect((await c.store.write(data)).copies).toBeUndefined()
  })

  it('counts fewer copies than the layout wants as under-replicated', async () => {
    const c = (cluster = await makeCluster(4, { replicas: 2 }))
    const under: ChunkRef[] = []
    c.store.onUnderReplicated = (ref) => under.push(ref)
    c.nodes[3].failures.put = 'NODE_FULL'
    c.nodes[2].failures.put = 'NODE_FULL'
    const ref = await c.store.write(randomBytes(100), { kind: 'replicas', copies: 3 })
    expect(ref.nodes).toHaveLength(2)
    expect(under).toEqual([ref])
  })

  it('a directory of replicas:1 writes and syncs one copy even with --min-copies 2', async () => {
    const c = (cluster = await makeCluster(3, { replicas: 2, minCopies: 2 }))
    const ref = await c.store.write(randomBytes(100), { kind: 'replicas', copies: 1 })
    expect(ref).toMatchObject({ copies: 1, nodes: [expect.any(String)] })
    await expect(c.store.sync([ref])).resolves.toBeUndefined()
    c.nodes[c.indexOf(ref.nodes[0])].failures.sync = 'NODE_UNAVAILABLE'
    await expect(c.store.sync([ref])).rejects.toMatchObject({ code: 'NODE_UNAVAILABLE' })
  })
})
