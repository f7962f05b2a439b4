// The pieces under the healer and fsck --repair: copying from a verified copy (replicate.ts), which
// copies to drop, the repair queue's order, and the bandwidth bucket.

import { afterEach, describe, expect, it } from 'vitest'
import { RepairQueue } from '../../src/cluster/healer/RepairQueue.js'
import { TokenBucket } from '../../src/cluster/healer/TokenBucket.js'
import { dropCopies, planTrim, restoreCopies } from '../../src/cluster/replicate.js'
import { type HealCluster, makeHealCluster, randomChunk } from './healFixtures.js'

let cluster: HealCluster | undefined
afterEach(async () => {
  await cluster?.cleanup()
  cluster = undefined
})

describe('restoreCopies', () => {
  it('copies from a verified copy to writable nodes that lack it, skipping a corrupt source and a failing target', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 3 }))
    const ref = await c.storeOn(randomChunk(20_000), [0, 1])
    await c.flipByte(0, ref.id)
    c.nodes[2].failPuts = 'NODE_UNAVAILABLE'
    const copied: string[] = []
    const result = await restoreCopies(c.registry, {
      ref, holders: [c.nodes[0].nodeId, c.nodes[1].nodeId], replicas: 3,
      targets: c.registry.writable(), onCopied: (nodeId) => copied.push(nodeId),
    })
    // Node 0's copy is corrupt: not a holder, named in badSources, and it may take a fresh copy.
    expect(result.badSources.map((b) => [b.nodeId, b.error.code])).toEqual([[c.nodes[0].nodeId, 'CHUNK_CORRUPT']])
    expect(result.source).toBe(c.nodes[1].nodeId)
    expect(result.failedTargets.map((f) => f.nodeId)).not.toContain(c.nodes[3].nodeId)
    expect(result.holders).toHaveLength(3)
    expect(result.holders[0]).toBe(c.nodes[1].nodeId)
    expect(result.added).toEqual(copied)
    expect(result.bytesCopied).toBe(20_000 * result.added.length)
    expect(result.added).not.toContain(c.nodes[2].nodeId)
    for (const nodeId of result.holders) expect((await c.nodes[c.indexOf(nodeId)].get(ref.id)).length).toBe(20_000)
  })

  it('reads nothing when the chunk already has R holders, and throws CHUNK_UNREADABLE when no copy is intact', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ref = await c.storeOn(randomChunk(1000), [0, 1])
    const enough = await restoreCopies(c.registry, { ref, holders: ref.nodes, replicas: 2, targets: c.registry.writable() })
    expect(enough).toMatchObject({ holders: ref.nodes, added: [], bytesCopied: 0 })
    expect(enough.source).toBeUndefined()

    await c.flipByte(0, ref.id)
    await c.flipByte(1, ref.id)
    await expect(restoreCopies(c.registry, { ref, holders: ref.nodes, fallbackSources: c.registry.ids(), replicas: 3, targets: c.registry.writable() }))
      .rejects.toMatchObject({ code: 'CHUNK_UNREADABLE' })
    expect(c.holders(ref.id)).toEqual([0, 1]) // nothing written, nothing deleted
  })

  it('finds an intact copy the map does not list among the fallback sources', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ref = await c.storeOn(randomChunk(1000), [2])
    const result = await restoreCopies(c.registry, { ref, holders: [], fallbackSources: c.registry.ids(), replicas: 2, targets: c.registry.writable() })
    expect(result.source).toBe(c.nodes[2].nodeId)
    expect(result.holders).toHaveLength(2)
    expect(result.holders[0]).toBe(c.nodes[2].nodeId)
  })
})

describe('dropCopies', () => {
  it('deletes from the named nodes only', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ref = await c.storeOn(randomChunk(1000), [0, 1, 2])
    const { dropped, failed } = await dropCopies(c.registry, ref.id, [c.nodes[1].nodeId, 'no-such-node'])
    expect(dropped).toEqual([c.nodes[1].nodeId])
    expect(failed.map((f) => [f.nodeId, f.error.code])).toEqual([['no-such-node', 'NODE_UNAVAILABLE']])
    expect(c.holders(ref.id)).toEqual([0, 2])
  })
})

describe('planTrim', () => {
  const id = '0123456789abcdef0123456789abcdef'
  it('keeps the copies on the least-used nodes, in the order given', () => {
    const used: Record<string, number> = { a: 50, b: 10, c: 30, d: 20 }
    expect(planTrim(id, ['a', 'b', 'c', 'd'], 2, (n) => used[n])).toEqual({ keep: ['b', 'd'], drop: ['a', 'c'] })
    expect(planTrim(id, ['a', 'b'], 2, (n) => used[n])).toEqual({ keep: ['a', 'b'], drop: [] })
  })
  it('breaks ties by placement order, deterministically', () => {
    const a = planTrim(id, ['x', 'y', 'z'], 2, () => 0)
    const b = planTrim(id, ['z', 'y', 'x'], 2, () => 0)
    expect(a.drop).toHaveLength(1)
    expect(b.drop).toEqual(a.drop)
  })
})

describe('RepairQueue', () => {
  it('serves fewest good copies first, first come first served within a level, one entry per chunk', () => {
    const q = new RepairQueue()
    q.add({ id: 'two-a', ino: 2, index: 0, good: 2, bytes: 0 })
    q.add({ id: 'one-a', ino: 3, index: 0, good: 1, bytes: 0 })
    q.add({ id: 'two-b', ino: 4, index: 0, good: 2, bytes: 0 })
    q.add({ id: 'zero', ino: 5, index: 0, good: 0, bytes: 0 })
    q.add({ id: 'one-b', ino: 6, index: 0, good: 1, bytes: 0 })
    q.add({ id: 'two-b', ino: 4, index: 0, good: 0, bytes: 0 }) // more urgent now: moves up
    q.add({ id: 'zero', ino: 5, index: 0, good: 2, bytes: 0 }) // less urgent: stays where it was
    expect(q.size).toBe(5)
    expect(q.countBelow(2)).toBe(4)
    const order: string[] = []
    for (let item = q.shift(); item; item = q.shift()) order.push(item.id)
    expect(order).toEqual(['zero', 'two-b', 'one-a', 'one-b', 'two-a'])
    expect(q.size).toBe(0)
  })
})

describe('TokenBucket', () => {
  it('lets a burst of a tenth of a second through, then holds callers to the rate, in order', async () => {
    let now = 0
    const bucket = new TokenBucket(1000, () => now)
    // The burst is granted without waiting for any timer: it settles before the next turn of the loop.
    let burstDone = false
    const burst = bucket.take(100).then(() => (burstDone = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(burstDone).toBe(true)
    await burst
    now += 0 // no time passes on the fake clock: the next 30 bytes are owed, 30 ms of real waiting
    const t = Date.now()
    await bucket.take(30)
    expect(Date.now() - t).toBeGreaterThanOrEqual(25)
  })

  it('is unlimited at 0, and an aborted signal ends a wait at once', async () => {
    expect(new TokenBucket(0).unlimited).toBe(true)
    await new TokenBucket(0).take(1e12)
    const bucket = new TokenBucket(10)
    const abort = new AbortController()
    const waiting = bucket.take(1000, abort.signal).then(() => 'ended') // 100 s at 10 bytes/s
    setTimeout(() => abort.abort(), 20)
    // Ended by the abort, long before the 100 s the bytes would take (30 s: "eventually", not a speed bound).
    const eventually = new Promise((resolve) => setTimeout(resolve, 30_000, 'still waiting').unref())
    expect(await Promise.race([waiting, eventually])).toBe('ended')
  })
})
