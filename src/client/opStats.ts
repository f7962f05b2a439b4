// How long the kernel's requests took, by FUSE op: the latency half of what a mount reports to its
// NameNode (protocol/clientStats.ts). Recorded on every kernel request, so recording allocates
// nothing after an op's first time: one histogram per op name, buckets found by a scan of 16 bounds.

import { LATENCY_BOUNDS_SECONDS, type OpHistogram } from '../protocol/clientStats.js'

export class OpStats {
  private readonly ops = new Map<string, OpHistogram>()

  record(op: string, seconds: number): void {
    let h = this.ops.get(op)
    if (!h) {
      h = { counts: new Array<number>(LATENCY_BOUNDS_SECONDS.length + 1).fill(0), sum: 0, count: 0 }
      this.ops.set(op, h)
    }
    let i = 0
    while (i < LATENCY_BOUNDS_SECONDS.length && seconds > LATENCY_BOUNDS_SECONDS[i]!) i++
    h.counts[i]! += 1
    h.sum += seconds
    h.count += 1
  }

  /** A copy (the live histograms keep moving while a report is on its way). */
  snapshot(): Record<string, OpHistogram> {
    const out: Record<string, OpHistogram> = {}
    for (const [op, h] of this.ops) out[op] = { counts: [...h.counts], sum: h.sum, count: h.count }
    return out
  }
}
