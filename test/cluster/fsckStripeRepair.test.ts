// fsck --repair (offline) on stripes, through the healer's own rebuild (src/cluster/rebuildStripe.ts):
// a degraded stripe's missing, corrupt or unplaced shard is rebuilt from k verified ones onto a node
// holding no shard of the stripe (or back onto its own node when no other can take it), its node
// recorded, and a corrupt copy removed once replaced; a stripe with fewer than k intact shards is
// reported lost and nothing of it is touched.

import { rm } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { fsck } from '../../src/cluster/fsck.js'
import { type HealCluster, makeHealCluster, randomChunk } from './healFixtures.js'
import { addFileOfRefs, shardOf, storeStripe } from './stripeFixtures.js'

let cluster: HealCluster | undefined
afterEach(async () => {
  await cluster?.cleanup()
  cluster = undefined
})

/** One file of one 2+1 stripe on nodes 0, 1, 2 of c. */
async function oneStripe(c: HealCluster, on = [0, 1, 2], k = 2, m = 1) {
  const data = randomChunk(40_001)
  const stripe = await storeStripe(c, data, k, m, on)
  const ino = await addFileOfRefs(c, 'f', [stripe])
  return { data, stripe, ino }
}

/** The check after a repair finds nothing wrong, and the stripe reads back as written. */
async function expectWhole(c: HealCluster, ino: number, data: Buffer) {
  const after = await fsck(c.cluster, { repair: false })
  expect([after.lost, after.underReplicated, after.badReplicas, after.orphans]).toEqual([[], [], [], []])
  expect((await c.chunks.read(c.ref(ino, 0))).equals(data)).toBe(true)
}

/** The node folder of node i cannot be opened: as openCluster({ skipUnavailable }) leaves it for fsck. */
async function folderGone(c: HealCluster, i: number) {
  const node = c.nodes[i]
  c.registry.remove(node.nodeId)
  await node.close()
  await rm(c.dirs[i], { recursive: true, force: true })
  c.cluster.unavailable.push({ address: c.dirs[i], nodeId: node.nodeId, error: 'no such folder' })
}

const shardNodes = (ref: ChunkRef) => ref.ec!.shards.map((s) => s.nodes)

describe('fsck --repair of stripes (offline)', () => {
  it('rebuilds a deleted shard file onto the node holding no shard of the stripe', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const { data, stripe, ino } = await oneStripe(c)
    await rm(c.chunkPath(1, shardOf(c, ino, 0, 1).id))
    const repair = await fsck(c.cluster, { repair: true })
    expect(repair.repaired).toMatchObject({ shardsRebuilt: 1, mapsFixed: 1, copied: 0, failed: [] })
    expect(shardNodes(c.ref(ino, 0))).toEqual([[c.nodes[0].nodeId], [c.nodes[3].nodeId], [c.nodes[2].nodeId]])
    expect(c.holders(stripe.ec!.shards[1].id)).toEqual([3])
    await expectWhole(c, ino, data)
  })

  it('replaces a corrupt shard: rebuilt elsewhere, the corrupt copy removed', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const { data, stripe, ino } = await oneStripe(c)
    await c.flipByte(2, stripe.ec!.shards[2].id)
    const repair = await fsck(c.cluster, { repair: true })
    expect(repair.repaired).toMatchObject({ shardsRebuilt: 1, mapsFixed: 1, failed: [] })
    expect(shardOf(c, ino, 0, 2).nodes).toEqual([c.nodes[3].nodeId])
    expect(c.holders(stripe.ec!.shards[2].id)).toEqual([3])
    await expectWhole(c, ino, data)
  })

  it('replaces a corrupt shard on its own node when every other node holds a shard of the stripe', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const { data, stripe, ino } = await oneStripe(c)
    await c.flipByte(1, stripe.ec!.shards[1].id)
    const repair = await fsck(c.cluster, { repair: true })
    expect(repair.repaired).toMatchObject({ shardsRebuilt: 1, failed: [] })
    expect(shardNodes(c.ref(ino, 0))).toEqual(shardNodes(stripe))
    expect(c.holders(stripe.ec!.shards[1].id)).toEqual([1])
    await expectWhole(c, ino, data)
  })

  it('a node folder gone: its shard rebuilt onto a node holding none of the stripe', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const { data, stripe, ino } = await oneStripe(c)
    await folderGone(c, 1)
    const repair = await fsck(c.cluster, { repair: true })
    expect(repair.repaired).toMatchObject({ shardsRebuilt: 1, mapsFixed: 1, failed: [] })
    expect(shardOf(c, ino, 0, 1).nodes).toEqual([c.nodes[3].nodeId])
    expect(c.holders(stripe.ec!.shards[1].id)).toEqual([3])
    expect((await c.chunks.read(c.ref(ino, 0))).equals(data)).toBe(true)
    const after = await fsck(c.cluster, { repair: false })
    expect([after.lost, after.underReplicated, after.badReplicas]).toEqual([[], [], []])
  })

  it('every chunk file of a node gone: its shard rebuilt back onto that node when no other node can take it', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const { data, stripe, ino } = await oneStripe(c)
    await rm(c.chunkPath(0, stripe.ec!.shards[0].id)) // the one chunk file node 0 held
    const repair = await fsck(c.cluster, { repair: true })
    expect(repair.repaired).toMatchObject({ shardsRebuilt: 1, failed: [] })
    expect(shardNodes(c.ref(ino, 0))).toEqual(shardNodes(stripe))
    expect(c.holders(stripe.ec!.shards[0].id)).toEqual([0])
    await expectWhole(c, ino, data)
  })

  it('a node folder gone and no node to take its shard: reported not repaired, nothing changed or deleted', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const { stripe, ino } = await oneStripe(c)
    await folderGone(c, 2)
    const repair = await fsck(c.cluster, { repair: true })
    expect(repair.underReplicated.map((p) => p.chunk)).toEqual([stripe.id])
    expect(repair.repaired).toMatchObject({ shardsRebuilt: 0, mapsFixed: 0 })
    expect(repair.repaired?.failed).toEqual([
      `/f chunk 0: ec:2+1 stripe: shard 2 (on ${c.nodes[2].nodeId}) not rebuilt: no writable node holding no shard of the stripe could take it (an ec:2+1 stripe needs 3 nodes; 2 are writable)`,
    ])
    expect(c.ref(ino, 0)).toEqual(stripe)
    expect([0, 1].map((i) => c.holders(stripe.ec!.shards[i].id))).toEqual([[0], [1]])
  })

  it('a stripe with m + 1 shards bad is reported lost and left untouched: no shard deleted, no map changed', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 5, replicas: 2 }))
    const { stripe, ino } = await oneStripe(c, [0, 1, 2, 3], 2, 2)
    const [s0, s1, s2] = stripe.ec!.shards
    await rm(c.chunkPath(0, s0.id))
    await c.flipByte(1, s1.id)
    await rm(c.chunkPath(2, s2.id))
    const repair = await fsck(c.cluster, { repair: true })
    expect(repair.lost.map((p) => [p.chunk, p.intact])).toEqual([[stripe.id, 1]])
    expect(repair.repaired).toMatchObject({ shardsRebuilt: 0, mapsFixed: 0, copied: 0, orphansRemoved: 0 })
    expect(c.ref(ino, 0)).toEqual(stripe)
    expect(stripe.ec!.shards.map((s) => c.holders(s.id))).toEqual([[], [1], [], [3]])
  })

  it('adopts an intact unlisted copy of a shard whose listed node lacks it, and drops an extra copy of a placed shard', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 5, replicas: 2 }))
    const { data, stripe, ino } = await oneStripe(c)
    const [, s1, s2] = stripe.ec!.shards
    // A move of shard 1 from node 1 to node 3 cut short after the copy and the delete, before its record.
    await c.nodes[3].inner.put(s1.id, await c.nodes[1].inner.get(s1.id), s1.sha256)
    await rm(c.chunkPath(1, s1.id))
    // A stray extra copy of shard 2 on node 4.
    await c.nodes[4].inner.put(s2.id, await c.nodes[2].inner.get(s2.id), s2.sha256)
    const repair = await fsck(c.cluster, { repair: true })
    expect(repair.repaired).toMatchObject({ shardsRebuilt: 0, mapsFixed: 1, failed: [] })
    expect(shardNodes(c.ref(ino, 0))).toEqual([[c.nodes[0].nodeId], [c.nodes[3].nodeId], [c.nodes[2].nodeId]])
    expect([s1, s2].map((s) => c.holders(s.id))).toEqual([[3], [2]])
    await expectWhole(c, ino, data)
  })
})
