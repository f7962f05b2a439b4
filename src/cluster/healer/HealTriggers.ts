// What makes the healer look, besides its periodic scan: the chunk store's hooks (a read found a bad
// copy, or a copy where the map does not say; a write got fewer than R copies) and the registry's
// events (a node dead for graceMs, back in the write pool, with room again, or back from the dead
// with a report of what it holds). Each becomes a hint (RepairHints.ts) and a request for a scan
// soon; a node's report also asks the orphan collector for a sweep.
//
// The hooks are chained: one that was there before the healer is still called, after ours (a hook
// that throws must not cost the repair), and put back when the healer stops.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import type { ChunkStore } from '../../chunks/ChunkStore.js'
import type { NodeHealthChange, NodeRegistry, NodeReport } from '../../chunks/NodeRegistry.js'
import type { DfsError } from '../../errors.js'
import type { Log } from '../../log/Log.js'

/** A node back from the dead without a report this recent gets listed by the healer itself. */
const REPORT_FRESH_MS = 2_000

export interface HealTriggersDeps {
  chunks: Pick<ChunkStore, 'onBadReplica' | 'onReplicaFound' | 'onUnderReplicated'>
  registry: Pick<NodeRegistry, 'get' | 'ids' | 'health' | 'status' | 'on' | 'off'>
  graceMs: number
  log: Log
  onBadCopy: (ref: ChunkRef, nodeId: string, reason: DfsError) => void
  onExtraCopy: (ref: ChunkRef, nodeId: string) => void
  /** A node told what it holds. */
  onReport: (report: NodeReport) => void
  /** A scan soon (delayMs 0: now). */
  requestScan: (delayMs?: number) => void
  /** Whether chunks wait for a node to copy to (under-replicated ones). */
  waitingForNodes: () => boolean
}

export class HealTriggers {
  readonly #deps: HealTriggersDeps
  readonly #graceTimers = new Map<string, NodeJS.Timeout>()
  readonly #lastReportAt = new Map<string, number>()
  #attached = false
  #previousBadReplica: HealTriggersDeps['chunks']['onBadReplica']
  #previousReplicaFound: HealTriggersDeps['chunks']['onReplicaFound']
  #previousUnderReplicated: HealTriggersDeps['chunks']['onUnderReplicated']

  constructor(deps: HealTriggersDeps) {
    this.#deps = deps
  }

  attach(): void {
    const { chunks, registry } = this.#deps
    this.#attached = true
    this.#previousBadReplica = chunks.onBadReplica
    this.#previousReplicaFound = chunks.onReplicaFound
    this.#previousUnderReplicated = chunks.onUnderReplicated
    chunks.onBadReplica = this.#onBadReplica
    chunks.onReplicaFound = this.#onReplicaFound
    chunks.onUnderReplicated = this.#onUnderReplicated
    registry.on('change', this.#onChange)
    registry.on('full', this.#onFull)
    registry.on('report', this.#onReport)
    for (const nodeId of registry.ids()) {
      const status = registry.status(nodeId)
      if (status?.health === 'dead') this.#armGraceTimer(nodeId, status.since)
    }
  }

  detach(): void {
    const { chunks, registry } = this.#deps
    this.#attached = false
    for (const timer of this.#graceTimers.values()) clearTimeout(timer)
    if (chunks.onBadReplica === this.#onBadReplica) chunks.onBadReplica = this.#previousBadReplica
    if (chunks.onReplicaFound === this.#onReplicaFound) chunks.onReplicaFound = this.#previousReplicaFound
    if (chunks.onUnderReplicated === this.#onUnderReplicated) chunks.onUnderReplicated = this.#previousUnderReplicated
    registry.off('change', this.#onChange)
    registry.off('full', this.#onFull)
    registry.off('report', this.#onReport)
  }

  // Ours first: a hook that was there before us and throws must not cost the repair.
  readonly #onBadReplica = (ref: ChunkRef, nodeId: string, reason: DfsError): void => {
    this.#deps.onBadCopy(ref, nodeId, reason)
    this.#previousBadReplica?.(ref, nodeId, reason)
  }

  readonly #onReplicaFound = (ref: ChunkRef, nodeId: string): void => {
    this.#deps.onExtraCopy(ref, nodeId)
    this.#previousReplicaFound?.(ref, nodeId)
  }

  // A write got fewer than R copies (every other node full or down): its repair is queued now, not at
  // the next periodic scan, and the scan counts it under-replicated. The file records the chunk in the
  // turn its write returns, before the scan's walk begins.
  readonly #onUnderReplicated = (ref: ChunkRef): void => {
    this.#deps.requestScan()
    this.#previousUnderReplicated?.(ref)
  }

  // A node has room again: chunks waiting for a writable node can be copied now.
  readonly #onFull = (event: { nodeId: string; full: boolean }): void => {
    if (!event.full && this.#deps.waitingForNodes()) this.#deps.requestScan()
  }

  readonly #onChange = (change: NodeHealthChange): void => {
    if (!this.#attached) return
    const { registry, requestScan } = this.#deps
    if (change.to === 'dead') {
      this.#armGraceTimer(change.nodeId, change.at)
      return
    }
    // A node back in the write pool: chunks waiting for a writable node can be copied now.
    if (change.to === 'alive' && this.#deps.waitingForNodes()) requestScan()
    if (change.from !== 'dead') {
      requestScan() // suspect and back: the counts in status() follow
      return
    }
    clearTimeout(this.#graceTimers.get(change.nodeId))
    this.#graceTimers.delete(change.nodeId)
    // Back without a report (no heartbeat monitor re-admitted it): find out what it holds ourselves.
    const reportedAt = this.#lastReportAt.get(change.nodeId) ?? 0
    if (Date.now() - reportedAt > REPORT_FRESH_MS) {
      const node = registry.get(change.nodeId)
      node?.list().then(
        (ids) => this.#onReport({ nodeId: change.nodeId, ids }),
        (err) => this.#deps.log.warn(`healer: listing node ${node.address} after it came back failed: ${(err as Error).message}`),
      )
    }
  }

  readonly #onReport = (report: NodeReport): void => {
    if (!this.#attached) return
    this.#lastReportAt.set(report.nodeId, Date.now())
    this.#deps.onReport(report)
  }

  #armGraceTimer(nodeId: string, deadSince: number): void {
    const { registry, graceMs, log } = this.#deps
    clearTimeout(this.#graceTimers.get(nodeId))
    const wait = Math.max(0, deadSince + graceMs - Date.now()) + 10
    const timer = setTimeout(() => {
      this.#graceTimers.delete(nodeId)
      if (registry.health(nodeId) === 'dead') {
        log(`healer: node ${registry.get(nodeId)?.address ?? nodeId} has been dead for ${graceMs} ms; re-replicating its chunks`)
        this.#deps.requestScan(0)
      }
    }, wait)
    timer.unref()
    this.#graceTimers.set(nodeId, timer)
  }
}
