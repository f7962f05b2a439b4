// What `dfs status` shows: every node with its health, heartbeat age, address, capacity, usage and
// chunk count; totals; chunk replication counts; the liveness thresholds.

import type { StandbyStatus } from './standbyLink.js'
import type { NodeRegistry } from '../chunks/NodeRegistry.js'
import type { ChunkStore } from '../chunks/ChunkStore.js'
import { clusterCapacity } from '../cluster/capacity.js'
import { type NodeState, nodeState } from '../cluster/nodeState.js'
import { copyStateOf, type ReplicationCensus, replicationCensus } from '../cluster/replication.js'
import type { ClusterSettings } from '../cluster/settings.js'
import { type LayoutOverhead, OverheadTally } from '../cluster/storageOverhead.js'
import type { Healer } from '../cluster/healer/Healer.js'
import type { Scrubber } from '../cluster/healer/Scrubber.js'
import type { LivenessOptions } from '../cluster/liveness/HeartbeatMonitor.js'
import type { RebalanceStatus } from '../cluster/rebalance/Rebalancer.js'
import type { NamespaceState } from '../meta/namespace/types.js'
import type { ClientSummary } from '../protocol/clientStats.js'

export interface NodeReport {
  nodeId: string
  address: string
  health: string
  /** In one word (cluster/nodeState.ts): what dfs status, the dashboard and /metrics show. */
  state: NodeState
  full: boolean
  /** Being drained (dfs drain): takes no new chunks. */
  draining?: boolean
  reason?: string
  heartbeatAgeMs: number
  capacity?: number
  available?: number
  used?: number
  chunks?: number
  /** The node is still counting its chunks after opening: used and chunks are short of the whole (NodeUsage.counting). */
  counting?: true
}

export interface ClusterStatus {
  mountpoint: string
  /**
   * The mounts this NameNode serves (namenode/clients.ts): the embedded mount's one in-process
   * client, or every `dfs mount --namenode` that reported, connected or within its grace period.
   */
  clients: ClientSummary[]
  /** A NameNode over TCP: its standby (standbyLink.ts). */
  standby?: StandbyStatus
  meta: string
  /** The web dashboard's address (--http). */
  dashboard?: string
  pid: number
  uptimeMs: number
  replicas: number
  chunkSize: number
  liveness: { heartbeatMs: number; suspectAfterMs: number; deadAfterMs: number }
  nodes: NodeReport[]
  /**
   * capacity, available: of the devices the nodes store on, each device once (three folders on one
   * disk count it once); usable*: what files can take with R copies, what df shows for the mount.
   */
  totals: {
    capacity: number; available: number; used: number; nodes: number; alive: number
    usableCapacity: number; usableAvailable: number; devices: number
  }
  /**
   * Counted as the healer counts (../cluster/replication.ts): underReplicated, 1 .. R-1 live copies;
   * unavailable, none (a read fails now); waitingForGrace, of those, the ones whose missing copies are
   * on nodes suspect or dead for less than the grace period (the healer waits for them); byCopies[n],
   * the chunks with n live copies (/metrics' dfs_chunks_by_copies).
   */
  chunks: ReplicationCensus
  /**
   * The measured storage overhead per layout in use (../cluster/storageOverhead.ts): bytes on nodes ÷
   * bytes of file data, counted in the census's walk. (Absent from a NameNode older than erasure coding.)
   */
  overhead?: LayoutOverhead[]
  io: ChunkStore['stats']
  /** Added by the daemon, which runs them. */
  healer?: ReturnType<Healer['status']>
  scrubber?: ReturnType<Scrubber['status']>
  /** The balance or drain running, else the last one. */
  rebalance?: RebalanceStatus
  /** The dfs policy apply running, else the last one, in one line (cluster/convert/conversionStatus.ts). */
  conversion?: string
}

export function clusterStatus(input: {
  mountpoint: string
  meta: string
  startedAt: number
  settings: ClusterSettings
  liveness: LivenessOptions
  registry: NodeRegistry
  chunks: ChunkStore
  state: NamespaceState
  /** The healer's grace period for dead nodes (ms), and the copies it knows to be bad. */
  graceMs: number
  isBadCopy?: (nodeId: string, chunkId: string) => boolean
  /** The NameNode's clients (clients.ts); none when not given. */
  clients?: ClientSummary[]
}): ClusterStatus {
  const now = Date.now()
  const nodes: NodeReport[] = input.registry.statuses().map(s => ({
    nodeId: s.nodeId, address: s.address, health: s.health, state: nodeState(s), full: s.full, ...(s.draining ? { draining: true } : {}),
    ...(s.reason && s.health !== 'alive' ? { reason: s.reason } : s.full && s.fullReason ? { reason: s.fullReason } : {}),
    heartbeatAgeMs: now - s.lastContact,
    ...(s.usage ? { capacity: s.usage.capacity, available: s.usage.available, used: s.usage.used, chunks: s.usage.chunks } : {}),
    ...(s.usage?.counting ? { counting: true } : {}),
  }))
  const alive = new Set(nodes.filter(n => n.health === 'alive').map(n => n.nodeId))
  const overhead = new OverheadTally(input.settings.replicas)
  const chunks = replicationCensus(input.state, input.settings.replicas, copyStateOf(input.registry, input.graceMs, now, input.isBadCopy), ref => overhead.add(ref))
  const capacity = clusterCapacity(input.registry.statuses(), input.settings.replicas)
  return {
    mountpoint: input.mountpoint,
    clients: input.clients ?? [],
    meta: input.meta,
    pid: process.pid,
    uptimeMs: now - input.startedAt,
    replicas: input.settings.replicas,
    chunkSize: input.settings.chunkSize,
    liveness: { heartbeatMs: input.liveness.intervalMs, suspectAfterMs: input.liveness.suspectAfterMs, deadAfterMs: input.liveness.deadAfterMs },
    nodes,
    totals: {
      capacity: capacity.capacity, available: capacity.available, used: sum(nodes.map(n => n.used)),
      nodes: nodes.length, alive: alive.size,
      usableCapacity: capacity.usableCapacity, usableAvailable: capacity.usableAvailable, devices: capacity.devices,
    },
    chunks,
    overhead: overhead.result(),
    io: { ...input.chunks.stats },
  }
}

const sum = (values: (number | undefined)[]) => values.reduce<number>((a, b) => a + (b ?? 0), 0)
