// The healer's figures for `dfs status`: which chunks are under-replicated, unavailable, waiting out
// the grace period, over-replicated or lost (as of the last scan, updated by each repair since), and
// running totals of what it did. The definitions are those `dfs status` counts by (../replication.ts).

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import { chunkReplication, type CopyStateOf } from '../replication.js'
import type { HealCounts } from './HealPass.js'
import { RateMeter } from './RateMeter.js'

/** A scan's view of the chunks that are not as they should be. */
export interface ScanFindings {
  under: Set<string>
  unavailable: Set<string>
  waiting: Set<string>
  over: Set<string>
  /** Fewer than R good copies (the healer's own test): a lost chunk not in here has been found again or is gone. */
  short: Set<string>
}

/** Running totals besides a pass's (HealCounts): for dfs status and the Prometheus counters. */
export interface HealerTotals {
  scans: number
  /** Chunks that got at least one new copy (a chunk given two copies in one repair counts once). */
  healedChunks: number
  /** Copies the healer's own read found missing or corrupt, whoever reported them (a read, the scrubber, a move). */
  badCopiesFound: number
}

export class HealerCounts {
  under = new Set<string>()
  unavailable = new Set<string>()
  waiting = new Set<string>()
  over = new Set<string>()
  /** Chunks no intact copy of could be found anywhere. */
  readonly lost = new Set<string>()
  readonly totals: HealCounts & HealerTotals = { copiedChunks: 0, copiedBytes: 0, trimmedCopies: 0, corruptRemoved: 0, failed: 0, scans: 0, healedChunks: 0, badCopiesFound: 0 }
  /** Copy speed, for status. */
  readonly rate = new RateMeter()
  /** When the last full scan finished (ms since epoch). */
  lastScanAt: number | undefined

  /** Whether a copy is known not to be intact: reported bad, or its chunk has no intact copy anywhere (lost). */
  knownBad(isBad: (nodeId: string, chunkId: string) => boolean): (nodeId: string, chunkId: string) => boolean {
    return (nodeId, chunkId) => this.lost.has(chunkId) || isBad(nodeId, chunkId)
  }

  /** A scan finished: its findings replace the last one's. */
  scanned(found: ScanFindings, at = Date.now()): void {
    this.under = found.under
    this.unavailable = found.unavailable
    this.waiting = found.waiting
    this.over = found.over
    for (const id of this.lost) if (!found.short.has(id)) this.lost.delete(id) // found a copy after all, or no longer referenced
    this.lastScanAt = at
    this.totals.scans++
  }

  copied(bytes: number): void {
    this.totals.copiedChunks++
    this.totals.copiedBytes += bytes
    this.rate.add(bytes)
  }

  /** After a repair: where the chunk stands now (ref undefined: no file points at it any more). */
  recount(id: string, ref: Pick<ChunkRef, 'id' | 'nodes' | 'copies' | 'ec'> | undefined, replicas: number, copyState: CopyStateOf): void {
    for (const set of [this.under, this.unavailable, this.waiting]) set.delete(id)
    if (!ref) return
    const r = chunkReplication(ref, replicas, copyState)
    if (r.replication === 'underReplicated') this.under.add(id)
    else if (r.replication === 'unavailable') this.unavailable.add(id)
    if (r.waitingForGrace) this.waiting.add(id)
  }

  /** The file moved on from the chunk: it counts nowhere. */
  forget(id: string): void {
    for (const set of [this.under, this.unavailable, this.waiting, this.over]) set.delete(id)
  }
}
