// What /metrics reads from a running NameNode, as a narrow interface: the metrics can be tested with
// a fake, and what they take from the host is in one place (hostSource below). Every figure is read
// at scrape time; nothing here keeps counts of its own.

import type { ClusterStatus } from '../namenode/status.js'
import type { NameNodeHost } from '../namenode/openNameNode.js'
import type { NodeIo } from '../protocol/clientStats.js'
import type { MetaTiming } from '../meta/MetaStore.js'

/** Chunk I/O and failovers summed over clients, since each started (never decreasing while this NameNode runs). */
export interface ClientTotals {
  nodes: Record<string, NodeIo>
  failovers: number
}

export interface MetricsSource {
  /** What `dfs status` shows (nodes, chunk counts and chunks by copies, healer, scrubber, clients). */
  status(): ClusterStatus
  /** The NameNode's own chunk store: its I/O per DataNode (healer copies, the embedded mount's reads and writes). */
  ownNodeIo(): Record<string, NodeIo>
  /** Every remote client's chunk I/O and failovers, gone ones included (ClientTable.remoteTotals). */
  clientTotals(): ClientTotals
  /** Hear each journal fsync and checkpoint; returns the way to stop. */
  onTiming(listener: (timing: MetaTiming) => void): () => void
}

/** A running NameNode as a metrics source. */
export function hostSource(host: NameNodeHost): MetricsSource {
  const { cluster } = host
  return {
    status: () => host.status(cluster.metaDir),
    ownNodeIo: () => cluster.chunks.nodeIo(),
    clientTotals: () => host.clients.remoteTotals(),
    onTiming: listener => cluster.meta.onTiming(listener),
  }
}
