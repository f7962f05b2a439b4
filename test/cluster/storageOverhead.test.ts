// The measured storage overhead per layout (bytes on nodes ÷ bytes of file data), tallied in the
// census's walk: dfs status shows it per layout in use; a stripe counts each shard on its node
// (padding included), a replicated chunk each listed copy; a missing shard or copy costs nothing.

import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { formatOverhead, OverheadTally } from '../../src/cluster/storageOverhead.js'
import { clusterStatus } from '../../src/namenode/status.js'
import { formatStatus } from '../../src/cli/status.js'
import { type HealCluster, makeHealCluster, randomChunk } from './healFixtures.js'
import { addFileOfRefs, storeStripe } from './stripeFixtures.js'

const KiB = 1024
const GiB = 1024 * 1024 * KiB

const copies = (len: number, nodes: string[], extra: Partial<ChunkRef> = {}): ChunkRef => ({ id: 'c', len, sha256: '', nodes, ...extra })
const stripe = (len: number, k: number, m: number, shardLen: number, lost = 0): ChunkRef => ({
  id: 's', len, sha256: '', nodes: [],
  ec: { k, m, shards: Array.from({ length: k + m }, (_, i) => ({ id: `s${i}`, len: shardLen, sha256: '', nodes: i < lost ? [] : [`n${i}`] })) },
})

describe('OverheadTally', () => {
  it('per layout: bytes on nodes over bytes of data, the most data first', () => {
    const tally = new OverheadTally(2)
    tally.add(copies(1000, ['a', 'b']))
    tally.add(copies(1000, ['a'])) // short of a copy: costs what is stored
    tally.add(copies(500, ['a', 'b', 'c'], { copies: 3 }))
    tally.add(stripe(4000, 2, 1, 2000))
    tally.add(stripe(1000, 2, 1, 504)) // padded to a multiple of 8 per shard
    tally.add(stripe(4000, 2, 1, 2000, 1)) // a shard lost
    expect(tally.result()).toEqual([
      { layout: 'ec:2+1', chunks: 3, dataBytes: 9000, storedBytes: 6000 + 1512 + 4000, overhead: 11512 / 9000, nominal: 1.5 },
      { layout: 'replicas:2', chunks: 2, dataBytes: 2000, storedBytes: 3000, overhead: 1.5, nominal: 2 },
      { layout: 'replicas:3', chunks: 1, dataBytes: 500, storedBytes: 1500, overhead: 3, nominal: 3 },
    ])
  })

  it('a node listed twice holds one copy', () => {
    const tally = new OverheadTally(2)
    tally.add(copies(1000, ['a', 'b', 'a']))
    expect(tally.result()[0]).toMatchObject({ layout: 'replicas:2', storedBytes: 2000, overhead: 2 })
  })

  it('says it as the issue does', () => {
    expect(formatOverhead({ layout: 'ec:4+2', chunks: 2048, dataBytes: 8 * GiB, storedBytes: 12 * GiB, overhead: 1.5, nominal: 1.5 }))
      .toBe('ec:4+2  1.50× (12 GiB on nodes for 8.0 GiB of data)')
  })
})

let cluster: HealCluster | undefined
afterEach(async () => {
  await cluster?.cleanup()
  cluster = undefined
})

describe('dfs status', () => {
  it('shows the measured overhead of each layout in use, from the same walk as the chunk counts', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    await c.addFile('plain', [randomChunk(64 * KiB), randomChunk(16 * KiB)], [[0, 1], [2, 3]])
    // One stripe put by hand, one written by the ChunkStore.
    const written = await c.chunks.write(randomChunk(64 * KiB), { kind: 'ec', k: 2, m: 1 })
    await c.chunks.sync([written])
    await addFileOfRefs(c, 'coded', [await storeStripe(c, randomChunk(64 * KiB), 2, 1, [0, 1, 2]), written])
    const s = clusterStatus({
      mountpoint: '/mnt', meta: c.cluster.metaDir, startedAt: Date.now(), settings: c.cluster.settings,
      liveness: { intervalMs: 500, suspectAfterMs: 2000, deadAfterMs: 10_000, minFreeBytes: 0, log: () => {} },
      registry: c.registry, chunks: c.chunks, state: c.meta.state, graceMs: 60_000,
    })
    expect(s.chunks.referenced).toBe(4)
    expect(s.overhead?.map((o) => [o.layout, o.chunks, o.dataBytes, o.storedBytes, o.overhead])).toEqual([
      ['ec:2+1', 2, 128 * KiB, 192 * KiB, 1.5],
      ['replicas:2', 2, 80 * KiB, 160 * KiB, 2],
    ])
    const text = formatStatus(s).split('\n')
    const at = text.indexOf('storage overhead (bytes on nodes ÷ bytes of file data):')
    expect(at).toBeGreaterThan(0)
    expect(text.slice(at + 1, at + 3)).toEqual([
      '  ec:2+1  1.50× (192 KiB on nodes for 128 KiB of data)',
      '  replicas:2  2.00× (160 KiB on nodes for 80 KiB of data)',
    ])
  })
})
