// The measured storage overhead per layout: for each layout in use (replicas:2, ec:2+1, ...), the
// bytes its chunks occupy on nodes (as the chunk map records them: each listed copy, or each shard
// listed on a node, chunks/layout.ts storedBytes) over the bytes of file data they hold (the chunks'
// lengths). What `dfs status`, the dashboard and /metrics show as "ec:4+2  1.50×". Measured, not
// nominal: a stripe missing a shard, or a chunk short of a copy, costs less than its layout says
// until the healer restores it, and a stripe's padding to a multiple of 8 bytes per shard counts.
//
// Tallied chunk by chunk during the census's one walk over the namespace (replicationCensus's
// `onChunk`), so status walks the namespace once for both.

import type { ChunkRef } from '../chunks/ChunkRef.js'
import { type Layout, layoutOf, nominalOverhead, storedBytes } from '../chunks/layout.js'
import { formatPolicy } from '../meta/namespace/policy.js'
import { formatSize } from '../util/size.js'

export interface LayoutOverhead {
  /** As a policy is written: replicas:<R>, ec:<k>+<m>. */
  layout: string
  chunks: number
  /** Bytes of file data: the sum of the chunks' lengths. */
  dataBytes: number
  /** Bytes on nodes the chunk map records for them. */
  storedBytes: number
  /** storedBytes ÷ dataBytes (0 with no data). */
  overhead: number
  /** What the layout costs in theory: R, or (k + m) / k. */
  nominal: number
}

/** Chunks added one at a time, per layout. */
export class OverheadTally {
  // Keyed by a number, not the layout's name: add() runs for every chunk of every status (the
  // dashboard asks about once a second), so it makes no string. Copies c: c; ec k+m: -(k * 100 + m).
  readonly #byLayout = new Map<number, { layout: Layout; chunks: number; dataBytes: number; storedBytes: number }>()

  constructor(private readonly clusterReplicas: number) {}

  add(ref: ChunkRef): void {
    const key = ref.ec ? -(ref.ec.k * 100 + ref.ec.m) : ref.copies ?? this.clusterReplicas
    let entry = this.#byLayout.get(key)
    if (!entry) this.#byLayout.set(key, (entry = { layout: layoutOf(ref, this.clusterReplicas), chunks: 0, dataBytes: 0, storedBytes: 0 }))
    entry.chunks++
    entry.dataBytes += ref.len
    entry.storedBytes += storedBytes(ref)
  }

  /** Every layout in use, the most data first. */
  result(): LayoutOverhead[] {
    return [...this.#byLayout.values()]
      .map(({ layout, ...e }) => ({
        layout: formatPolicy(layout), ...e, overhead: e.dataBytes > 0 ? e.storedBytes / e.dataBytes : 0, nominal: nominalOverhead(layout),
      }))
      .sort((a, b) => b.dataBytes - a.dataBytes || a.layout.localeCompare(b.layout))
  }
}

/** "ec:4+2  1.50× (12.0 GiB on nodes for 8.0 GiB of data)". */
export function formatOverhead(o: LayoutOverhead): string {
  return `${o.layout}  ${o.overhead.toFixed(2)}× (${formatSize(o.storedBytes)} on nodes for ${formatSize(o.dataBytes)} of data)`
}
