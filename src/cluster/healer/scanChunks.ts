// The healer's detector: one walk over every chunk a file references (chunkWalk.ts), counting each
// chunk's good copies (or shards): those on the nodes its ref lists that are alive, suspect, or dead
// for less than graceMs, minus those known to be bad (../replication.ts). Node reports waiting since
// the last scan are compared on the way (RepairHints). Every chunk with other than the copies it
// wants (ref.copies ?? R; k + m shards), a copy still listed on a node that is gone, a reported bad
// copy or an extra one becomes a repair item.

import type { NodeRegistry } from '../../chunks/NodeRegistry.js'
import type { NamespaceState } from '../../meta/namespace/types.js'
import { chunkReplication, copyStateOf } from '../replication.js'
import { chunkBatches } from './chunkWalk.js'
import type { ScanFindings } from './HealerCounts.js'
import type { RepairItem } from './RepairQueue.js'
import type { RepairHints } from './RepairHints.js'

export interface ScanInput {
  state: NamespaceState
  registry: Pick<NodeRegistry, 'ids' | 'status'>
  replicas: number
  graceMs: number
  hints: RepairHints
  /** Chunks known to have no intact copy anywhere. */
  lost: ReadonlySet<string>
  stopped: () => boolean
}

export interface ScanResult extends ScanFindings {
  /** Chunks that need a look, with their good copies (their priority). */
  found: RepairItem[]
}

/** Undefined when stopped midway. */
export async function scanChunks(input: ScanInput): Promise<ScanResult | undefined> {
  const { state, registry, replicas, graceMs, hints, lost } = input
  const reports = hints.takeReports()
  const result: ScanResult = { found: [], short: new Set(), under: new Set(), unavailable: new Set(), waiting: new Set(), over: new Set() }

  for await (const batch of chunkBatches(state)) {
    if (input.stopped()) return undefined
    const copyState = copyStateOf(registry, graceMs, Date.now(), hints.isBad)
    for (const { ino, index, ref } of batch) {
      const id = ref.id
      hints.applyReports(reports, ref)
      const r = chunkReplication(ref, replicas, copyState)
      // Good copies: live ones and those that may come back within the grace period.
      const good = r.live + r.waiting
      if (lost.has(id)) result.unavailable.add(id) // no intact copy anywhere, as far as we know
      else if (r.replication === 'underReplicated') result.under.add(id)
      else if (r.replication === 'unavailable') result.unavailable.add(id)
      if (r.waitingForGrace && !lost.has(id)) result.waiting.add(id)
      const extras = hints.extraCount(id)
      if (good < r.wanted) result.short.add(id)
      if (good + extras > r.wanted) result.over.add(id)
      if (good !== r.wanted || r.gone > 0 || hints.hasBad(id) || extras > 0) {
        // A stripe ranks by the losses it can still take, as a replicated chunk does by its copies.
        const item = { id, ino, index, good, bytes: ref.len }
        result.found.push(ref.ec ? { ...item, urgency: Math.max(0, good - ref.ec.k + 1) } : item)
      }
    }
  }
  return input.stopped() ? undefined : result
}
