// The scrubber on erasure-coded chunks: every shard of a stripe is read and verified against its own
// SHA-256, like a copy; a corrupt or missing shard is handed on as (the stripe's ref, the node of the
// shard), which is how the healer keys the stripe's repair.

import { unlink } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { Scrubber } from '../../src/cluster/healer/Scrubber.js'
import { shardLength } from '../../src/chunks/layout.js'
import { type HealCluster, makeHealCluster, randomChunk, until } from './healFixtures.js'
import { addFileOfRefs, shardOf, storeStripe } from './stripeFixtures.js'

const KiB = 1024
const MiB = 1024 * KiB

let cluster: HealCluster | undefined
const stops: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
  await cluster?.cleanup()
  cluster = undefined
})

describe('Scrubber on stripes', () => {
  it('verifies each shard, and reports a corrupt and a missing shard by the stripe and the node', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const len = 40 * KiB + 3
    const stripe = await storeStripe(c, randomChunk(len), 2, 1, [0, 1, 2])
    const copy = await c.storeOn(randomChunk(8 * KiB), [2, 3])
    const ino = await addFileOfRefs(c, 'f', [stripe, copy])
    await c.flipByte(1, shardOf(c, ino, 0, 1).id, 777)
    await unlink(c.chunkPath(2, shardOf(c, ino, 0, 2).id))

    const reports: { ref: ChunkRef; nodeId: string; code: string }[] = []
    const scrubber = new Scrubber({
      meta: c.meta, registry: c.registry, log: c.log,
      onBadCopy: (ref, nodeId, reason) => reports.push({ ref, nodeId, code: reason.code }),
      options: { bytesPerSec: 64 * MiB, restMs: 60_000 },
    })
    scrubber.start()
    stops.push(() => scrubber.stop())
    await until(() => scrubber.status().passes >= 1, 30_000, 'a pass')

    const byNode = (i: number) => c.nodes[i].nodeId
    expect(reports.map((r) => [r.ref.id, r.nodeId, r.code]).sort()).toEqual([
      [stripe.id, byNode(1), 'CHUNK_CORRUPT'],
      [stripe.id, byNode(2), 'CHUNK_MISSING'],
    ].sort())
    expect(reports[0].ref.ec?.shards).toHaveLength(3)
    const shardLen = shardLength(len, 2)
    expect(scrubber.status()).toMatchObject({ corruptFound: 1, missingFound: 1, scannedChunks: 2, scannedBytes: 3 * shardLen + 2 * 8 * KiB })
    // Verified: the intact shard on its node, by the shard's own id; the bad ones not.
    expect(scrubber.verified.get(shardOf(c, ino, 0, 0).id, byNode(0))).toBeGreaterThan(0)
    expect(scrubber.verified.get(shardOf(c, ino, 0, 1).id, byNode(1))).toBeUndefined()
    expect(c.logs.join('\n')).toMatch(new RegExp(`shard 1 \\(${shardOf(c, ino, 0, 1).id}\\) of chunk ${stripe.id} on node .* is corrupt`))
  })

  it('checks a stripe the ChunkStore wrote: intact, then a flipped shard reported', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const ref = await c.chunks.write(randomChunk(48 * KiB), { kind: 'ec', k: 2, m: 2 })
    await c.chunks.sync([ref])
    const ino = await addFileOfRefs(c, 'w', [ref])
    const victim = shardOf(c, ino, 0, 3)
    await c.flipByte(c.indexOf(victim.nodes[0]), victim.id)
    const reports: [string, string][] = []
    const scrubber = new Scrubber({
      meta: c.meta, registry: c.registry, log: c.log,
      onBadCopy: (bad, nodeId) => reports.push([bad.id, nodeId]),
      options: { bytesPerSec: 64 * MiB, restMs: 60_000 },
    })
    scrubber.start()
    stops.push(() => scrubber.stop())
    await until(() => scrubber.status().passes >= 1, 30_000, 'a pass')
    expect(reports).toEqual([[ref.id, victim.nodes[0]]])
    expect(scrubber.status()).toMatchObject({ corruptFound: 1, missingFound: 0, scannedBytes: 4 * 24 * KiB })
  })

  it('a file that moves on while its stripe waits its turn costs only that chunk: the chunks after it in the batch are still checked', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const busy = await addFileOfRefs(c, 'busy', [await storeStripe(c, randomChunk(16 * KiB), 2, 1, [0, 1, 2])])
    const cold = await storeStripe(c, randomChunk(16 * KiB), 2, 1, [0, 1, 2])
    const ino = await addFileOfRefs(c, 'cold', [cold])
    await c.flipByte(2, shardOf(c, ino, 0, 2).id) // its parity shard rotted
    // The busy file is rewritten while the scrubber waits to read its first shard (here: as it
    // looks at that shard's node).
    let rewritten = false
    const registry = {
      get: (nodeId: string) => c.registry.get(nodeId),
      health: (nodeId: string) => {
        if (!rewritten) {
          rewritten = true
          c.meta.commit({ op: 'chunk', ino: busy, index: 0, ref: null, size: 0, mtime: Date.now(), ctime: Date.now() })
        }
        return c.registry.health(nodeId)
      },
    }
    const reports: [string, string][] = []
    const scrubber = new Scrubber({
      meta: c.meta, registry, log: c.log,
      onBadCopy: (bad, nodeId) => reports.push([bad.id, nodeId]),
      options: { bytesPerSec: 64 * MiB, restMs: 60_000 },
    })
    scrubber.start()
    stops.push(() => scrubber.stop())
    await until(() => scrubber.status().passes >= 1, 30_000, 'a pass')
    expect(rewritten).toBe(true)
    expect(reports, 'the rotten parity shard of the file after it').toEqual([[cold.id, c.nodes[2].nodeId]])
    expect(scrubber.status()).toMatchObject({ corruptFound: 1, scannedChunks: 1 })
  })

  it('does not read a shard again while the healer has it reported', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const stripe = await storeStripe(c, randomChunk(16 * KiB), 2, 1, [0, 1, 2])
    const ino = await addFileOfRefs(c, 'f', [stripe])
    await c.flipByte(0, shardOf(c, ino, 0, 0).id)
    const reports: string[] = []
    const scrubber = new Scrubber({
      meta: c.meta, registry: c.registry, log: c.log,
      onBadCopy: (_ref, nodeId) => reports.push(nodeId),
      // As the healer keys it: the stripe's chunk id and the node.
      isReported: (nodeId, chunkId) => nodeId === c.nodes[0].nodeId && chunkId === stripe.id,
      options: { bytesPerSec: 64 * MiB, restMs: 60_000 },
    })
    scrubber.start()
    stops.push(() => scrubber.stop())
    await until(() => scrubber.status().passes >= 1, 30_000, 'a pass')
    expect(reports).toEqual([])
    expect(scrubber.status().scannedBytes).toBe(2 * shardLength(16 * KiB, 2))
  })
})
