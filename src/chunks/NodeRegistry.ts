// The DataNodes this daemon knows and what it believes about each: alive, down (calls fail) or full
// (no room for writes, still readable). All node state lives here so that heartbeats can later
// replace the simple rule below without touching the chunk layer.
//
// The rule for now: a node that failed is not written to for `retryAfterMs`; after that, writable()
// offers it again, and the next write tries it. Success marks it alive, failure starts a new back-off.
// No timers: a down node costs one failed attempt per back-off period, and tests need no clock tricks
// beyond the injectable `now`.

import { EventEmitter } from 'node:events'
import { dfsError } from '../errors.js'
import type { DataNode } from '../datanode/DataNode.js'

export type NodeState = 'alive' | 'down' | 'full'

export interface NodeStatus {
  nodeId: string
  address: string
  state: NodeState
  /** When the node entered this state (ms since epoch). */
  since: number
  /** Why it is down or full: the error message that put it there. */
  reason?: string
  /** For down and full nodes: when writes may try it again. */
  retryAt?: number
}

export interface NodeStateChange {
  nodeId: string
  address: string
  from: NodeState
  to: NodeState
  reason?: string
  at: number
}

export interface NodeRegistryOptions {
  /** How long a down or full node is left alone before writes try it again. Default 5 s. */
  retryAfterMs?: number
  /** Clock, for tests. */
  now?: () => number
}

interface Entry {
  node: DataNode
  status: NodeStatus
}

export class NodeRegistry extends EventEmitter<{ change: [NodeStateChange] }> {
  readonly retryAfterMs: number
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
        'NODE_FOLDER_INVALID',
        `nodes ${existing.node.address} and ${node.address} have the same node id ${node.nodeId} (was one folder copied from the other?)`,
        { node: node.address, nodeId: node.nodeId, other: existing.node.address },
      )
    }
    this.#entries.set(node.nodeId, { node, status: { nodeId: node.nodeId, address: node.address, state: 'alive', since: this.#now() } })
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

  state(nodeId: string): NodeState | undefined {
    return this.#entries.get(nodeId)?.status.state
  }

  markDown(nodeId: string, reason: string): void {
    this.#set(nodeId, 'down', reason)
  }

  markFull(nodeId: string, reason = 'no room for chunks'): void {
    this.#set(nodeId, 'full', reason)
  }

  markAlive(nodeId: string): void {
    this.#set(nodeId, 'alive')
  }

  /**
   * Ids of the nodes a write may go to: alive ones, plus down or full ones whose back-off is over
   * (that write is their retry).
   */
  writable(): string[] {
    const now = this.#now()
    const ids: string[] = []
    for (const [nodeId, { status }] of this.#entries) {
      if (status.state === 'alive' || (status.retryAt !== undefined && status.retryAt <= now)) ids.push(nodeId)
    }
    return ids
  }

  /** Close every node (the registry owns them). */
  async close(): Promise<void> {
    await Promise.allSettled(this.nodes().map((node) => node.close()))
  }

  #set(nodeId: string, state: NodeState, reason?: string): void {
    const entry = this.#entries.get(nodeId)
    if (!entry) return
    const now = this.#now()
    const previous = entry.status
    const retryAt = state === 'alive' ? undefined : now + this.retryAfterMs
    if (previous.state === state) {
      // Same state again (a retry that failed): start a new back-off, but it is not news.
      entry.status = { ...previous, reason: reason ?? previous.reason, retryAt }
      return
    }
    entry.status = { nodeId, address: entry.node.address, state, since: now, reason, retryAt }
    this.emit('change', { nodeId, address: entry.node.address, from: previous.state, to: state, reason, at: now })
  }
}
