// The order a stripe's shards are read in (src/chunks/erasure/readStripe.ts): shards on nodes in
// better health first, data before parity among equals; each failed shard made up by exactly one
// more, not by reading every parity shard; gatherShards usable on its own (what a rebuild needs).

import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../../src/chunks/ChunkRef.js'
import { gatherShards, readStripe } from '../../../src/chunks/erasure/readStripe.js'
import { encodeStripe } from '../../../src/chunks/erasure/stripe.js'
import { MIN_SHARD_BYTES } from '../../../src/chunks/layout.js'
import { sha256 } from '../../../src/chunks/verify.js'
import { newChunkId } from '../../../src/datanode/chunkId.js'
import { healthRank } from '../../../src/chunks/readReplicas.js'
import { makeCluster, type TestCluster } from '../fakes.js'
import { loseShard, shardNode, shardsOf } from '../ecFixtures.js'

let cluster: TestCluster | undefined
afterEach(async () => {
  await cluster?.cleanup()
  cluster = undefined
})

const getsByShard = (c: TestCluster, ref: Parameters<typeof shardsOf>[0]) => shardsOf(ref).map((_, i) => c.nodes[c.indexOf(shardNode(ref, i))].calls.get)

describe('readStripe', () => {
  it('reads a parity shard rather than a data shard on a suspect node', async () => {
    const c = (cluster = await makeCluster(6))
    const data = randomBytes(4 * MIN_SHARD_BYTES + 6000)
    const ref = await c.store.write(data, { kind: 'ec', k: 4, m: 2 })
    c.registry.markSuspect(shardNode(ref, 1), 'test')
    const sources = { nodeOf: (id: string) => c.registry.get(id), rank: (id: string) => healthRank(c.registry, id) }
    const read = await readStripe(ref, sources)
    expect(read.data.equals(data)).toBe(true)
    expect(read.rebuilt).toBe(true)
    expect(getsByShard(c, ref)).toEqual([1, 0, 1, 1, 1, 0])
  })

  it('makes up each failed shard with one more read', async () => {
    const c = (cluster = await makeCluster(6))
    const data = randomBytes(4 * MIN_SHARD_BYTES + 6000)
    const ref = await c.store.write(data, { kind: 'ec', k: 4, m: 2 })
    await loseShard(c, ref, 2, 'deleted')
    await loseShard(c, ref, 4, 'corrupt')
    const failures: Array<[number, string, boolean]> = []
    const read = await readStripe(ref, { nodeOf: (id) => c.registry.get(id) }, { onFailure: (shard, _node, error, listed) => failures.push([shard, error.code, listed]) })
    expect(read.data.equals(data)).toBe(true)
    expect(failures).toEqual([[2, 'CHUNK_MISSING', true], [4, 'CHUNK_CORRUPT', true]])
    // Round 1: data 0..3; round 2: parity 4 (one missing); round 3: parity 5 (4 was bad).
    expect(getsByShard(c, ref)).toEqual([1, 1, 1, 1, 1, 1])
    expect(read.from.map((nodeId) => nodeId !== undefined)).toEqual([true, true, false, true, false, true])
  })

  it('gathers k intact shards, enough for a rebuild of the others', async () => {
    const c = (cluster = await makeCluster(3))
    const ref = await c.store.write(randomBytes(2 * MIN_SHARD_BYTES + 100), { kind: 'ec', k: 2, m: 1 })
    await loseShard(c, ref, 0, 'deleted')
    const gathered = await gatherShards(ref, { nodeOf: (id) => c.registry.get(id) })
    expect(gathered.shards.map(Boolean)).toEqual([false, true, true])
    expect(gathered.failures).toMatchObject([{ shard: 0, id: shardsOf(ref)[0].id, nodeId: shardNode(ref, 0), code: 'CHUNK_MISSING' }])
  })

  it('reads back an empty chunk', async () => {
    // The store no longer stripes a chunk this small (chunkLayout), but a stripe written before that
    // rule must still read: made by hand, each shard put on its own node.
    const c = (cluster = await makeCluster(3))
    const shards = await encodeStripe(Buffer.alloc(0), 2, 1)
    const shardRefs = await Promise.all(
      shards.map(async (bytes, i) => {
        const shard = { id: newChunkId(), len: bytes.length, sha256: await sha256(bytes), nodes: [c.nodes[i].nodeId] }
        await c.nodes[i].put(shard.id, bytes, shard.sha256)
        return shard
      }),
    )
    const ref: ChunkRef = { id: newChunkId(), len: 0, sha256: await sha256(Buffer.alloc(0)), nodes: [], ec: { k: 2, m: 1, shards: shardRefs } }
    for (const shard of shardsOf(ref)) expect(shard.len).toBe(8)
    expect((await readStripe(ref, { nodeOf: (id) => c.registry.get(id) })).data).toHaveLength(0)
  })
})
