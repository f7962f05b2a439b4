// fsck on erasure-coded chunks: each shard is checked against its own SHA-256; a stripe with all
// k + m shards intact is healthy, with k .. k+m-1 readable but degraded, with fewer than k lost; the
// report names the stripe, each bad shard's index and its node. Shards are not orphans. The offline
// repair of stripes is fsckStripeRepair.test.ts; here, one repair of the mixed damage below.

import { rm } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { MIN_SHARD_BYTES, shardLength } from '../../src/chunks/layout.js'
import { fsck } from '../../src/cluster/fsck.js'
import { type HealCluster, makeHealCluster, randomChunk } from './healFixtures.js'
import { addFileOfRefs, shardOf, storeStripe } from './stripeFixtures.js'

let cluster: HealCluster | undefined
afterEach(async () => {
  await cluster?.cleanup()
  cluster = undefined
})

/** A file of three 2+1 stripes: intact, degraded (shard 1 corrupt), lost (shards 0 and 2 missing); and an orphan. */
async function damaged(c: HealCluster) {
  const stripes = [
    await storeStripe(c, randomChunk(30_000), 2, 1, [0, 1, 2]),
    await storeStripe(c, randomChunk(30_000), 2, 1, [0, 1, 2]),
    await storeStripe(c, randomChunk(20_001), 2, 1, [1, 2, 3]),
  ]
  const ino = await addFileOfRefs(c, 'f', stripes)
  await c.flipByte(1, shardOf(c, ino, 1, 1).id)
  await rm(c.chunkPath(1, shardOf(c, ino, 2, 0).id))
  await rm(c.chunkPath(3, shardOf(c, ino, 2, 2).id))
  const orphan = await c.storeOn(randomChunk(500), [3])
  return { ino, stripes, orphan }
}

describe('fsck of stripes', () => {
  it('sorts stripes by intact shards and names each bad shard and its node; shards are not orphans', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const { ino, stripes, orphan } = await damaged(c)
    const report = await fsck(c.cluster, { repair: false })

    expect(report.chunks).toBe(3)
    expect(report.orphans).toEqual([{ node: c.nodes[3].nodeId, chunk: orphan.id }])
    expect(report.badReplicas).toEqual([])
    expect(report.underReplicated.map((p) => p.chunk)).toEqual([stripes[1].id])
    expect(report.lost.map((p) => p.chunk)).toEqual([stripes[2].id])

    const degraded = report.underReplicated[0]
    expect(degraded).toMatchObject({ layout: 'ec:2+1', intact: 2 })
    expect(degraded.bad).toEqual([{ node: c.nodes[1].nodeId, shard: 1, why: expect.stringMatching(/sha|corrupt|SHA/i) }])
    expect(degraded.shards?.map((s) => [s.index, s.id, s.good])).toEqual([
      [0, shardOf(c, ino, 1, 0).id, [c.nodes[0].nodeId]],
      [1, shardOf(c, ino, 1, 1).id, []],
      [2, shardOf(c, ino, 1, 2).id, [c.nodes[2].nodeId]],
    ])
    const lost = report.lost[0]
    expect(lost).toMatchObject({ layout: 'ec:2+1', intact: 1 })
    expect(lost.bad).toEqual([
      { node: c.nodes[1].nodeId, shard: 0, why: 'missing' },
      { node: c.nodes[3].nodeId, shard: 2, why: 'missing' },
    ])
  })

  it('stripes the ChunkStore wrote (ec:2+1 and ec:2+2) check out healthy, with the bytes of every shard counted', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const refs = [
      await c.chunks.write(randomChunk(64 * 1024), { kind: 'ec', k: 2, m: 1 }),
      await c.chunks.write(randomChunk(2 * MIN_SHARD_BYTES + 1000), { kind: 'ec', k: 2, m: 2 }),
      await c.chunks.write(randomChunk(5000)),
      // Under k × 4 KiB: stored as m + 1 = 3 copies (chunkLayout), healthy as such.
      await c.chunks.write(randomChunk(1000), { kind: 'ec', k: 2, m: 2 }),
    ]
    expect(refs[3]).toMatchObject({ copies: 3 })
    await c.chunks.sync(refs)
    await addFileOfRefs(c, 'written', refs)
    let last: { bytes: number } | undefined
    const report = await fsck(c.cluster, { repair: false, onProgress: (p) => { last = p } })
    expect([report.lost, report.underReplicated, report.badReplicas, report.orphans]).toEqual([[], [], [], []])
    expect(last?.bytes).toBe(3 * 32 * 1024 + 4 * shardLength(2 * MIN_SHARD_BYTES + 1000, 2) + 2 * 5000 + 3 * 1000)
  })

  it('the online check (live) looks again and keeps the same verdicts, with no shard an orphan', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const { stripes, orphan } = await damaged(c)
    const report = await fsck(c.cluster, { repair: false, live: true })
    expect(report.orphans).toEqual([{ node: c.nodes[3].nodeId, chunk: orphan.id }])
    expect(report.underReplicated.map((p) => p.chunk)).toEqual([stripes[1].id])
    expect(report.lost.map((p) => p.chunk)).toEqual([stripes[2].id])
    expect(report.badReplicas).toEqual([])
  })

  it('a shard no node lists is named as lost, and the stripe is degraded while k remain', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const stripe = await storeStripe(c, randomChunk(9_000), 2, 1, [0, undefined, 2])
    await addFileOfRefs(c, 'g', [stripe])
    const report = await fsck(c.cluster, { repair: false })
    expect(report.underReplicated.map((p) => [p.chunk, p.intact, p.bad])).toEqual([[stripe.id, 2, [{ node: '-', shard: 1, why: 'lost: no node holds it' }]]])
    expect(report.lost).toEqual([])
  })

  it('counts the bytes of every shard read in its progress', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const stripe = await storeStripe(c, randomChunk(16 * 1024), 2, 1, [0, 1, 2])
    await addFileOfRefs(c, 'h', [stripe])
    let last: { checkedBytes: number; bytes: number } | undefined
    await fsck(c.cluster, { repair: false, onProgress: (p) => { last = p } })
    expect(last).toMatchObject({ checkedBytes: 3 * 8 * 1024, bytes: 3 * 8 * 1024 })
  })

  it('--repair rebuilds the degraded stripe, removes the orphan, and leaves the lost stripe as it was', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const { ino, stripes, orphan } = await damaged(c)
    const lostFiles = () => [0, 1, 2].map((i) => c.holders(shardOf(c, ino, 2, i).id))
    const lostBefore = lostFiles()
    const repair = await fsck(c.cluster, { repair: true })
    expect(repair.repaired).toMatchObject({ orphansRemoved: 1, copied: 0, shardsRebuilt: 1, mapsFixed: 1, failed: [] })
    expect(repair.lost.map((p) => p.chunk)).toEqual([stripes[2].id])
    expect(c.holders(orphan.id)).toEqual([])
    // The degraded stripe's corrupt shard 1 (node 1) rebuilt on node 3, the one node holding none of it.
    expect(shardOf(c, ino, 1, 1).nodes).toEqual([c.nodes[3].nodeId])
    expect(c.holders(shardOf(c, ino, 1, 1).id)).toEqual([3])
    // The lost stripe: every shard file and its map untouched.
    expect(lostFiles()).toEqual(lostBefore)
    expect(c.ref(ino, 2)).toEqual(stripes[2])
    expect(c.ref(ino, 0)).toEqual(stripes[0])
  })
})
