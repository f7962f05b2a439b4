// dfs status's counters agree with each other: the summary and the healer count under-replicated and
// unavailable chunks by one definition (src/cluster/replication.ts), also while a dead node's grace
// period runs; and capacity counts each device once (three folders on one disk are one disk).

import { statfs } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { clusterCapacity } from '../../src/cluster/capacity.js'
import { Healer } from '../../src/cluster/healer/Healer.js'
import { clusterStatus } from '../../src/namenode/status.js'
import { type HealCluster, makeHealCluster, randomChunk, until } from './healFixtures.js'

const KiB = 1024

let cluster: HealCluster | undefined
let healer: Healer | undefined
afterEach(async () => {
  await healer?.stop()
  healer = undefined
  await cluster?.cleanup()
  cluster = undefined
})

function summary(c: HealCluster, graceMs: number, h?: Healer) {
  return clusterStatus({
    mountpoint: '/mnt', meta: c.cluster.metaDir, startedAt: Date.now(), settings: c.cluster.settings,
    liveness: { intervalMs: 500, suspectAfterMs: 2000, deadAfterMs: 10_000, minFreeBytes: 0, log: () => {} },
    registry: c.registry, chunks: c.chunks, state: c.meta.state, graceMs, ...(h ? { isBadCopy: h.isKnownBad } : {}),
  })
}

describe('status counters', () => {
  it('the summary and the healer agree while a dead node waits out its grace period, and after', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    await c.addFile('a', [randomChunk(8 * KiB), randomChunk(8 * KiB), randomChunk(8 * KiB)], [[0, 1], [0, 2], [2, 3]])
    await c.addFile('b', [randomChunk(8 * KiB)], [[0, 1]])
    const graceMs = 60_000
    healer = new Healer({ meta: c.meta, chunks: c.chunks, registry: c.registry, replicas: 2, log: c.log, options: { graceMs, hintDelayMs: 10 } })
    healer.start()
    await until(() => healer!.status().scans >= 1, 60_000, 'the first scan')

    c.registry.markDead(c.nodes[0].nodeId, 'test')
    c.registry.markDead(c.nodes[1].nodeId, 'test')
    await healer.settle()
    const s = summary(c, graceMs, healer)
    const h = healer.status()
    // a/0 and b/0 lost both copies for now; a/1 has one; a/2 both.
    expect(s.chunks).toMatchObject({ referenced: 4, underReplicated: 1, unavailable: 2, waitingForGrace: 3, byCopies: [2, 1, 1] })
    expect({ underReplicated: h.underReplicated, unavailable: h.unavailable, waitingForGrace: h.waitingForGrace })
      .toEqual({ underReplicated: 1, unavailable: 2, waitingForGrace: 3 })
    expect(h.copiedChunks, 'nothing copied within the grace period').toBe(0)

    // Back: both say all is well.
    c.registry.markAlive(c.nodes[0].nodeId)
    c.registry.markAlive(c.nodes[1].nodeId)
    await healer.settle()
    expect(summary(c, graceMs, healer).chunks).toMatchObject({ underReplicated: 0, unavailable: 0, waitingForGrace: 0 })
    expect(healer.status()).toMatchObject({ underReplicated: 0, unavailable: 0, waitingForGrace: 0 })
  })

  it('a chunk with no intact copy on any node is unavailable in both, though its nodes are alive', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ino = await c.addFile('a', [randomChunk(8 * KiB), randomChunk(8 * KiB)], [[0, 1], [1, 2]])
    const ref = c.ref(ino, 0)
    await c.flipByte(0, ref.id)
    await c.flipByte(1, ref.id)
    healer = new Healer({ meta: c.meta, chunks: c.chunks, registry: c.registry, replicas: 2, log: c.log, options: { hintDelayMs: 10 } })
    healer.start()
    await until(() => healer!.status().scans >= 1, 60_000, 'the first scan')
    await expect(c.chunks.read(ref)).rejects.toMatchObject({ code: 'CHUNK_UNREADABLE' }) // reports both copies
    await until(() => healer!.status().lost === 1 && healer!.status().state === 'idle', 60_000, 'the repair to give up')
    expect(summary(c, 10_000, healer).chunks).toMatchObject({ referenced: 2, underReplicated: 0, unavailable: 1 })
    expect(healer.status()).toMatchObject({ underReplicated: 0, unavailable: 1, lost: 1 })
  })

  it('capacity counts three folders on one disk once, as df does', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    for (const node of c.nodes) c.registry.setUsage(node.nodeId, await node.usage())
    const devices = new Set(c.registry.statuses().map((s) => s.usage?.device))
    expect(devices.size).toBe(1)
    const disk = await statfs(c.dirs[0])
    const s = summary(c, 10_000)
    expect(s.totals.capacity).toBe(disk.blocks * disk.bsize)
    expect(s.totals.devices).toBe(1)
    expect(s.totals.usableCapacity).toBe(Math.floor((disk.blocks * disk.bsize) / 2))
  })

  it('a node that names no device (an older TCP server) counts on its own', () => {
    const usage = (device?: string) => ({ capacity: 100, available: 40, used: 1, chunks: 1, ...(device ? { device } : {}) })
    const total = clusterCapacity([
      { address: 'a', usage: usage('host:1') }, { address: 'b', usage: usage('host:1') },
      { address: 'tcp://c', usage: usage() }, { address: 'tcp://d', usage: usage() }, { address: 'e' },
    ], 2)
    expect(total).toEqual({ capacity: 300, available: 120, devices: 3, usableCapacity: 150, usableAvailable: 60 })
  })
})
