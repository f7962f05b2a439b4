// What /metrics reads from a running NameNode, as a narrow interface: the metrics can be tested with
// a fake, and what they take from the host is in one place (hostSource below). Every figure is read
// at scrape time; nothing here keeps counts of its own.

import type { ClusterStatus } from '../namenode/status.js'
import type { NameNodeHost } from '../namenode/openNameNode.js'
import type { ClientSummary, NodeIo } from '../protocol/clientStats.js'
import type { MetaTiming } from '../meta/MetaStore.js'
import { chunkReplication, copyStateOf, type CopyStateOf } from '../cluster/replication.js'
import { isFile, type NamespaceState } from '../meta/namespace/types.js'

/** Chunk I/O and failovers summed over clients, since each started (never decreasing while this NameNode runs). */
export interface ClientTotals {
  nodes: Record<string, NodeIo>
  failovers: number
}

export interface MetricsSource {
  /** What `dfs status` shows (nodes, chunk counts, healer, scrubber). */
  status(): ClusterStatus
  /** Referenced chunks by how many intact (live) copies each has. */
  chunksByCopies(): Map<number, number>
  /** The NameNode's own chunk store: its I/O per DataNode (healer copies, the embedded mount's reads and writes). */
  ownNodeIo(): Record<string, NodeIo>
  /** Connected clients (mounts), with their counters. */
  clients(): ClientSummary[]
  /** Every remote client's chunk I/O and failovers, gone ones included; in-process clients are in ownNodeIo. */
  clientTotals(): ClientTotals
  /** Hear each journal fsync and checkpoint; returns the way to stop. */
  onTiming(listener: (timing: MetaTiming) => void): () => void
}

/** Count chunks by live copies, by the rule `dfs status` and the healer count with (../cluster/replication.ts). */
export function chunksByCopies(state: NamespaceState, replicas: number, copyState: CopyStateOf): Map<number, number> {
  const byCopies = new Map<number, number>()
  for (const inode of state.inodes.values()) {
    if (!isFile(inode)) continue
    for (const ref of inode.chunks ?? []) {
      if (!ref) continue
      const { live } = chunkReplication(ref, replicas, copyState)
      byCopies.set(live, (byCopies.get(live) ?? 0) + 1)
    }
  }
  return byCopies
}

/** What the metrics need of a ClientTable (namenode/clients.ts). */
export interface ClientTableLike {
  list(): ClientSummary[]
  /** Every client's I/O and failovers, departed ones included (in-process ones too). */
  totals?(): ClientTotals
}

function clientAccess(host: NameNodeHost): { ownNodeIo(): Record<string, NodeIo>; clients(): ClientSummary[]; clientTotals(): ClientTotals } {
  return {
    ownNodeIo: () => host.cluster.chunks.nodeIo(),
    clients: () => host.clients.list(),
    clientTotals: () => remoteTotals(host.clients),
  }
}

/**
 * The remote clients' share of a client table's totals. An in-process client (the embedded mount)
 * reports the NameNode's own chunk store's counters, which ownNodeIo() counts already: its part is
 * taken out (it is connected while the NameNode runs, so it is in list()). Without totals(), the
 * connected remote clients' counters (a departed client's part then drops out of the sum).
 */
export function remoteTotals(table: ClientTableLike): ClientTotals {
  const clients = table.list()
  if (!table.totals) return sumOf(clients.filter(c => !c.inProcess))
  const all = table.totals()
  const inProcess = sumOf(clients.filter(c => c.inProcess))
  const nodes = ioByNode()
  addNodeIo(nodes, all.nodes)
  addNodeIo(nodes, inProcess.nodes, -1)
  return { nodes, failovers: Math.max(0, all.failovers - inProcess.failovers) }
}

function sumOf(clients: ClientSummary[]): ClientTotals {
  const nodes = ioByNode()
  let failovers = 0
  for (const client of clients) {
    failovers += client.counters.failovers
    addNodeIo(nodes, client.counters.nodes)
  }
  return { nodes, failovers }
}

/**
 * An empty table of I/O by node id, without a prototype: node ids come from clients, and "__proto__"
 * (an own key in JSON) must be a node here, not this object's prototype (Object.prototype, which the
 * sums below would then write to).
 */
export const ioByNode = (): Record<string, NodeIo> => Object.create(null)

/** Add `from`'s I/O per node (times sign) into `into` (made by ioByNode); a sum never goes below 0. */
export function addNodeIo(into: Record<string, NodeIo>, from: Record<string, NodeIo>, sign: 1 | -1 = 1): void {
  for (const [nodeId, io] of Object.entries(from)) {
    const sum = (into[nodeId] ??= { readBytes: 0, writeBytes: 0, reads: 0, writes: 0 })
    sum.readBytes = Math.max(0, sum.readBytes + sign * io.readBytes)
    sum.writeBytes = Math.max(0, sum.writeBytes + sign * io.writeBytes)
    sum.reads = Math.max(0, sum.reads + sign * io.reads)
    sum.writes = Math.max(0, sum.writes + sign * io.writes)
  }
}

/** A running NameNode as a metrics source. */
export function hostSource(host: NameNodeHost): MetricsSource {
  const { cluster, services } = host
  return {
    status: () => host.status(cluster.metaDir),
    chunksByCopies: () => chunksByCopies(
      cluster.meta.state, cluster.settings.replicas,
      copyStateOf(cluster.registry, services.healer.status().graceMs, Date.now(), services.healer.isKnownBad),
    ),
    ...clientAccess(host),
    onTiming: listener => cluster.meta.onTiming(listener),
  }
}
