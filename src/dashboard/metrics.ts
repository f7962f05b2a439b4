// /metrics for one NameNode: Prometheus text from a prom-client Registry of its own (never the global
// one: several NameNodes in one process, as in the tests, must not share series). Figures kept
// elsewhere (node usage, chunk counts, healer and scrubber totals, client counters) are read once
// per scrape from the source; journal fsync and checkpoint times are observed as they happen.
// docs/metrics.md lists every metric.

import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'
import type { MetaTiming } from '../meta/MetaStore.js'
import { NameNodeHost } from '../namenode/openNameNode.js'
import type { ClusterStatus } from '../namenode/status.js'
import type { LayoutOverhead } from '../cluster/storageOverhead.js'
import type { RebalanceStatus } from '../cluster/rebalance/Rebalancer.js'
import { NODE_STATES } from '../cluster/nodeState.js'
import { addNodeIo, emptyNodeIo, ioByNode, LATENCY_BOUNDS_SECONDS, type ClientSummary, type NodeIo } from '../protocol/clientStats.js'
import { cumulativeCounter, type HistogramSample, type Sample, snapshotGauge, snapshotHistogram } from './metricKinds.js'
import { type ClientTotals, hostSource, type MetricsSource } from './metricsSource.js'

export interface Metrics {
  /** The Content-Type header to serve render()'s text with. */
  readonly contentType: string
  /** Every metric, in the Prometheus text format. */
  render(): Promise<string>
  /** Stop listening to the metadata store. */
  close(): void
}

export interface MetricsOptions {
  /** Node.js process metrics (process_*, nodejs_*) as well; default true. */
  processMetrics?: boolean
}


const CHECKPOINT_BOUNDS_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

/** What one scrape reads from the source, once for every metric. */
interface Scrape {
  status: ClusterStatus
  clients: ClientSummary[]
  io: Record<string, NodeIo>
  failovers: number
}

export function createMetrics(from: MetricsSource | NameNodeHost, opts: MetricsOptions = {}): Metrics {
  const source = from instanceof NameNodeHost ? hostSource(from) : from
  const registry = new Registry()
  let scrape: Scrape | undefined
  const current = (): Scrape => {
    if (!scrape) throw new Error('metrics read outside render()')
    return scrape
  }

  defineClusterMetrics(registry, current)
  defineIoMetrics(registry, current)
  defineServiceMetrics(registry, current)
  defineRebalanceMetrics(registry, current)
  defineClientMetrics(registry, current)
  const unsubscribe = defineTimings(registry, source)
  // prom-client's GC observer and event-loop monitor are not undone by close(): one NameNode per
  // process keeps one of each; tests that make many pass processMetrics: false.
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry })

  return {
    contentType: registry.contentType,
    async render() {
      const status = source.status()
      const totals = source.clientTotals()
      scrape = {
        status,
        clients: status.clients,
        io: addIo(source.ownNodeIo(), totals.nodes),
        failovers: status.io.failovers + totals.failovers,
      }
      return registry.metrics()
    },
    close() {
      unsubscribe()
    },
  }
}

function defineClusterMetrics(registry: Registry, current: () => Scrape): void {
  const nodes = () => current().status.nodes
  const perNode = (value: (n: ClusterStatus['nodes'][number]) => number | undefined) => () =>
    nodes().flatMap(n => {
      const v = value(n)
      return v === undefined ? [] : [{ labels: { node: n.nodeId, address: n.address }, value: v }]
    })
  const nodeLabels = ['node', 'address']

  snapshotGauge(registry, { name: 'dfs_nodes', help: 'DataNodes by state (alive, suspect, dead; an alive node taking no new chunks: draining or full), each node in one.', labelNames: ['state'] }, () =>
    NODE_STATES.map(state => ({ labels: { state }, value: nodes().filter(n => n.state === state).length })))
  snapshotGauge(registry, { name: 'dfs_node_state', help: 'A DataNode\'s state: 1 for its state (alive, suspect, dead, draining or full), 0 for the others.', labelNames: [...nodeLabels, 'state'] }, () =>
    nodes().flatMap(n => NODE_STATES.map(state => ({ labels: { node: n.nodeId, address: n.address, state }, value: n.state === state ? 1 : 0 }))))
  snapshotGauge(registry, { name: 'dfs_node_full', help: '1 when the DataNode has no room for chunks.', labelNames: nodeLabels }, perNode(n => (n.full ? 1 : 0)))
  snapshotGauge(registry, { name: 'dfs_node_draining', help: '1 while the DataNode is being drained (dfs drain).', labelNames: nodeLabels }, perNode(n => (n.draining ? 1 : 0)))
  snapshotGauge(registry, { name: 'dfs_node_heartbeat_age_seconds', help: 'Time since the DataNode last answered.', labelNames: nodeLabels }, perNode(n => n.heartbeatAgeMs / 1000))
  snapshotGauge(registry, { name: 'dfs_node_stored_bytes', help: 'Bytes of chunks the DataNode stores.', labelNames: nodeLabels }, perNode(n => n.used))
  snapshotGauge(registry, { name: 'dfs_node_chunks', help: 'Chunks the DataNode stores.', labelNames: nodeLabels }, perNode(n => n.chunks))
  snapshotGauge(registry, { name: 'dfs_node_capacity_bytes', help: 'Size of the device the DataNode stores on.', labelNames: nodeLabels }, perNode(n => n.capacity))
  snapshotGauge(registry, { name: 'dfs_node_available_bytes', help: 'Free space on the device the DataNode stores on.', labelNames: nodeLabels }, perNode(n => n.available))

  const totals = () => current().status.totals
  const one = (value: () => number) => () => [{ labels: {}, value: value() }]
  snapshotGauge(registry, { name: 'dfs_capacity_bytes', help: 'Size of the devices the DataNodes store on, each device once.' }, one(() => totals().capacity))
  snapshotGauge(registry, { name: 'dfs_available_bytes', help: 'Free space on those devices, each device once.' }, one(() => totals().available))
  snapshotGauge(registry, { name: 'dfs_usable_capacity_bytes', help: 'What files can take with R copies of each chunk (what df shows for the mount).' }, one(() => totals().usableCapacity))
  snapshotGauge(registry, { name: 'dfs_usable_available_bytes', help: 'What files can still take with R copies of each chunk.' }, one(() => totals().usableAvailable))
  snapshotGauge(registry, { name: 'dfs_replicas', help: 'Copies the cluster keeps of each chunk (R).' }, one(() => current().status.replicas))

  const chunks = () => current().status.chunks
  snapshotGauge(registry, { name: 'dfs_chunks_by_copies', help: 'Replicated chunks by number of intact copies on live nodes (0: unavailable now); erasure-coded ones are in dfs_chunks_by_missing_shards, and dfs_chunks_unavailable counts both.', labelNames: ['copies'] }, () => {
    // 0 .. R always there (the census's rule), so a panel or alert has a series to read even when it is 0.
    return chunks().byCopies.map((value, copies) => ({ labels: { copies }, value }))
  })
  snapshotGauge(registry, { name: 'dfs_chunks_by_missing_shards', help: 'Erasure-coded chunks by number of shards not intact on a live node (0: whole; more than m: unavailable now).', labelNames: ['missing'] }, () =>
    ((chunks() as { byMissingShards?: number[] }).byMissingShards ?? []).map((value, missing) => ({ labels: { missing }, value })))
  snapshotGauge(registry, { name: 'dfs_chunks', help: 'Chunks files reference.' }, one(() => chunks().referenced))
  snapshotGauge(registry, { name: 'dfs_chunks_under_replicated', help: 'Chunks with 1 .. R-1 intact copies on live nodes.' }, one(() => chunks().underReplicated))
  snapshotGauge(registry, { name: 'dfs_chunks_unavailable', help: 'Chunks a read fails on now: replicated ones with no intact copy on a live node, erasure-coded ones with fewer than k intact shards.' }, one(() => chunks().unavailable))
  snapshotGauge(registry, { name: 'dfs_chunks_waiting_for_grace', help: 'Of the under-replicated and unavailable chunks, those whose missing copies are on nodes that may come back within the grace period.' }, one(() => chunks().waitingForGrace))
  snapshotGauge(registry, { name: 'dfs_chunks_lost', help: 'Chunks the healer found no intact copy of anywhere.' }, one(() => current().status.healer?.lost ?? 0))
  snapshotGauge(registry, { name: 'dfs_files', help: 'Files in the namespace.' }, one(() => chunks().files))
  // Per layout in use (replicas:2, ec:4+2, ...): measured bytes on nodes ÷ bytes of file data (cluster/storageOverhead.ts).
  const overhead = (value: (o: LayoutOverhead) => number) => () => (current().status.overhead ?? []).map(o => ({ labels: { layout: o.layout }, value: value(o) }))
  snapshotGauge(registry, { name: 'dfs_storage_overhead_ratio', help: 'Bytes the chunks of a layout occupy on nodes over the bytes of file data they hold (measured: 2 for two copies, 1.5 for ec:4+2).', labelNames: ['layout'] }, overhead(o => o.overhead))
  snapshotGauge(registry, { name: 'dfs_layout_data_bytes', help: 'Bytes of file data stored in a layout (the chunks\' lengths).', labelNames: ['layout'] }, overhead(o => o.dataBytes))
  snapshotGauge(registry, { name: 'dfs_layout_stored_bytes', help: 'Bytes on nodes for the chunks of a layout (each listed copy, or each shard on its node).', labelNames: ['layout'] }, overhead(o => o.storedBytes))
  snapshotGauge(registry, { name: 'dfs_layout_chunks', help: 'Chunks stored in a layout.', labelNames: ['layout'] }, overhead(o => o.chunks))
  snapshotGauge(registry, { name: 'dfs_namenode_uptime_seconds', help: 'Time since this NameNode started.' }, one(() => current().status.uptimeMs / 1000))
}

function defineIoMetrics(registry: Registry, current: () => Scrape): void {
  const perNode = (field: keyof NodeIo) => () =>
    Object.entries(current().io).map(([node, io]): Sample => ({ labels: { node }, value: io[field] }))
  const labelNames = ['node']
  cumulativeCounter(registry, { name: 'dfs_node_read_bytes_total', help: 'Chunk bytes read from the DataNode, by the NameNode and every client.', labelNames }, perNode('readBytes'))
  cumulativeCounter(registry, { name: 'dfs_node_written_bytes_total', help: 'Chunk bytes written to the DataNode, by the NameNode and every client.', labelNames }, perNode('writeBytes'))
  cumulativeCounter(registry, { name: 'dfs_node_reads_total', help: 'Chunk reads from the DataNode, by the NameNode and every client.', labelNames }, perNode('reads'))
  cumulativeCounter(registry, { name: 'dfs_node_writes_total', help: 'Chunk writes to the DataNode, by the NameNode and every client.', labelNames }, perNode('writes'))
  cumulativeCounter(registry, { name: 'dfs_read_failovers_total', help: 'Chunk reads that had to go to another copy, by the NameNode and every client.' }, () => [{ labels: {}, value: current().failovers }])
}

function defineServiceMetrics(registry: Registry, current: () => Scrape): void {
  // A status without a healer (none runs) has no healer series.
  const healer = <K extends keyof NonNullable<ClusterStatus['healer']>>(key: K) => (): Sample[] => {
    const status = current().status.healer
    return status ? [{ labels: {}, value: Number(status[key]) }] : []
  }
  cumulativeCounter(registry, { name: 'dfs_healer_healed_chunks_total', help: 'Chunks the healer gave at least one new copy.' }, healer('healedChunks'))
  cumulativeCounter(registry, { name: 'dfs_healer_bad_copies_found_total', help: 'Copies the healer found missing or corrupt, whoever reported them (a read, the scrubber, a move).' }, healer('badCopiesFound'))
  cumulativeCounter(registry, { name: 'dfs_healer_copied_chunks_total', help: 'Chunk copies the healer made.' }, healer('copiedChunks'))
  cumulativeCounter(registry, { name: 'dfs_healer_copied_bytes_total', help: 'Bytes the healer copied.' }, healer('copiedBytes'))
  cumulativeCounter(registry, { name: 'dfs_healer_trimmed_copies_total', help: 'Copies beyond R the healer deleted.' }, healer('trimmedCopies'))
  cumulativeCounter(registry, { name: 'dfs_healer_corrupt_removed_total', help: 'Corrupt copies the healer deleted.' }, healer('corruptRemoved'))
  cumulativeCounter(registry, { name: 'dfs_healer_failed_total', help: 'Repairs that failed (a later scan retries them).' }, healer('failed'))
  cumulativeCounter(registry, { name: 'dfs_healer_scans_total', help: 'Full scans of the namespace the healer finished.' }, healer('scans'))
  cumulativeCounter(registry, { name: 'dfs_orphans_removed_total', help: 'Chunk files no file references that were deleted.' }, healer('orphansRemoved'))
  snapshotGauge(registry, { name: 'dfs_healer_queued', help: 'Chunks waiting for a healer worker.' }, healer('queued'))
  snapshotGauge(registry, { name: 'dfs_healer_healing', help: '1 while the healer is copying.' }, () => {
    const status = current().status.healer
    return status ? [{ labels: {}, value: status.state === 'healing' ? 1 : 0 }] : []
  })
  snapshotGauge(registry, { name: 'dfs_orphans_pending', help: 'Unreferenced chunk files waiting out their grace period.' }, healer('orphansPending'))

  const scrubber = <K extends keyof NonNullable<ClusterStatus['scrubber']>>(key: K) => (): Sample[] => {
    const status = current().status.scrubber
    return status ? [{ labels: {}, value: Number(status[key]) }] : []
  }
  cumulativeCounter(registry, { name: 'dfs_scrubber_verified_chunks_total', help: 'Chunk copies the scrubber read back and checked.' }, scrubber('scannedChunks'))
  cumulativeCounter(registry, { name: 'dfs_scrubber_verified_bytes_total', help: 'Bytes the scrubber read back and checked.' }, scrubber('scannedBytes'))
  cumulativeCounter(registry, { name: 'dfs_scrubber_bad_copies_total', help: 'Bad copies the scrubber found: corrupt (failed the check twice) or missing (listed, not there).', labelNames: ['reason'] }, () => {
    const status = current().status.scrubber
    return status ? [{ labels: { reason: 'corrupt' }, value: status.corruptFound }, { labels: { reason: 'missing' }, value: status.missingFound }] : []
  })
  cumulativeCounter(registry, { name: 'dfs_scrubber_passes_total', help: 'Passes over every chunk the scrubber finished.' }, scrubber('passes'))
}

/** The balance or drain running now, else the last one (dfs balance, dfs drain): gauges of that job. */
function defineRebalanceMetrics(registry: Registry, current: () => Scrape): void {
  const job = (value: (r: RebalanceStatus) => number | undefined) => (): Sample[] => {
    const r = current().status.rebalance
    const v = r && value(r)
    return r && v !== undefined ? [{ labels: { kind: r.kind }, value: v }] : []
  }
  snapshotGauge(registry, { name: 'dfs_rebalance_running', help: '1 while a balance or drain runs (kind), 0 for the other kind.', labelNames: ['kind'] }, () => {
    const r = current().status.rebalance
    return (['balance', 'drain'] as const).map(kind => ({ labels: { kind }, value: r?.kind === kind && r.state === 'running' ? 1 : 0 }))
  })
  snapshotGauge(registry, { name: 'dfs_rebalance_planned_bytes', help: 'Bytes the balance or drain running (else the last one) planned to move so far.', labelNames: ['kind'] }, job(r => r.plannedBytes))
  snapshotGauge(registry, { name: 'dfs_rebalance_moved_bytes', help: 'Bytes the balance or drain running (else the last one) moved.', labelNames: ['kind'] }, job(r => r.movedBytes))
  snapshotGauge(registry, { name: 'dfs_drain_remaining_chunks', help: 'Chunks still with a copy on the node being drained (the drain running, else the last one).', labelNames: ['node'] }, () => {
    const r = current().status.rebalance
    return r?.kind === 'drain' && r.node && r.remainingChunks !== undefined ? [{ labels: { node: r.node.nodeId }, value: r.remainingChunks }] : []
  })
}

function defineClientMetrics(registry: Registry, current: () => Scrape): void {
  snapshotGauge(registry, { name: 'dfs_clients', help: 'Clients (mounts) connected.' }, () => [{ labels: {}, value: current().clients.filter(c => c.connected).length }])
  snapshotGauge(registry, { name: 'dfs_client_info', help: 'A connected client (mount): its host, mount point and pid; the value is 1.', labelNames: ['client', 'host', 'mountpoint', 'pid'] }, () =>
    current().clients.map(c => ({ labels: { client: c.id, host: c.host, mountpoint: c.mountpoint, pid: c.pid }, value: 1 })))
  snapshotGauge(registry, { name: 'dfs_client_start_time_seconds', help: 'When the client (mount) started, seconds since the epoch.', labelNames: ['client'] }, () =>
    current().clients.map(c => ({ labels: { client: c.id }, value: c.startedAt / 1000 })))
  snapshotHistogram(registry, {
    name: 'dfs_client_fuse_op_duration_seconds', help: 'FUSE operations a client served, by how long each took.',
    labelNames: ['client', 'op'], bounds: LATENCY_BOUNDS_SECONDS,
  }, () => current().clients.flatMap(c => Object.entries(c.counters.ops).map(([op, h]): HistogramSample => ({ labels: { client: c.id, op }, ...h }))))
}

/** Journal fsync and checkpoint times, observed as the metadata store reports them; returns the way to stop. */
function defineTimings(registry: Registry, source: MetricsSource): () => void {
  const fsync = new Histogram({ name: 'dfs_journal_fsync_duration_seconds', help: 'How long each journal fdatasync took.', buckets: [...LATENCY_BOUNDS_SECONDS], registers: [registry] })
  const checkpoint = new Histogram({ name: 'dfs_checkpoint_duration_seconds', help: 'How long each metadata checkpoint took.', buckets: CHECKPOINT_BOUNDS_SECONDS, registers: [registry] })
  return source.onTiming((timing: MetaTiming) => {
    if (timing.kind === 'fsync') fsync.observe(timing.seconds)
    else checkpoint.observe(timing.seconds)
  })
}

/** The NameNode's own chunk I/O and the remote clients', per node. */
function addIo(own: Record<string, NodeIo>, clients: ClientTotals['nodes']): Record<string, NodeIo> {
  const sum = ioByNode()
  for (const perNode of [own, clients]) {
    for (const [nodeId, io] of Object.entries(perNode)) addNodeIo((sum[nodeId] ??= emptyNodeIo()), io)
  }
  return sum
}
