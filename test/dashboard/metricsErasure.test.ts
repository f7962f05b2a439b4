// /metrics on erasure coding: the measured storage overhead of each layout in use, as dfs status
// shows it, and stripes by shards missing.

import parsePrometheus from 'parse-prometheus-text-format'
import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../src/dashboard/metrics.js'
import type { MetricsSource } from '../../src/dashboard/metricsSource.js'
import type { ClusterStatus } from '../../src/namenode/status.js'

type Family = { name: string; metrics: { labels?: Record<string, string>; value?: string }[] }

function source(overhead: ClusterStatus['overhead'], byMissingShards?: number[]): MetricsSource {
  const status = {
    mountpoint: '/meta', meta: '/meta', pid: 1, uptimeMs: 1000, replicas: 2, chunkSize: 1 << 20, clients: [],
    liveness: { heartbeatMs: 1000, suspectAfterMs: 5000, deadAfterMs: 30_000 }, nodes: [],
    totals: { capacity: 0, available: 0, used: 0, nodes: 0, alive: 0, usableCapacity: 0, usableAvailable: 0, devices: 0 },
    chunks: { referenced: 3, underReplicated: 0, unavailable: 0, waitingForGrace: 0, files: 2, byCopies: [0, 0, 3], ...(byMissingShards ? { byMissingShards } : {}) },
    io: { writes: 0, underReplicatedWrites: 0, reads: 0, cacheHits: 0, failovers: 0, badReplicas: 0, deleteFailures: 0, deletesDeferred: 0 },
    ...(overhead ? { overhead } : {}),
  } as unknown as ClusterStatus
  return { status: () => status, ownNodeIo: () => ({}), clientTotals: () => ({ nodes: {}, failovers: 0 }), onTiming: () => () => {} }
}

describe('metrics of the storage overhead', () => {
  it('one series per layout: the ratio, the data bytes, the stored bytes and the chunks', async () => {
    const metrics = createMetrics(source([
      { layout: 'ec:4+2', chunks: 2, dataBytes: 8000, storedBytes: 12000, overhead: 1.5, nominal: 1.5 },
      { layout: 'replicas:2', chunks: 1, dataBytes: 100, storedBytes: 200, overhead: 2, nominal: 2 },
    ]), { processMetrics: false })
    const families = new Map((parsePrometheus(await metrics.render()) as Family[]).map(f => [f.name, f]))
    const series = (name: string) => Object.fromEntries((families.get(name)?.metrics ?? []).map(m => [m.labels?.layout, Number(m.value)]))
    expect(series('dfs_storage_overhead_ratio')).toEqual({ 'ec:4+2': 1.5, 'replicas:2': 2 })
    expect(series('dfs_layout_data_bytes')).toEqual({ 'ec:4+2': 8000, 'replicas:2': 100 })
    expect(series('dfs_layout_stored_bytes')).toEqual({ 'ec:4+2': 12000, 'replicas:2': 200 })
    expect(series('dfs_layout_chunks')).toEqual({ 'ec:4+2': 2, 'replicas:2': 1 })
    metrics.close()
  })

  it('none from a status without it (an older NameNode, no stripes)', async () => {
    const metrics = createMetrics(source(undefined), { processMetrics: false })
    const families = new Map((parsePrometheus(await metrics.render()) as Family[]).map(f => [f.name, f]))
    expect(families.get('dfs_storage_overhead_ratio')?.metrics ?? []).toEqual([])
    expect(families.get('dfs_chunks_by_missing_shards')?.metrics ?? []).toEqual([])
    metrics.close()
  })

  it('stripes by shards missing', async () => {
    const metrics = createMetrics(source(undefined, [7, 2, 0, 1]), { processMetrics: false })
    const families = new Map((parsePrometheus(await metrics.render()) as Family[]).map(f => [f.name, f]))
    const series = Object.fromEntries((families.get('dfs_chunks_by_missing_shards')?.metrics ?? []).map(m => [m.labels?.missing, Number(m.value)]))
    expect(series).toEqual({ 0: 7, 1: 2, 2: 0, 3: 1 })
    metrics.close()
  })
})
