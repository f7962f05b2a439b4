// dfs status on erasure coding: stripes by shards missing, and the measured overhead per layout.

import { describe, expect, it } from 'vitest'
import { formatMissingShards, formatStatus } from '../../src/cli/status.js'
import type { ClusterStatus } from '../../src/namenode/status.js'

function status(extra: Partial<ClusterStatus>, chunks: Record<string, unknown> = {}): ClusterStatus {
  return {
    mountpoint: '/mnt/dfs', meta: '/meta', pid: 1, uptimeMs: 60_000, replicas: 2, chunkSize: 1 << 20, clients: [],
    liveness: { heartbeatMs: 500, suspectAfterMs: 2000, deadAfterMs: 10_000 }, nodes: [],
    totals: { capacity: 0, available: 0, used: 0, nodes: 0, alive: 0, usableCapacity: 0, usableAvailable: 0, devices: 1 },
    chunks: { referenced: 9, underReplicated: 1, unavailable: 1, waitingForGrace: 0, files: 2, byCopies: [0, 0, 2], ...chunks },
    io: { writes: 0, underReplicatedWrites: 0, reads: 0, cacheHits: 0, failovers: 0, badReplicas: 0, deleteFailures: 0, deletesDeferred: 0 },
    ...extra,
  } as unknown as ClusterStatus
}

describe('dfs status on erasure coding', () => {
  it('counts stripes by shards missing, leaving out the empty counts', () => {
    expect(formatMissingShards([5, 1, 0, 1])).toBe('5 whole, 1 missing 1 shard, 1 missing 3 shards')
    expect(formatMissingShards([0])).toBe('0 whole')
    const lines = formatStatus(status({}, { byMissingShards: [5, 1, 0, 1] })).split('\n')
    expect(lines).toContain('stripes: 5 whole, 1 missing 1 shard, 1 missing 3 shards')
  })

  it('says nothing of stripes or overhead when the status has none (no erasure coding, an older daemon)', () => {
    const text = formatStatus(status({}))
    expect(text).not.toMatch(/stripes:|storage overhead/)
  })

  it('prints the overhead of each layout in use', () => {
    const lines = formatStatus(status({
      overhead: [{ layout: 'ec:4+2', chunks: 2048, dataBytes: 8 * 2 ** 30, storedBytes: 12 * 2 ** 30, overhead: 1.5, nominal: 1.5 }],
    })).split('\n')
    const at = lines.indexOf('storage overhead (bytes on nodes ÷ bytes of file data):')
    expect(lines[at + 1]).toBe('  ec:4+2  1.50× (12 GiB on nodes for 8.0 GiB of data)')
  })
})
