// What `dfs status` shows: every node with its health, heartbeat age, address, capacity, usage and
// chunk count; totals; chunk replication counts; the liveness thresholds.

import type { NodeRegistry } from '../chunks/NodeRegistry.js'
import type { ChunkStore } from '../chunks/ChunkStore.js'
import type { ClusterSettings } from '../cluster/settings.js'
import type { Healer } from '../cluster/healer/Healer.js'
import type { Scrubber } from '../cluster/healer/Scrubber.js'
import type { LivenessOptions } from '../cluster/liveness/HeartbeatMonitor.js'
import type { RebalanceStatus } from '../cluster/rebalance/Rebalancer.js'
import { type NamespaceState, isFile } from '../meta/namespace/types.js'

export interface NodeReport {
  nodeId: string
  address: string
  health: string
  full: boolean
  /** Being drained (dfs drain): takes no new chunks. */
  draining?: boolean
  reason?: string
  heartbeatAgeMs: number
  capacity?: number
  available?: number
  used?: number
  chunks?: number
}

export interface ClusterStatus {
  mountpoint: string
  meta: string
  pid: number
  uptimeMs: number
  replicas: number
  chunkSize: number
  liveness: { heartbeatMs: number; suspectAfterMs: number; deadAfterMs: number }
  nodes: NodeReport[]
  totals: { capacity: number; available: number; used: number; nodes: number; alive: number }
  /** underReplicated: fewer than R copies on alive nodes; unavailable: none on an alive node right now. */
  chunks: { referenced: number; underReplicated: number; unavailable: number; files: number }
  io: ChunkStore['stats']
  /** Added by the daemon, which runs them. */
  healer?: ReturnType<Healer['status']>
  scrubber?: ReturnType<Scrubber['status']>
  /** The balance or drain running, else the last one. */
  rebalance?: RebalanceStatus
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
}): ClusterStatus {
  const now = Date.now()
  const nodes: NodeReport[] = input.registry.statuses().map(s => ({
    nodeId: s.nodeId, address: s.address, health: s.health, full: s.full, ...(s.draining ? { draining: true } : {}),
    ...(s.reason && s.health !== 'alive' ? { reason: s.reason } : s.full && s.fullReason ? { reason: s.fullReason } : {}),
    heartbeatAgeMs: now - s.lastContact,
    ...(s.usage ? { capacity: s.usage.capacity, available: s.usage.available, used: s.usage.used, chunks: s.usage.chunks } : {}),
  }))
  const alive = new Set(nodes.filter(n => n.health === 'alive').map(n => n.nodeId))
  let referenced = 0
  let underReplicated = 0
  let unavailable = 0
  let files = 0
  for (const inode of input.state.inodes.values()) {
    if (!isFile(inode)) continue
    files++
    for (const ref of inode.chunks ?? []) {
      if (!ref) continue
      referenced++
      const live = ref.nodes.filter(n => alive.has(n)).length
      if (live === 0) unavailable++
      else if (live < input.settings.replicas) underReplicated++
    }
  }
  return {
    mountpoint: input.mountpoint,
    meta: input.meta,
    pid: process.pid,
    uptimeMs: now - input.startedAt,
    replicas: input.settings.replicas,
    chunkSize: input.settings.chunkSize,
    liveness: { heartbeatMs: input.liveness.intervalMs, suspectAfterMs: input.liveness.suspectAfterMs, deadAfterMs: input.liveness.deadAfterMs },
    nodes,
    totals: {
      capacity: sum(nodes.map(n => n.capacity)), available: sum(nodes.map(n => n.available)), used: sum(nodes.map(n => n.used)),
      nodes: nodes.length, alive: alive.size,
    },
    chunks: { referenced, underReplicated, unavailable, files },
    io: { ...input.chunks.stats },
  }
}

const sum = (values: (number | undefined)[]) => values.reduce<number>((a, b) => a + (b ?? 0), 0)
