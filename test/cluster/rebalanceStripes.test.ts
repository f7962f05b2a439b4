// Balance and drain move the shards of erasure-coded chunks like copies: each shard is verified
// against its own SHA-256, put under its own id, its node committed with the replicas record's
// `shard`; a target never holds another shard of the same stripe (losing one node never costs a
// stripe two shards), also not one a move earlier in the same plan puts there.

import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { joinData } from '../../src/chunks/erasure/stripe.js'
import { nodesHolding } from '../../src/chunks/layout.js'
import { verifyChunk } from '../../src/chunks/verify.js'
import { ChunkLocks } from '../../src/cluster/chunkLocks.js'
import { fsck } from '../../src/cluster/fsck.js'
import { moveCopy } from '../../src/cluster/rebalance/moveCopy.js'
import { type ChunkCopies, planBalance, planDrain } from '../../src/cluster/rebalance/plan.js'
import { Rebalancer } from '../../src/cluster/rebalance/Rebalancer.js'
import { type HealCluster, makeHealCluster, randomChunk } from './healFixtures.js'
import { addFileOfRefs, shardOf, storeStripe } from './stripeFixtures.js'

const KiB = 1024
const MiB = 1024 * KiB

let cluster: HealCluster | undefined
let rebalancer: Rebalancer | undefined
afterEach(async () => {
  await rebalancer?.stop()
  rebalancer = undefined
  await cluster?.cleanup()
  cluster = undefined
})

/** Shards of a 2+1 stripe on nodes a, b, c, `len` bytes each. */
const stripeOn = (id: string, nodes: string[], len = 100): ChunkCopies[] =>
  nodes.map((n, shard) => ({ ino: 2, index: 0, id, shard, len, nodes: [n], avoid: nodes }))

describe('planning shard moves', () => {
  it('a drained node\'s shard goes to a node holding none of its stripe, or is stuck', () => {
    const chunks = stripeOn('s1', ['a', 'b', 'c'])
    const plan = planDrain({ chunks, node: 'a', targets: ['b', 'c', 'd'], used: new Map() })
    expect(plan.moves).toEqual([{ ino: 2, index: 0, id: 's1', shard: 0, len: 100, from: 'a', to: 'd' }])
    expect(planDrain({ chunks, node: 'a', targets: ['b', 'c'], used: new Map() })).toMatchObject({ moves: [], stuck: [chunks[0]] })
  })

  it('balance moves several shards of a stripe, never two onto the same node', () => {
    const chunks = ['s1', 's2', 's3', 's4'].flatMap((id) => stripeOn(id, ['a', 'b', 'c']))
    const { moves } = planBalance({ chunks, nodes: ['a', 'b', 'c', 'd', 'e'], targets: ['a', 'b', 'c', 'd', 'e'], tolerance: 0 })
    // Some stripe moves two of its shards (each shard is a piece of its own) ...
    const perStripe = new Map<string, number>()
    for (const m of moves) perStripe.set(m.id, (perStripe.get(m.id) ?? 0) + 1)
    expect(Math.max(...perStripe.values())).toBe(2)
    for (const m of moves) expect(['d', 'e']).toContain(m.to)
    // ... to two different nodes.
    const placed = moves.map((m) => `${m.id}->${m.to}`)
    expect(new Set(placed).size, placed.join(' ')).toBe(placed.length)
  })
})

/** Every stripe: shards on distinct nodes, each file where its ref says and nowhere else, intact, and the data shards give back `data`. */
async function expectStripes(c: HealCluster, stripes: { ino: number; index: number; data: Buffer }[]): Promise<void> {
  for (const { ino, index, data } of stripes) {
    const ref = c.ref(ino, index)
    const shards = ref.ec!.shards
    expect(shards.map((s) => s.nodes.length)).toEqual(shards.map(() => 1))
    expect(nodesHolding(ref)).toHaveLength(shards.length)
    const bytes: Buffer[] = []
    for (const shard of shards) {
      expect(c.holders(shard.id).map((i) => c.nodes[i].nodeId)).toEqual([...shard.nodes])
      const got = await c.nodes[c.indexOf(shard.nodes[0])].get(shard.id)
      await verifyChunk(shard, got)
      bytes.push(got)
    }
    expect(joinData(bytes, ref.ec!.k, ref.len).equals(data)).toBe(true)
  }
}

async function expectFsckClean(c: HealCluster): Promise<void> {
  const report = await fsck(c.cluster, { repair: false })
  expect([report.lost, report.underReplicated, report.badReplicas, report.orphans]).toEqual([[], [], [], []])
}

async function stripedFiles(c: HealCluster, count: number, on: number[], prefix = 's') {
  const stripes: { ino: number; index: number; data: Buffer }[] = []
  for (let f = 0; f < count; f++) {
    const data = [randomChunk(40 * KiB), randomChunk(17 * KiB + 5)]
    const refs: ChunkRef[] = []
    for (const bytes of data) refs.push(await storeStripe(c, bytes, 2, 1, on))
    const ino = await addFileOfRefs(c, `${prefix}${f}`, refs)
    data.forEach((bytes, index) => stripes.push({ ino, index, data: bytes }))
  }
  return stripes
}

describe('moving a shard', () => {
  it('moves one shard to a node without one of its stripe, and refuses a node holding another', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const [stripe] = await stripedFiles(c, 1, [0, 1, 2])
    const locks = new ChunkLocks()
    const deps = { meta: c.meta, nodes: c.registry, locks, log: c.log }
    const id = c.ref(stripe.ino, 0).id
    const shard1 = shardOf(c, stripe.ino, 0, 1)
    const n = (i: number) => c.nodes[i].nodeId

    expect(await moveCopy(deps, { ino: stripe.ino, index: 0, id, shard: 1, from: n(1), to: n(2) }))
      .toEqual({ moved: false, why: 'the target holds a shard of this stripe already' })
    const moved = await moveCopy(deps, { ino: stripe.ino, index: 0, id, shard: 1, from: n(1), to: n(3) })
    expect(moved).toMatchObject({ moved: true, bytes: shard1.len, sourceDeleted: true })
    expect(shardOf(c, stripe.ino, 0, 1)).toEqual({ ...shard1, nodes: [n(3)] })
    expect(c.ref(stripe.ino, 0).ec!.shards.map((s) => s.nodes)).toEqual([[n(0)], [n(3)], [n(2)]])
    await expectStripes(c, [stripe])
    await expectFsckClean(c)
  })
})

describe('balance and drain of stripes', () => {
  it('a drain moves the node\'s shards (and copies) away, each to a node holding none of its stripe', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 5, replicas: 2 }))
    const stripes = await stripedFiles(c, 4, [0, 1, 2])
    stripes.push(...await stripedFiles(c, 2, [3, 0, 4], 't'))
    const copies = await c.addFile('plain', [randomChunk(30 * KiB)], [[0, 3]])
    rebalancer = new Rebalancer({ meta: c.meta, registry: c.registry, replicas: 2, locks: new ChunkLocks(), log: c.log, options: { bandwidthBytesPerSec: 64 * MiB } })
    const victim = c.nodes[0]
    rebalancer.drain(victim.nodeId)
    const result = (await rebalancer.settle())!
    expect(result).toMatchObject({ state: 'done', failedChunks: 0, remainingChunks: 0, movedChunks: stripes.length + 1 })
    expect(await victim.list()).toEqual([])
    await expectStripes(c, stripes)
    expect(c.ref(copies, 0).nodes).not.toContain(victim.nodeId)
    await expectFsckClean(c)
  })

  it('refuses a drain that would leave fewer nodes than a stripe on it needs, changing nothing', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const stripes = await stripedFiles(c, 1, [0, 1, 2])
    const plain = await c.addFile('plain', [randomChunk(1000)], [[0, 3]])
    c.registry.markDead(c.nodes[3].nodeId, 'test')
    rebalancer = new Rebalancer({ meta: c.meta, registry: c.registry, replicas: 2, locks: new ChunkLocks(), log: c.log })
    expect(() => rebalancer!.drain(c.nodes[0].nodeId)).toThrow(expect.objectContaining({
      code: 'NOT_ENOUGH_NODES',
      message: expect.stringMatching(/^draining .+ would leave 2 alive nodes for its chunks stored as ec:2\+1 \(3 shards, each on its own node\); add a node first$/),
    }))
    expect(c.registry.status(c.nodes[0].nodeId)?.draining).toBeUndefined()
    expect(rebalancer.status()).toBeUndefined()
    expect(c.ref(plain, 0).nodes).toContain(c.nodes[0].nodeId)
    await expectStripes(c, stripes)
    // A node holding none of the stripe's shards drains as before.
    expect(() => rebalancer!.drain(c.nodes[3].nodeId)).not.toThrow()
  })

  it('a drain with no node free of the stripe stops, naming the stuck chunks, and moves nothing', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const stripes = await stripedFiles(c, 1, [0, 1, 2])
    c.registry.markFull(c.nodes[3].nodeId) // alive, so the drain starts, but takes no shard
    rebalancer = new Rebalancer({ meta: c.meta, registry: c.registry, replicas: 2, locks: new ChunkLocks(), log: c.log })
    rebalancer.drain(c.nodes[0].nodeId)
    const result = (await rebalancer.settle())!
    expect(result).toMatchObject({ state: 'failed', movedChunks: 0 })
    expect(result.error).toMatch(/no node can take a copy of 2 chunks .* or a shard of the same stripe/)
    await expectStripes(c, stripes)
  })

  it('a balance fills an empty node with shards, never two of one stripe', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const stripes = await stripedFiles(c, 6, [0, 1, 2])
    rebalancer = new Rebalancer({ meta: c.meta, registry: c.registry, replicas: 2, locks: new ChunkLocks(), log: c.log, options: { bandwidthBytesPerSec: 64 * MiB } })
    rebalancer.balance()
    const result = (await rebalancer.settle())!
    expect(result).toMatchObject({ state: 'done', failedChunks: 0 })
    expect(result.movedChunks).toBeGreaterThan(2)
    expect((await c.nodes[3].list()).length).toBe(result.movedChunks)
    await expectStripes(c, stripes)
    await expectFsckClean(c)
  })
})
