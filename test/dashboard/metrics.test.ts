// /metrics from a fake source: the text parses as Prometheus text with the families, types, labels
// and values the source holds; counters follow the source's running totals and never go down;
// histograms have cumulative buckets ending with +Inf equal to the count.

import { readFileSync } from 'node:fs'
import parsePrometheus from 'parse-prometheus-text-format'
import { describe, expect, it } from 'vitest'
import { createMetrics } from '../../src/dashboard/metrics.js'
import { nodeState } from '../../src/cluster/nodeState.js'
import { type ClientTotals, type MetricsSource } from '../../src/dashboard/metricsSource.js'
import { ClientTable } from '../../src/namenode/clients.js'
import { checkClientReport } from '../../src/protocol/checkClientReport.js'
import type { MetaTiming } from '../../src/meta/MetaStore.js'
import type { ClusterStatus, NodeReport } from '../../src/namenode/status.js'
import { LATENCY_BOUNDS_SECONDS, type ClientSummary, type NodeIo, type OpHistogram } from '../../src/protocol/clientStats.js'

interface Sample { labels?: Record<string, string>; value?: string }
interface Family { name: string; help: string; type: string; metrics: Sample[] }

const parse = (text: string): Map<string, Family> => new Map((parsePrometheus(text) as Family[]).map(f => [f.name, f]))

function node(nodeId: string, over: Partial<Omit<NodeReport, 'state'>> = {}): NodeReport {
  const report = { nodeId, address: `/data/${nodeId}`, health: 'alive', full: false, heartbeatAgeMs: 1500, capacity: 1000, available: 600, used: 300, chunks: 3, ...over }
  return { ...report, state: nodeState(report) }
}

const io = (n: number): NodeIo => ({ readBytes: n * 10, writeBytes: n * 20, reads: n, writes: n * 2 })

function histogram(counts: number[]): OpHistogram {
  const full = [...counts, ...new Array(LATENCY_BOUNDS_SECONDS.length + 1 - counts.length).fill(0)]
  return { counts: full, sum: 0.5, count: full.reduce((a, b) => a + b, 0) }
}

function client(id: string, over: Partial<ClientSummary> = {}): ClientSummary {
  return {
    id, host: `host-${id}`, mountpoint: `/mnt/${id}`, pid: 42, startedAt: 1_700_000_000_000, inProcess: false, connected: true, connectedAt: 1_700_000_000_000,
    counters: { ops: { read: histogram([1, 0, 2]), getattr: histogram([5]) }, nodes: { n1: io(1) }, failovers: 1 },
    opsPerSec: 0, readBytesPerSec: 0, writeBytesPerSec: 0, ...over,
  }
}

/** A source whose figures a test sets. */
class FakeSource implements MetricsSource {
  nodes: NodeReport[] = [
    node('n1'), node('n2'), node('n3', { health: 'dead', full: true }), node('n4', { health: 'suspect', draining: true }),
    node('n5', { full: true }), node('n6', { full: true, draining: true }),
  ]
  chunks = { referenced: 10, underReplicated: 2, unavailable: 1, waitingForGrace: 1, files: 4, byCopies: [1, 2, 7] }
  failovers = 3
  healer = { healedChunks: 4, badCopiesFound: 6, copiedChunks: 5, copiedBytes: 5000, queued: 2, state: 'healing', lost: 1, trimmedCopies: 0, corruptRemoved: 1, failed: 0, scans: 3, orphansRemoved: 0, orphansPending: 4 }
  scrubber = { scannedChunks: 8, scannedBytes: 8000, corruptFound: 1, missingFound: 2, passes: 1 }
  own: Record<string, NodeIo> = { n1: io(1), n2: io(2) }
  clientList: ClientSummary[] = [client('c1'), client('c2', { inProcess: true })]
  totals: ClientTotals = { nodes: { n1: io(3) }, failovers: 4 }
  readonly timingListeners = new Set<(t: MetaTiming) => void>()

  status(): ClusterStatus {
    return {
      mountpoint: '/meta', meta: '/meta', pid: 1, uptimeMs: 90_000, replicas: 2, chunkSize: 1 << 20,
      liveness: { heartbeatMs: 1000, suspectAfterMs: 5000, deadAfterMs: 30_000 },
      nodes: this.nodes,
      clients: this.clientList,
      totals: { capacity: 3000, available: 1800, used: 1200, nodes: 4, alive: 2, usableCapacity: 1500, usableAvailable: 900, devices: 3 },
      chunks: this.chunks,
      io: { writes: 0, underReplicatedWrites: 0, reads: 0, cacheHits: 0, failovers: this.failovers, badReplicas: 0, deleteFailures: 0, deletesDeferred: 0 },
      healer: { ...this.healer } as unknown as ClusterStatus['healer'],
      scrubber: { state: 'resting', bytesPerSec: 0, ...this.scrubber },
      rebalance: {
        id: 1, kind: 'drain', node: { nodeId: 'n4', address: '/data/n4' }, state: 'running', startedAt: 0, elapsedMs: 0, round: 1,
        plannedChunks: 4, plannedBytes: 4000, movedChunks: 1, movedBytes: 1000, skippedChunks: 0, failedChunks: 0, bytesPerSec: 0, remainingChunks: 3, nodes: [],
      },
    }
  }

  ownNodeIo = () => this.own
  clientTotals = () => this.totals
  onTiming(listener: (t: MetaTiming) => void): () => void {
    this.timingListeners.add(listener)
    return () => this.timingListeners.delete(listener)
  }

  time(timing: MetaTiming): void {
    for (const listener of this.timingListeners) listener(timing)
  }
}

function values(family: Family | undefined): Map<string, number> {
  if (!family) throw new Error('no such family')
  return new Map(family.metrics.map(m => [JSON.stringify(m.labels ?? {}), Number(m.value)]))
}
const key = (labels: Record<string, string> = {}) => JSON.stringify(labels)

interface Series { buckets: [string, number][]; sum: number; count: number }

/**
 * A histogram's series by their labels (le aside). The parser folds every series of a histogram into
 * one and drops labelled _sum and _count lines (parse-prometheus-text-format 1.1.1), so the
 * histogram's lines are parsed as untyped samples here, its TYPE line left out.
 */
function histogramSeries(text: string, name: string): Map<string, Series> {
  // Untyped, each run of _bucket, _sum or _count lines is a family of its own.
  const families = parsePrometheus(text.split('\n').filter(line => line !== `# TYPE ${name} histogram`).join('\n')) as Family[]
  const samples = (suffix: string) => families.filter(f => f.name === `${name}${suffix}`).flatMap(f => f.metrics)
  const out = new Map<string, Series>()
  const seriesOf = (labels: Record<string, string> = {}) => {
    const k = key(labels)
    if (!out.has(k)) out.set(k, { buckets: [], sum: NaN, count: NaN })
    return out.get(k)!
  }
  for (const m of samples('_bucket')) {
    const { le, ...labels } = m.labels!
    seriesOf(labels).buckets.push([le!, Number(m.value)])
  }
  for (const m of samples('_sum')) seriesOf(m.labels).sum = Number(m.value)
  for (const m of samples('_count')) seriesOf(m.labels).count = Number(m.value)
  return out
}

/** Buckets cumulative, in order of their bounds, the last +Inf holding the count. */
function expectCumulative(series: Series, bounds: readonly number[]): void {
  expect(series.buckets.map(([le]) => le)).toEqual([...bounds.map(String), '+Inf'])
  for (let i = 1; i < series.buckets.length; i++) expect(series.buckets[i]![1]).toBeGreaterThanOrEqual(series.buckets[i - 1]![1])
  expect(series.buckets.at(-1)![1]).toBe(series.count)
}

describe('metrics', () => {
  it('render the families with their types, labels and values', async () => {
    const source = new FakeSource()
    const metrics = createMetrics(source, { processMetrics: false })
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/)
    const families = parse(await metrics.render())

    const types: Record<string, string> = {
      dfs_nodes: 'GAUGE', dfs_node_state: 'GAUGE', dfs_node_stored_bytes: 'GAUGE', dfs_node_chunks: 'GAUGE',
      dfs_node_capacity_bytes: 'GAUGE', dfs_node_available_bytes: 'GAUGE', dfs_node_heartbeat_age_seconds: 'GAUGE',
      dfs_chunks_by_copies: 'GAUGE', dfs_chunks: 'GAUGE', dfs_chunks_under_replicated: 'GAUGE', dfs_chunks_unavailable: 'GAUGE',
      dfs_chunks_lost: 'GAUGE', dfs_files: 'GAUGE',
      dfs_node_read_bytes_total: 'COUNTER', dfs_node_written_bytes_total: 'COUNTER', dfs_node_reads_total: 'COUNTER', dfs_node_writes_total: 'COUNTER',
      dfs_read_failovers_total: 'COUNTER',
      dfs_healer_copied_chunks_total: 'COUNTER', dfs_healer_copied_bytes_total: 'COUNTER', dfs_healer_queued: 'GAUGE',
      dfs_scrubber_verified_chunks_total: 'COUNTER', dfs_scrubber_verified_bytes_total: 'COUNTER', dfs_scrubber_bad_copies_total: 'COUNTER',
      dfs_clients: 'GAUGE', dfs_client_info: 'GAUGE',
      dfs_client_fuse_op_duration_seconds: 'HISTOGRAM', dfs_journal_fsync_duration_seconds: 'HISTOGRAM', dfs_checkpoint_duration_seconds: 'HISTOGRAM',
      dfs_namenode_uptime_seconds: 'GAUGE',
    }
    for (const [name, type] of Object.entries(types)) expect(families.get(name)?.type, name).toBe(type)
    for (const name of families.keys()) expect(name).toMatch(/^dfs_[a-z_]+$/)

    // Each node in one state, the one dfs status shows (src/cluster/nodeState.ts): a dead or suspect
    // node is that, whether full or draining; an alive one says why it takes no new chunks.
    expect(values(families.get('dfs_nodes'))).toEqual(new Map([
      [key({ state: 'alive' }), 2], [key({ state: 'suspect' }), 1], [key({ state: 'dead' }), 1], [key({ state: 'full' }), 1], [key({ state: 'draining' }), 1],
    ]))
    const state = values(families.get('dfs_node_state'))
    expect(state.get(key({ node: 'n3', address: '/data/n3', state: 'dead' }))).toBe(1)
    expect(state.get(key({ node: 'n3', address: '/data/n3', state: 'full' }))).toBe(0)
    expect(state.get(key({ node: 'n3', address: '/data/n3', state: 'alive' }))).toBe(0)
    expect(state.get(key({ node: 'n5', address: '/data/n5', state: 'full' }))).toBe(1)
    expect(state.get(key({ node: 'n6', address: '/data/n6', state: 'draining' }))).toBe(1)
    expect(state.get(key({ node: 'n6', address: '/data/n6', state: 'alive' }))).toBe(0)
    expect(values(families.get('dfs_node_stored_bytes')).get(key({ node: 'n1', address: '/data/n1' }))).toBe(300)
    expect(values(families.get('dfs_node_chunks')).get(key({ node: 'n2', address: '/data/n2' }))).toBe(3)
    expect(values(families.get('dfs_node_capacity_bytes')).get(key({ node: 'n1', address: '/data/n1' }))).toBe(1000)
    expect(values(families.get('dfs_node_available_bytes')).get(key({ node: 'n1', address: '/data/n1' }))).toBe(600)
    expect(values(families.get('dfs_node_heartbeat_age_seconds')).get(key({ node: 'n1', address: '/data/n1' }))).toBe(1.5)

    expect(values(families.get('dfs_chunks_by_copies'))).toEqual(new Map([[key({ copies: '0' }), 1], [key({ copies: '1' }), 2], [key({ copies: '2' }), 7]]))
    expect(values(families.get('dfs_chunks_under_replicated')).get(key())).toBe(2)
    expect(values(families.get('dfs_chunks_unavailable')).get(key())).toBe(1)
    expect(values(families.get('dfs_chunks_lost')).get(key())).toBe(1)
    expect(values(families.get('dfs_files')).get(key())).toBe(4)
    expect(values(families.get('dfs_namenode_uptime_seconds')).get(key())).toBe(90)

    // The NameNode's own I/O plus the remote clients' totals; the in-process client is in the former.
    expect(values(families.get('dfs_node_written_bytes_total'))).toEqual(new Map([[key({ node: 'n1' }), 20 + 60], [key({ node: 'n2' }), 40]]))
    expect(values(families.get('dfs_node_reads_total')).get(key({ node: 'n1' }))).toBe(1 + 3)
    expect(values(families.get('dfs_read_failovers_total')).get(key())).toBe(3 + 4)

    expect(values(families.get('dfs_healer_healed_chunks_total')).get(key())).toBe(4)
    expect(values(families.get('dfs_healer_bad_copies_found_total')).get(key())).toBe(6)
    expect(values(families.get('dfs_healer_copied_chunks_total')).get(key())).toBe(5)
    expect(values(families.get('dfs_healer_copied_bytes_total')).get(key())).toBe(5000)
    expect(values(families.get('dfs_healer_queued')).get(key())).toBe(2)
    expect(values(families.get('dfs_healer_healing')).get(key())).toBe(1)
    expect(values(families.get('dfs_scrubber_verified_bytes_total')).get(key())).toBe(8000)
    expect(values(families.get('dfs_scrubber_bad_copies_total'))).toEqual(new Map([[key({ reason: 'corrupt' }), 1], [key({ reason: 'missing' }), 2]]))

    expect(values(families.get('dfs_rebalance_running'))).toEqual(new Map([[key({ kind: 'balance' }), 0], [key({ kind: 'drain' }), 1]]))
    expect(values(families.get('dfs_rebalance_moved_bytes'))).toEqual(new Map([[key({ kind: 'drain' }), 1000]]))
    expect(values(families.get('dfs_drain_remaining_chunks'))).toEqual(new Map([[key({ node: 'n4' }), 3]]))

    expect(values(families.get('dfs_clients')).get(key())).toBe(2)
    expect(values(families.get('dfs_client_info')).get(key({ client: 'c1', host: 'host-c1', mountpoint: '/mnt/c1', pid: '42' }))).toBe(1)
    metrics.close()
  })

  it('counters follow the source and never go down', async () => {
    const source = new FakeSource()
    const metrics = createMetrics(source, { processMetrics: false })
    const read = async (name: string, labels: Record<string, string> = {}) => values(parse(await metrics.render()).get(name)).get(key(labels))

    expect(await read('dfs_node_written_bytes_total', { node: 'n2' })).toBe(40)
    source.own = { ...source.own, n2: { ...io(2), writeBytes: 1040 } }
    expect(await read('dfs_node_written_bytes_total', { node: 'n2' })).toBe(1040)

    source.healer.healedChunks = 9
    expect(await read('dfs_healer_healed_chunks_total')).toBe(9)
    source.scrubber.scannedChunks = 20
    expect(await read('dfs_scrubber_verified_chunks_total')).toBe(20)

    // A sum that drops (a client's share gone from it) is not reported as a reset.
    source.totals = { nodes: {}, failovers: 0 }
    expect(await read('dfs_read_failovers_total')).toBe(7)
    expect(await read('dfs_node_written_bytes_total', { node: 'n1' })).toBe(80)
    source.failovers = 10
    expect(await read('dfs_read_failovers_total')).toBe(10)

    // Gauges follow both ways, and a node gone from the registry has no series left.
    source.nodes = [node('n1', { health: 'dead' })]
    const families = parse(await metrics.render())
    expect(values(families.get('dfs_nodes')).get(key({ state: 'dead' }))).toBe(1)
    expect(values(families.get('dfs_nodes')).get(key({ state: 'alive' }))).toBe(0)
    expect([...values(families.get('dfs_node_chunks')).keys()]).toEqual([key({ node: 'n1', address: '/data/n1' })])
    metrics.close()
  })

  it('histograms: cumulative buckets, the last +Inf equal to the count', async () => {
    const source = new FakeSource()
    const metrics = createMetrics(source, { processMetrics: false })
    source.time({ kind: 'fsync', seconds: 0.0002 })
    source.time({ kind: 'fsync', seconds: 0.003 })
    source.time({ kind: 'fsync', seconds: 20 })
    source.time({ kind: 'checkpoint', seconds: 0.2, seq: 5 })
    const text = await metrics.render()
    for (const name of ['dfs_client_fuse_op_duration_seconds', 'dfs_journal_fsync_duration_seconds', 'dfs_checkpoint_duration_seconds']) {
      expect(parse(text).get(name)?.type, name).toBe('HISTOGRAM')
    }

    const fuse = histogramSeries(text, 'dfs_client_fuse_op_duration_seconds')
    expect([...fuse.keys()].sort()).toEqual(['c1', 'c2'].flatMap(client => [key({ client, op: 'getattr' }), key({ client, op: 'read' })]).sort())
    for (const client of ['c1', 'c2']) {
      const read = fuse.get(key({ client, op: 'read' }))!
      expectCumulative(read, LATENCY_BOUNDS_SECONDS)
      expect(read.buckets.slice(0, 4).map(([, n]) => n)).toEqual([1, 1, 3, 3])
      expect(read.count).toBe(3)
      expect(read.sum).toBe(0.5)
      const getattr = fuse.get(key({ client, op: 'getattr' }))!
      expectCumulative(getattr, LATENCY_BOUNDS_SECONDS)
      expect(getattr.count).toBe(5)
    }

    const fsync = histogramSeries(text, 'dfs_journal_fsync_duration_seconds').get(key())!
    expectCumulative(fsync, LATENCY_BOUNDS_SECONDS)
    const fsyncBucket = (le: string) => fsync.buckets.find(([b]) => b === le)![1]
    expect([fsyncBucket('0.0001'), fsyncBucket('0.00025'), fsyncBucket('0.005'), fsyncBucket('10'), fsyncBucket('+Inf')]).toEqual([0, 1, 2, 2, 3])
    expect(fsync.sum).toBeCloseTo(20.0032)
    const checkpoint = histogramSeries(text, 'dfs_checkpoint_duration_seconds').get(key())!
    expect(checkpoint.count).toBe(1)
    expect(checkpoint.buckets.find(([le]) => le === '0.25')![1]).toBe(1)

    // close() stops listening: later timings are not observed.
    metrics.close()
    expect(source.timingListeners.size).toBe(0)
  })

  it('several in one process keep their own registries', async () => {
    const a = new FakeSource()
    const b = new FakeSource()
    b.chunks = { ...b.chunks, files: 99 }
    const ma = createMetrics(a)
    const mb = createMetrics(b)
    const fa = parse(await ma.render())
    const fb = parse(await mb.render())
    expect(values(fa.get('dfs_files')).get(key())).toBe(4)
    expect(values(fb.get('dfs_files')).get(key())).toBe(99)
    // Node.js process metrics, with their usual names.
    expect(fa.get('process_cpu_user_seconds_total')?.type).toBe('COUNTER')
    ma.close()
    mb.close()
  })
})

describe('docs/metrics.md', () => {
  it('lists every dfs_ metric, and none that is not there', async () => {
    const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8')
    const documented = new Set([...doc.matchAll(/^\| `(dfs_[a-z_]+)` \|/gm)].map(m => m[1]!))
    const metrics = createMetrics(new FakeSource(), { processMetrics: false })
    const rendered = new Set(parse(await metrics.render()).keys())
    metrics.close()
    expect([...rendered].sort()).toEqual([...documented].sort())
  })
})

describe('node ids from clients', () => {
  // A client names its nodes; "__proto__" from JSON is an own key like any other. Summed into a plain
  // object it was that object's prototype: Object.prototype.readBytes and the rest set in the NameNode.
  it('a node id "__proto__" from a client is a node like any other, not every object\'s prototype', async () => {
    const table = new ClientTable()
    const report = JSON.parse('{"about":{"host":"h","mountpoint":"/m","pid":1,"startedAt":1},' +
      '"counters":{"ops":{},"nodes":{"__proto__":{"readBytes":5,"writeBytes":6,"reads":1,"writes":2}},"failovers":0}}')
    table.report('evil', checkClientReport(report))
    const source = new FakeSource()
    source.clientList = table.list()
    source.totals = table.remoteTotals()
    const text = await createMetrics(source, { processMetrics: false }).render()
    expect(Object.prototype).not.toHaveProperty('readBytes')
    expect(values(parse(text).get('dfs_node_read_bytes_total')).get(key({ node: '__proto__' }))).toBe(5)
  })
})
