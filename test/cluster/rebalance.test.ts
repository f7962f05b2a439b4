// Balance and drain on a real cluster of local-folder nodes with a real MetaStore (no FUSE): usage
// ends even, every chunk keeps R verified copies at every moment, a chunk overwritten mid-move is
// neither corrupted nor leaked, a drained node ends holding nothing and took no writes meanwhile,
// and moves are serialised with the healer per chunk.

import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { verifyChunk } from '../../src/chunks/verify.js'
import { ChunkLocks } from '../../src/cluster/chunkLocks.js'
import { fsck } from '../../src/cluster/fsck.js'
import { Healer } from '../../src/cluster/healer/Healer.js'
import { isBalanced, usageOf } from '../../src/cluster/rebalance/plan.js'
import { Rebalancer, type RebalanceOptions } from '../../src/cluster/rebalance/Rebalancer.js'
import { isDfsError } from '../../src/errors.js'
import { type HealCluster, makeHealCluster, randomChunk, until } from './healFixtures.js'

const KiB = 1024
const MiB = 1024 * KiB

let cluster: HealCluster | undefined
let rebalancer: Rebalancer | undefined
let healer: Healer | undefined
afterEach(async () => {
  await rebalancer?.stop()
  await healer?.stop()
  rebalancer = healer = undefined
  if (process.env.DFS_TEST_LOG && cluster) console.log(cluster.logs.join('\n'))
  await cluster?.cleanup()
  cluster = undefined
})

function startRebalancer(c: HealCluster, options: RebalanceOptions = {}, locks = new ChunkLocks()): Rebalancer {
  rebalancer = new Rebalancer({ meta: c.meta, registry: c.registry, replicas: c.replicas, locks, log: c.log, options })
  return rebalancer
}

function allRefs(c: HealCluster): { ino: number; index: number; ref: ChunkRef }[] {
  const out: { ino: number; index: number; ref: ChunkRef }[] = []
  for (const inode of c.meta.state.inodes.values()) inode.chunks?.forEach((ref, index) => ref && out.push({ ino: inode.ino, index, ref }))
  return out
}

const chunkList = (c: HealCluster) => allRefs(c).map(({ ino, index, ref }) => ({ ino, index, id: ref.id, len: ref.len, nodes: ref.nodes }))
const nodeIds = (c: HealCluster) => c.nodes.map((n) => n.nodeId)

/** Every referenced chunk: exactly R copies on disk, on the nodes its ref lists, each intact. */
async function expectExactlyR(c: HealCluster): Promise<void> {
  for (const { ref } of allRefs(c)) {
    const onDisk = c.holders(ref.id).map((i) => c.nodes[i].nodeId).sort()
    expect(onDisk, `copies of chunk ${ref.id}`).toEqual([...ref.nodes].sort())
    expect(new Set(ref.nodes).size).toBe(c.replicas)
    for (const nodeId of ref.nodes) await verifyChunk(ref, await c.nodes[c.indexOf(nodeId)].get(ref.id))
  }
}

async function expectFsckClean(c: HealCluster): Promise<void> {
  const report = await fsck(c.cluster, { repair: false })
  expect(report.lost).toEqual([])
  expect(report.underReplicated).toEqual([])
  expect(report.badReplicas).toEqual([])
  expect(report.orphans).toEqual([])
}

/**
 * Watch, on every turn of the event loop until stopped, that every chunk lists R distinct nodes and
 * has a file on each of them. (Synchronous: nothing can commit or delete in the middle of a look.)
 */
function watchCopies(c: HealCluster): { stop(): Promise<string[]> } {
  const problems: string[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      for (const { ref } of allRefs(c)) {
        const onDisk = c.holders(ref.id)
        if (new Set(ref.nodes).size < c.replicas) problems.push(`chunk ${ref.id} lists ${ref.nodes.length} nodes`)
        for (const nodeId of ref.nodes) if (!onDisk.includes(c.indexOf(nodeId))) problems.push(`chunk ${ref.id} has no file on the listed node ${nodeId}`)
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return problems
    },
  }
}

/** Two nodes full of files, a third empty one (it joined the cluster just now). */
async function twoFullOneEmpty(): Promise<{ c: HealCluster; files: Map<number, Buffer[]> }> {
  const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
  const files = new Map<number, Buffer[]>()
  for (let f = 0; f < 10; f++) {
    const data = [randomChunk(64 * KiB), randomChunk(64 * KiB), randomChunk(64 * KiB), randomChunk(1 + f * 3 * KiB)]
    files.set(await c.addFile(`f${f}`, data, data.map(() => [0, 1])), data)
  }
  return { c, files }
}

async function expectContents(c: HealCluster, files: Map<number, Buffer[]>): Promise<void> {
  for (const [ino, data] of files) {
    for (const [index, bytes] of data.entries()) expect((await c.chunks.read(c.ref(ino, index))).equals(bytes), `inode ${ino} chunk ${index}`).toBe(true)
  }
}

describe('dfs balance (core)', () => {
  it('fills a new empty node to its share; R verified copies of every chunk at every moment', async () => {
    const { c, files } = await twoFullOneEmpty()
    const r = startRebalancer(c, { bandwidthBytesPerSec: 8 * MiB, concurrency: 2 })
    const watch = watchCopies(c)
    const started = r.balance()
    expect(started).toMatchObject({ kind: 'balance', state: 'running', id: 1 })
    expect(() => r.drain(c.nodes[0].nodeId), 'a second job while one runs').toThrow(expect.objectContaining({ code: 'ALREADY_RUNNING' }))
    const result = (await r.settle())!
    expect(await watch.stop()).toEqual([])

    expect(result).toMatchObject({ state: 'done', balanced: true, failedChunks: 0, skippedChunks: 0 })
    expect(result.movedChunks).toBeGreaterThan(10)
    expect(result.movedChunks).toBe(result.plannedChunks)
    const used = usageOf(chunkList(c), nodeIds(c))
    expect(isBalanced(used, result.toleranceBytes!)).toBe(true)
    expect(result.toleranceBytes).toBeLessThanOrEqual(Math.max(64 * KiB, 0.05 * ([...used.values()].reduce((a, b) => a + b) / 3)) + 1)
    expect(used.get(c.nodes[2].nodeId)).toBeGreaterThan(0)
    expect(result.nodes.map((n) => n.now)).toEqual(nodeIds(c).map((n) => used.get(n)))
    // The new node holds about a third of the bytes.
    const total = [...used.values()].reduce((a, b) => a + b)
    expect(used.get(c.nodes[2].nodeId)).toBeGreaterThanOrEqual(total / 3 - result.toleranceBytes!)

    await expectExactlyR(c)
    await expectFsckClean(c)
    await expectContents(c, files)
    // A second balance finds nothing to do.
    expect((await (r.balance(), r.settle()))!).toMatchObject({ state: 'done', plannedChunks: 0, balanced: true })
  })

  it('a chunk overwritten while it is being moved: the new bytes win, the copy made is removed, nothing recorded', async () => {
    const { c, files } = await twoFullOneEmpty()
    const locks = new ChunkLocks()
    const r = startRebalancer(c, { concurrency: 1 }, locks)
    const release = c.nodes[2].holdPuts() // moves stall on their way to the new node
    r.balance()
    await until(() => c.nodes[2].waiting > 0, 30_000, 'a move to reach the new node')
    const moving = allRefs(c).find(({ ref }) => locks.isHeld(ref.id))!
    expect(moving).toBeDefined()

    // What the file system does on an overwrite: store the new chunk, point the file at it, delete
    // the old one once that is durable.
    const fresh = randomChunk(64 * KiB)
    const ref = await c.storeOn(fresh, [0, 1])
    const inode = c.meta.state.inodes.get(moving.ino)!
    c.meta.commit({ op: 'chunk', ino: moving.ino, index: moving.index, ref, size: inode.size, mtime: Date.now(), ctime: Date.now() })
    await c.meta.sync()
    await c.chunks.delete([moving.ref.id])
    files.get(moving.ino)![moving.index] = fresh
    release()

    const result = (await r.settle())!
    expect(result.state).toBe('done')
    expect(result.skippedChunks).toBeGreaterThanOrEqual(1)
    expect(c.holders(moving.ref.id), 'no copy of the old chunk left anywhere').toEqual([])
    expect(isBalanced(usageOf(chunkList(c), nodeIds(c)), result.toleranceBytes!)).toBe(true)
    await expectExactlyR(c)
    await expectFsckClean(c)
    await expectContents(c, files)
  })
})

describe('dfs drain (core)', () => {
  it('empties a node while writes go on elsewhere; R copies on the other nodes; the settings say drained', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const files = new Map<number, Buffer[]>()
    // Placed by hand, not by chunk id: 18 of the 24 chunks have a copy on the node to drain, 6 do not.
    for (let f = 0; f < 8; f++) {
      const data = [randomChunk(64 * KiB), randomChunk(64 * KiB), randomChunk(10 * KiB)]
      const placements = data.map((_, i) => ((f + i) % 4 === 0 ? [1, 2] : [0, 1 + ((f + i) % 3)]))
      files.set(await c.addFile(`f${f}`, data, placements), data)
    }
    const victim = c.nodes[0]
    expect(allRefs(c).filter(({ ref }) => ref.nodes.includes(victim.nodeId)).length).toBe(18)
    const r = startRebalancer(c, { bandwidthBytesPerSec: 4 * MiB, concurrency: 2 })
    const watch = watchCopies(c)
    const putsBefore = victim.puts.length

    const started = r.drain(victim.address)
    expect(started).toMatchObject({ kind: 'drain', state: 'running', node: { nodeId: victim.nodeId, address: victim.address } })
    expect(c.registry.writable()).not.toContain(victim.nodeId)
    expect(c.registry.status(victim.nodeId)?.draining).toBe(true)
    // Writes while the drain runs go to the other nodes only.
    for (let f = 0; f < 4; f++) {
      const data = [randomChunk(64 * KiB), randomChunk(64 * KiB)]
      const ino = await c.addFile(`during${f}`, data)
      files.set(ino, data)
      for (const index of [0, 1]) expect(c.ref(ino, index).nodes).not.toContain(victim.nodeId)
    }
    const result = (await r.settle())!
    expect(await watch.stop()).toEqual([])

    expect(result).toMatchObject({ state: 'done', failedChunks: 0, remainingChunks: 0 })
    expect(victim.puts.length, 'no chunk was written to the draining node').toBe(putsBefore)
    for (const { ref } of allRefs(c)) expect(ref.nodes).not.toContain(victim.nodeId)
    expect(await victim.list(), 'the drained node holds nothing').toEqual([])
    expect(result.nodes.find((n) => n.nodeId === victim.nodeId)?.now).toBe(0)
    // Still out of the write pool, and recorded as drained for the next mount.
    expect(c.registry.writable()).not.toContain(victim.nodeId)
    const recorded = (c.meta.settings.nodes as { nodeId: string; drained?: boolean }[]).find((n) => n.nodeId === victim.nodeId)
    expect(recorded?.drained).toBe(true)

    await expectExactlyR(c)
    await expectFsckClean(c)
    await expectContents(c, files)
  })

  it('refuses a drain that would leave fewer than R alive nodes, and an unknown node, changing nothing', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    c.registry.markDead(c.nodes[2].nodeId, 'test')
    const r = startRebalancer(c)
    let error: unknown
    try {
      r.drain(c.nodes[0].nodeId)
    } catch (err) {
      error = err
    }
    expect(isDfsError(error, 'NOT_ENOUGH_NODES')).toBe(true)
    expect((error as Error).message).toMatch(/^draining .+ would leave 1 alive node for 2 replicas; add a node first$/)
    expect(c.registry.status(c.nodes[0].nodeId)?.draining).toBeUndefined()
    expect(() => r.drain('no-such-node')).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }))
    expect(r.status()).toBeUndefined()
  })
})

describe('serialised with the healer', () => {
  it('the healer leaves a chunk being moved alone, and repairs it once the move lets go', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ino = await c.addFile('a', [randomChunk(20 * KiB)], [[0, 1]])
    const ref = c.ref(ino, 0)
    healer = new Healer({ meta: c.meta, chunks: c.chunks, registry: c.registry, replicas: 2, log: c.log, options: { hintDelayMs: 20, scanIntervalMs: 60_000 } })
    healer.start()
    await until(() => healer!.status().lastScanAt !== undefined, 30_000, 'first scan')

    const release = healer.locks.tryAcquire(ref.id)! // as a move would hold it
    await c.flipByte(0, ref.id)
    healer.reportBadCopy(ref, c.nodes[0].nodeId, { code: 'CHUNK_CORRUPT' })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(healer.status().copiedChunks, 'no repair while the chunk is held').toBe(0)
    release()
    await until(() => healer!.status().copiedChunks === 1 && healer!.status().state === 'idle', 30_000, 'the repair after release')
    await expectExactlyR(c)
  })

  it('a move waits for a repair of the same chunk to finish', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const locks = new ChunkLocks()
    await c.addFile('a', Array.from({ length: 6 }, () => randomChunk(20 * KiB)), Array(6).fill([0, 1]))
    // Every chunk held, as repairs would hold them.
    const releases = allRefs(c).map(({ ref }) => locks.tryAcquire(ref.id)!)
    try {
      const r = startRebalancer(c, { concurrency: 2 }, locks)
      r.balance()
      await until(() => r.status()!.plannedChunks > 0, 30_000, 'a plan')
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(r.status()).toMatchObject({ state: 'running', movedChunks: 0 })
      for (const { ref } of allRefs(c)) expect(c.holders(ref.id)).toEqual([0, 1])
    } finally {
      for (const release of releases) release()
    }
    const result = (await rebalancer!.settle())!
    expect(result).toMatchObject({ state: 'done', failedChunks: 0, balanced: true })
    expect(result.movedChunks).toBeGreaterThan(0)
    await expectExactlyR(c)
  })
})

describe('cancel and undo', () => {
  const recorded = (c: HealCluster, nodeId: string) =>
    (c.meta.settings.nodes as { nodeId: string; draining?: boolean; drained?: boolean }[]).find((n) => n.nodeId === nodeId)

  it('a cancelled balance ends after the moves in flight; every chunk keeps R verified copies', async () => {
    const { c, files } = await twoFullOneEmpty()
    const locks = new ChunkLocks()
    const r = startRebalancer(c, { concurrency: 2 }, locks)
    const watch = watchCopies(c)
    const release = c.nodes[2].holdPuts({ after: true }) // two moves have put their copy, and wait
    r.balance()
    await until(() => c.nodes[2].waiting === 2, 60_000, 'two moves in flight')
    const cancelling = r.cancel('balance')
    release()
    const result = await cancelling
    expect(await watch.stop()).toEqual([])

    expect(result).toMatchObject({ kind: 'balance', state: 'cancelled', movedChunks: 2, failedChunks: 0 })
    expect(result.plannedChunks).toBeGreaterThan(2)
    expect(r.running).toBe(false)
    await expectExactlyR(c)
    await expectFsckClean(c)
    await expectContents(c, files)
    await expect(r.cancel('balance')).rejects.toMatchObject({ code: 'NOT_RUNNING' })
  })

  it('cancel names the job: no drain is running while a balance is', async () => {
    const { c } = await twoFullOneEmpty()
    const r = startRebalancer(c, { concurrency: 1 })
    const release = c.nodes[2].holdPuts()
    r.balance()
    await expect(r.cancel('drain')).rejects.toMatchObject({ code: 'NOT_RUNNING', message: 'no drain is running; a balance is (dfs balance --cancel stops it)' })
    release()
    await r.settle()
  })

  it('a cancelled drain keeps its node out of the write pool, also in the settings; undo takes it back and moves nothing back', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const files = new Map<number, Buffer[]>()
    for (let f = 0; f < 6; f++) {
      const data = [randomChunk(32 * KiB), randomChunk(32 * KiB), randomChunk(32 * KiB)]
      files.set(await c.addFile(`f${f}`, data, data.map(() => [0, 1 + (f % 3)])), data)
    }
    const victim = c.nodes[0]
    const r = startRebalancer(c, { concurrency: 1 })
    const watch = watchCopies(c)
    const release = c.nodes[1].holdPuts({ after: true })
    const release3 = c.nodes[3].holdPuts({ after: true })
    const release2 = c.nodes[2].holdPuts({ after: true })
    r.drain(victim.nodeId)
    await until(() => c.nodes.some((n) => n.waiting > 0), 60_000, 'a move in flight')
    expect(recorded(c, victim.nodeId)?.draining, 'recorded as draining while it runs').toBe(true)
    const cancelling = r.cancel('drain')
    release()
    release2()
    release3()
    const result = await cancelling
    expect(await watch.stop()).toEqual([])
    expect(result).toMatchObject({ kind: 'drain', state: 'cancelled', movedChunks: 1 })
    expect(result.remainingChunks).toBeGreaterThan(0)
    await expectExactlyR(c)
    await expectFsckClean(c)
    await expectContents(c, files)

    // Still out of the write pool, and so across a restart (a new rebalancer over the same settings).
    expect(c.registry.writable()).not.toContain(victim.nodeId)
    expect(recorded(c, victim.nodeId)).toMatchObject({ draining: true })
    expect(recorded(c, victim.nodeId)).toMatchObject({ drainPaused: true })
    c.registry.setDraining(victim.nodeId, false) // what a restart forgets
    const restarted = startRebalancer(c)
    restarted.restoreDraining()
    restarted.resumeDrain()
    expect(c.registry.writable()).not.toContain(victim.nodeId)
    expect(restarted.status(), 'a cancelled drain is not resumed').toBeUndefined()

    const onVictim = allRefs(c).filter(({ ref }) => ref.nodes.includes(victim.nodeId)).length
    const undone = await rebalancer!.undoDrain(victim.address)
    expect(undone).toEqual({ node: { nodeId: victim.nodeId, address: victim.address } })
    expect(c.registry.writable()).toContain(victim.nodeId)
    expect(recorded(c, victim.nodeId)?.draining).toBeUndefined()
    expect(allRefs(c).filter(({ ref }) => ref.nodes.includes(victim.nodeId)).length, 'nothing moved back').toBe(onVictim)
    await expect(rebalancer!.undoDrain(victim.nodeId)).rejects.toMatchObject({ code: 'NOT_RUNNING' })
  })

  it('a drain the daemon stopped in the middle is resumed at the next start', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    for (let f = 0; f < 4; f++) await c.addFile(`f${f}`, [randomChunk(16 * KiB), randomChunk(16 * KiB)], [[0, 1], [0, 1]])
    const victim = c.nodes[0]
    const first = startRebalancer(c, { concurrency: 1 })
    const release = c.nodes[2].holdPuts()
    first.drain(victim.nodeId)
    await until(() => c.nodes[2].waiting > 0, 60_000, 'a move in flight')
    const stopping = first.stop() // the daemon stops
    release()
    await stopping
    expect(first.status()).toMatchObject({ state: 'stopped' })
    expect(recorded(c, victim.nodeId)).toEqual({ nodeId: victim.nodeId, address: victim.address, draining: true })

    c.registry.setDraining(victim.nodeId, false) // what a restart forgets
    const second = startRebalancer(c, { concurrency: 1 })
    second.restoreDraining()
    expect(c.registry.writable()).not.toContain(victim.nodeId)
    second.resumeDrain()
    const result = (await second.settle())!
    expect(result).toMatchObject({ kind: 'drain', state: 'done', node: { nodeId: victim.nodeId }, remainingChunks: 0 })
    expect(recorded(c, victim.nodeId)).toMatchObject({ drained: true })
    await expectExactlyR(c)
    await expectFsckClean(c)
  })

  it('undo of a drain that runs cancels it first; undo of a finished drain takes the node back too', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    for (let f = 0; f < 4; f++) await c.addFile(`f${f}`, [randomChunk(16 * KiB), randomChunk(16 * KiB)], [[0, 1], [0, 1]])
    const victim = c.nodes[0]
    const r = startRebalancer(c, { concurrency: 1 })
    const release = c.nodes[2].holdPuts()
    r.drain(victim.nodeId)
    await until(() => c.nodes[2].waiting > 0, 60_000, 'a move in flight')
    const undoing = r.undoDrain(victim.nodeId)
    release()
    const undone = await undoing
    expect(undone.cancelled).toMatchObject({ kind: 'drain', state: 'cancelled' })
    expect(c.registry.writable()).toContain(victim.nodeId)
    await expectExactlyR(c)

    const done = (await (r.drain(victim.nodeId), r.settle()))!
    expect(done.state).toBe('done')
    expect(recorded(c, victim.nodeId)).toMatchObject({ drained: true })
    await r.undoDrain(victim.address)
    expect(recorded(c, victim.nodeId)?.drained).toBeUndefined()
    expect(c.registry.writable()).toContain(victim.nodeId)
    await expectExactlyR(c)
    await expectFsckClean(c)
  })
})
