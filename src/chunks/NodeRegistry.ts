// The DataNodes this daemon knows and what it believes about each. All node state lives here; the
// chunk layer reports what it saw, the heartbeat monitor (src/cluster/liveness) decides the rest.
//
// Health is alive, suspect (a call failed or a heartbeat is late) or dead (silent for longer than the
// dead threshold). Full is separate: a full node is healthy and readable, just not written to.
// Writes go only to alive nodes with room that are not being drained (`dfs drain`: a draining node
// stays readable while its chunks are moved elsewhere).
//
// Who re-admits a node: with a heartbeat monitor running (`monitored`), only the monitor does, and a
// dead node only after it reported what it holds. Without one (fsck, tools, tests) the rule is a
// back-off: a suspect or full node is offered to writes again after `retryAfterMs`, and that write is
// its retry. No timers either way in this class: tests need only the injectable clock.

import { EventEmitter } from 'node:events'
import type { DataNode, NodeUsage } from '../datanode/DataNode.js'
import { dfsError } from '../errors.js'

export type NodeHealth = 'alive' | 'suspect' | 'dead'

export interface NodeStatus {
  nodeId: string
  address: string
  health: NodeHealth
  /** When the node entered this health (ms since epoch). */
  since: number
  /** Why it is suspect or dead: the error or silence that put it there. */
  reason?: string
  /** Last time the node answered anything (ms since epoch). */
  lastContact: number
  full: boolean
  /** Why it is full (the ENOSPC that said so). */
  fullReason?: string
  /** Without a monitor: when writes may try a suspect or full node again. */
  retryAt?: number
  /** The node's last usage report (heartbeats refresh it). */
  usage?: NodeUsage
  /** Being drained: out of the write pool, still read. */
  draining?: boolean
}

export interface NodeHealthChange {
  nodeId: string
  address: string
  from: NodeHealth
  to: NodeHealth
  reason?: string
  at: number
}

/** What a node that came back holds, reported before it is re-admitted. */
export interface NodeReport {
  nodeId: string
  ids: string[]
}

export interface NodeRegistryOptions {
  /** Without a monitor: how long a suspect or full node is left alone before writes try it again. Default 5 s. */
  retryAfterMs?: number
  /** Clock, for tests. */
  now?: () => number
}

interface Entry {
  node: DataNode
  status: NodeStatus
}

export class NodeRegistry extends EventEmitter<{
  change: [NodeHealthChange]; report: [NodeReport]; full: [{ nodeId: string; full: boolean }]; draining: [{ nodeId: string; draining: boolean }]
}> {
  readonly retryAfterMs: number
  /** Set by the heartbeat monitor while it runs: then only heartbeats re-admit nodes. */
  monitored = false
  readonly #now: () => number
  readonly #entries = new Map<string, Entry>()

  constructor(options: NodeRegistryOptions = {}) {
    super()
    this.retryAfterMs = options.retryAfterMs ?? 5_000
    this.#now = options.now ?? Date.now
  }

  /** Register a node, alive. Two nodes with one id mean a node folder was copied: refuse that. */
  add(node: DataNode): void {
    const existing = this.#entries.get(node.nodeId)
    if (existing) {
      throw dfsError(
        'NODE_ID_DUPLICATE',
        `nodes ${existing.node.address} and ${node.address} have the same node id ${node.nodeId} (was one folder copied from the other?)`,
        { node: node.address, nodeId: node.nodeId, other: existing.node.address },
      )
    }
    const now = this.#now()
    this.#entries.set(node.nodeId, {
      node,
      status: { nodeId: node.nodeId, address: node.address, health: 'alive', since: now, lastContact: now, full: false },
    })
  }

  remove(nodeId: string): boolean {
    return this.#entries.delete(nodeId)
  }

  get(nodeId: string): DataNode | undefined {
    return this.#entries.get(nodeId)?.node
  }

  ids(): string[] {
    return [...this.#entries.keys()]
  }

  nodes(): DataNode[] {
    return [...this.#entries.values()].map((entry) => entry.node)
  }

  status(nodeId: string): NodeStatus | undefined {
    const status = this.#entries.get(nodeId)?.status
    return status && { ...status }
  }

  statuses(): NodeStatus[] {
    return [...this.#entries.values()].map((entry) => ({ ...entry.status }))
  }

  health(nodeId: string): NodeHealth | undefined {
    return this.#entries.get(nodeId)?.status.health
  }

  /** The node answered. A dead node under a monitor comes back only through `readmit`. */
  markAlive(nodeId: string): void {
    const entry = this.#entries.get(nodeId)
    if (!entry) return
    entry.status.lastContact = this.#now()
    if (this.monitored && entry.status.health === 'dead') return
    this.#setHealth(entry, 'alive')
  }

  /** A call failed or a heartbeat is late: out of the write pool at once. */
  markSuspect(nodeId: string, reason: string): void {
    const entry = this.#entries.get(nodeId)
    if (!entry || entry.status.health === 'dead') return
    this.#setHealth(entry, 'suspect', reason)
  }

  markDead(nodeId: string, reason: string): void {
    const entry = this.#entries.get(nodeId)
    if (entry) this.#setHealth(entry, 'dead', reason)
  }

  /** A dead node answers again: tell listeners what it holds, then let it back in. */
  readmit(nodeId: string, ids: string[]): void {
    const entry = this.#entries.get(nodeId)
    if (!entry) return
    this.emit('report', { nodeId, ids })
    entry.status.lastContact = this.#now()
    this.#setHealth(entry, 'alive', 'reported what it holds')
  }

  markFull(nodeId: string, reason = 'no room for chunks'): void {
    const entry = this.#entries.get(nodeId)
    if (!entry) return
    entry.status.retryAt = this.#now() + this.retryAfterMs
    if (entry.status.full) return
    entry.status.full = true
    entry.status.fullReason = reason
    this.emit('full', { nodeId, full: true })
  }

  markHasRoom(nodeId: string): void {
    const entry = this.#entries.get(nodeId)
    if (!entry?.status.full) return
    entry.status.full = false
    entry.status.fullReason = undefined
    this.emit('full', { nodeId, full: false })
  }

  /** Take a node out of the write pool (or put it back) for `dfs drain`; reads still use it. */
  setDraining(nodeId: string, draining: boolean): void {
    const entry = this.#entries.get(nodeId)
    if (!entry) return
    if (draining === (entry.status.draining === true)) return
    if (draining) entry.status.draining = true
    else delete entry.status.draining
    this.emit('draining', { nodeId, draining })
  }

  setUsage(nodeId: string, usage: NodeUsage): void {
    const entry = this.#entries.get(nodeId)
    if (entry) entry.status.usage = usage
  }

  /**
   * Ids of the nodes a write may go to: alive ones with room. Without a monitor, also suspect or full
   * nodes whose back-off is over (that write is their retry).
   */
  writable(): string[] {
    const now = this.#now()
    const ids: string[] = []
    for (const [nodeId, { status }] of this.#entries) {
      const retry = !this.monitored && status.retryAt !== undefined && status.retryAt <= now
      const healthy = status.health === 'alive' || (retry && status.health === 'suspect')
      if (healthy && (!status.full || retry) && !status.draining) ids.push(nodeId)
    }
    return ids
  }

  /** Close every node (the registry owns them). */
  async close(): Promise<void> {
    await Promise.allSettled(this.nodes().map((node) => node.close()))
  }

  #setHealth(entry: Entry, health: NodeHealth, reason?: string): void {
    const now = this.#now()
    const previous = entry.status
    const retryAt = health === 'alive' ? (previous.full ? previous.retryAt : undefined) : now + this.retryAfterMs
    if (previous.health === health) {
      // Every call a node answers says "alive" again: nothing to change, and nothing to allocate.
      if (retryAt === previous.retryAt && (reason === undefined || reason === previous.reason)) return
      // Same health again (a retry that failed): a new back-off, but it is not news.
      entry.status = { ...previous, reason: reason ?? previous.reason, retryAt }
      return
    }
    entry.status = { ...previous, health, since: now, reason, retryAt }
    const { nodeId, address } = previous
    this.emit('change', { nodeId, address, from: previous.health, to: health, reason, at: now })
  }
}
