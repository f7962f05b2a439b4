// What the healer has been told about copies and has not acted on yet: copies found missing or
// corrupt on nodes the ref lists (a read, the scrubber, a node's report that lacks them), copies
// found on nodes the ref does not list (a read, the orphan collector, a node's report), and node
// reports waiting for the next scan. Each hint carries when it came, so news that arrives while a
// chunk is being repaired is not lost, and hints about chunks no file references any more go stale.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import { storedPieces } from '../../chunks/layout.js'

/** chunk id -> node -> when told. */
type Hints = Map<string, Map<string, number>>

/** What a node said it holds (the registry's 'report' event), for the next scan to compare. */
export interface PendingReport {
  nodeId: string
  ids: Set<string>
}

export class RepairHints {
  /** Copies found missing or corrupt on nodes the ref lists. */
  readonly #bad: Hints = new Map()
  /** Copies found on nodes the ref does not list. */
  readonly #extra: Hints = new Map()
  readonly #reports: PendingReport[] = []
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  noteBad(id: string, nodeId: string): void {
    note(this.#bad, id, nodeId, this.#now())
  }

  noteExtra(id: string, nodeId: string): void {
    note(this.#extra, id, nodeId, this.#now())
  }

  /** Whether a copy was reported missing or corrupt and not repaired yet (such a copy does not count). */
  readonly isBad = (nodeId: string, chunkId: string): boolean => this.#bad.get(chunkId)?.has(nodeId) === true

  hasBad(id: string): boolean {
    return this.#bad.has(id)
  }

  extraCount(id: string): number {
    return this.#extra.get(id)?.size ?? 0
  }

  /** The chunk's bad-copy hints, removed: a repair is about to look at them. */
  takeBad(id: string): Map<string, number> {
    return take(this.#bad, id)
  }

  /** The chunk's extra-copy hints, removed. */
  takeExtra(id: string): Map<string, number> {
    return take(this.#extra, id)
  }

  /** Whether news about the chunk came at or after `since` (while it was being repaired, say). */
  freshSince(id: string, since: number): boolean {
    const fresh = (hints: Hints) => [...(hints.get(id)?.values() ?? [])].some((at) => at >= since)
    return fresh(this.#bad) || fresh(this.#extra)
  }

  addReport(nodeId: string, ids: Iterable<string>): void {
    this.#reports.push({ nodeId, ids: new Set(ids) })
  }

  /** The reports waiting, removed: the scan about to start compares every chunk with them. */
  takeReports(): PendingReport[] {
    return this.#reports.splice(0)
  }

  /**
   * Compare one referenced chunk with node reports: pieces (copies, or shards: layout.ts) on nodes
   * the map does not list them on, and listed ones a node did not report. Hints about a shard are
   * kept under the stripe's chunk id and the node (a node holds at most one shard of a stripe).
   */
  applyReports(reports: readonly PendingReport[], ref: ChunkRef): void {
    if (reports.length === 0) return
    for (const piece of storedPieces(ref)) {
      for (const report of reports) {
        if (report.ids.has(piece.id)) {
          if (!piece.nodes.includes(report.nodeId)) this.noteExtra(ref.id, report.nodeId)
        } else if (piece.nodes.includes(report.nodeId)) {
          // Listed there, but the node did not report it. Confirmed by a read before anything changes.
          this.noteBad(ref.id, report.nodeId)
        }
      }
    }
  }

  /** Drop hints from before `before` about chunks `keep` does not keep (a scan did not find them referenced: the file moved on). */
  dropStale(keep: (id: string) => boolean, before: number): void {
    for (const hints of [this.#bad, this.#extra]) {
      for (const [id, nodes] of hints) {
        if (keep(id)) continue
        if ([...nodes.values()].every((at) => at < before)) hints.delete(id)
      }
    }
  }
}

function note(hints: Hints, id: string, nodeId: string, at: number): void {
  let nodes = hints.get(id)
  if (!nodes) hints.set(id, (nodes = new Map()))
  nodes.set(nodeId, at)
}

function take(hints: Hints, id: string): Map<string, number> {
  const nodes = hints.get(id) ?? new Map<string, number>()
  hints.delete(id)
  return nodes
}
