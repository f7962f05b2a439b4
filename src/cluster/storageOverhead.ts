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
import { layoutOf, nominalOverhead, storedBytes } from '../chunks/layout.js'
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
  readonly #byLayout = new Map<string, { chunks: number; dataBytes: number; storedBytes: number; nominal: number }>()

  constructor(private readonly clusterReplicas: number) {}

  add(ref: ChunkRef): void {
    const layout = layoutOf(ref, this.clusterReplicas)
    const key = formatPolicy(layout)
    let entry = this.#byLayout.get(key)
    if (!entry) this.#byLayout.set(key, (entry = { chunks: 0, dataBytes: 0, storedBytes: 0, nominal: nominalOverhead(layout) }))
    entry.chunks++
    entry.dataBytes += ref.len
    entry.storedBytes += storedBytes(ref)
  }

  /** Every layout in use, the most data first. */
  result(): LayoutOverhead[] {
    return [...this.#byLayout]
      .map(([layout, e]) => ({ layout, ...e, overhead: e.dataBytes > 0 ? e.storedBytes / e.dataBytes : 0 }))
      .sort((a, b) => b.dataBytes - a.dataBytes || a.layout.localeCompare(b.layout))
  }
}

/** "ec:4+2  1.50× (12.0 GiB on nodes for 8.0 GiB of data)". */
export function formatOverhead(o: LayoutOverhead): string {
  return `${o.layout}  ${o.overhead.toFixed(2)}× (${formatSize(o.storedBytes)} on nodes for ${formatSize(o.dataBytes)} of data)`
}
