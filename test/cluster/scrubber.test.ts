// The scrubber on a real cluster of local-folder nodes: it finds a flipped byte without any read
// through the chunk store, hands the copy to the healer, which replaces it; and it keeps to its rate.

import { afterEach, describe, expect, it } from 'vitest'
import { fsck } from '../../src/cluster/fsck.js'
import { Healer } from '../../src/cluster/healer/Healer.js'
import { Scrubber, scrubCharge } from '../../src/cluster/healer/Scrubber.js'
import { verifyChunk } from '../../src/chunks/verify.js'
import { ChunkLocks } from '../../src/cluster/chunkLocks.js'
import { moveCopy } from '../../src/cluster/rebalance/moveCopy.js'
import type { DataNode } from '../../src/datanode/DataNode.js'
import { type HealCluster, makeHealCluster, randomChunk, until } from './healFixtures.js'

const KiB = 1024
const MiB = 1024 * KiB

let cluster: HealCluster | undefined
const stops: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
  if (process.env.DFS_TEST_LOG && cluster) console.log(cluster.logs.join('\n'))
  await cluster?.cleanup()
  cluster = undefined
})

describe('Scrubber', () => {
  it('finds a flipped byte without any read, and the healer replaces the copy', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const data = [randomChunk(48 * KiB), randomChunk(48 * KiB), randomChunk(10 * KiB)]
    const ino = await c.addFile('f', data, [[0, 1], [1, 2], [2, 0]])
    const victim = c.ref(ino, 1)
    await c.flipByte(2, victim.id, 4321)

    const healer = new Healer({ meta: c.meta, chunks: c.chunks, registry: c.registry, replicas: 2, log: c.log, options: { graceMs: 100, hintDelayMs: 20 } })
    healer.start()
    stops.push(() => healer.stop())
    const scrubber = new Scrubber({
      meta: c.meta, registry: c.registry, log: c.log,
      onBadCopy: (ref, nodeId, reason) => healer.reportBadCopy(ref, nodeId, reason),
      // As the daemon wires them: a copy handed to the healer is not reported again while it repairs it.
      locks: healer.locks, isReported: healer.isBadCopy,
      options: { bytesPerSec: 32 * MiB, restMs: 50 },
    })
    scrubber.start()
    stops.push(() => scrubber.stop())

    await until(() => scrubber.status().passes >= 1, 30_000, 'a pass')
    expect(scrubber.status()).toMatchObject({ corruptFound: 1, missingFound: 0, scannedChunks: 3 })
    expect(scrubber.status().scannedBytes).toBe(2 * (48 + 48 + 10) * KiB)
    expect(scrubber.status().lastPassAt).toBeGreaterThan(0)
    await until(() => healer.status().state === 'idle' && healer.status().copiedChunks === 1, 30_000, 'healing')

    const healed = c.ref(ino, 1)
    expect(healed.nodes).toHaveLength(2)
    for (const nodeId of healed.nodes) await verifyChunk(healed, await c.nodes[c.indexOf(nodeId)].get(healed.id))
    expect(c.holders(healed.id).map((i) => c.nodes[i].nodeId).sort()).toEqual([...healed.nodes].sort())
    expect(c.chunks.stats.reads).toBe(0) // found by the scrubber alone
    const report = await fsck(c.cluster, { repair: false })
    expect([report.lost, report.underReplicated, report.badReplicas, report.orphans]).toEqual([[], [], [], []])

    // The next pass finds nothing.
    const passes = scrubber.status().passes
    await until(() => scrubber.status().passes > passes, 30_000, 'another pass')
    expect(scrubber.status().corruptFound).toBe(1)
  })

  it('charges the check of a small copy as 64 KiB against its rate: a check costs per file as much as per byte', () => {
    expect(scrubCharge(4 * KiB)).toBe(64 * KiB)
    expect(scrubCharge(0)).toBe(64 * KiB)
    expect(scrubCharge(4 * MiB)).toBe(4 * MiB)
  })

  it('reads at its configured rate, and 0 turns it off', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 2, replicas: 2 }))
    await c.addFile('f', Array.from({ length: 6 }, () => randomChunk(128 * KiB)), Array(6).fill([0, 1]))
    const off = new Scrubber({ meta: c.meta, registry: c.registry, log: c.log, options: { bytesPerSec: 0 } })
    off.start()
    stops.push(() => off.stop())
    expect(off.status().state).toBe('off')

    // 1.5 MiB of copies at 1 MiB/s: about 1.4 s for the pass.
    const scrubber = new Scrubber({ meta: c.meta, registry: c.registry, log: c.log, options: { bytesPerSec: 1 * MiB, restMs: 60_000 } })
    const started = Date.now()
    scrubber.start()
    stops.push(() => scrubber.stop())
    await until(() => scrubber.status().passes === 1, 30_000, 'a pass')
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_200)
    expect(scrubber.status()).toMatchObject({ state: 'resting', scannedChunks: 6, scannedBytes: 1.5 * MiB, corruptFound: 0 })
    expect(off.status().scannedChunks).toBe(0)
  })

  it('does not report a copy that a move took away while the pass held the old list', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ino = await c.addFile('f', [randomChunk(20 * KiB)], [[0, 1]])
    const ref = c.ref(ino, 0)
    const [from, , to] = c.nodes
    // The scrubber's read of the copy on `from` waits at a gate: the move happens meanwhile.
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    let waiting = false
    const gated: DataNode = Object.create(from, {
      get: { value: async (id: string) => { waiting = true; await gate; return from.get(id) } },
    })
    const reported: string[] = []
    const locks = new ChunkLocks()
    const scrubber = new Scrubber({
      meta: c.meta, log: c.log, locks,
      registry: { get: (nodeId) => (nodeId === from.nodeId ? gated : c.registry.get(nodeId)), health: (nodeId) => c.registry.health(nodeId) },
      onBadCopy: (_ref, nodeId, reason) => reported.push(`${nodeId} ${reason.code}`),
      options: { bytesPerSec: 32 * MiB, restMs: 60_000 },
    })
    scrubber.start()
    stops.push(() => scrubber.stop())
    await until(() => waiting, 60_000, 'the scrubber to read the copy on the first node')

    const moved = await moveCopy({ meta: c.meta, nodes: c.registry, locks, log: c.log }, { ino, index: 0, id: ref.id, from: from.nodeId, to: to.nodeId })
    expect(moved.moved).toBe(true)
    expect(c.holders(ref.id)).toEqual([1, 2])
    open()

    await until(() => scrubber.status().passes >= 1, 60_000, 'a pass')
    expect(reported).toEqual([])
    expect(scrubber.status()).toMatchObject({ corruptFound: 0, missingFound: 0 })
  })
})
