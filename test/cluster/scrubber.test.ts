// The scrubber on a real cluster of local-folder nodes: it finds a flipped byte without any read
// through the chunk store, hands the copy to the healer, which replaces it; and it keeps to its rate.

import { afterEach, describe, expect, it } from 'vitest'
import { fsck } from '../../src/cluster/fsck.js'
import { Healer } from '../../src/cluster/healer/Healer.js'
import { Scrubber } from '../../src/cluster/healer/Scrubber.js'
import { verifyChunk } from '../../src/chunks/verify.js'
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
})
