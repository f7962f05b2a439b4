// How long the kernel's requests took, by FUSE op: the latency half of what a mount reports to its
// NameNode (protocol/clientStats.ts). Recorded on every kernel request, so recording allocates
// nothing after an op's first time: one histogram per op name (the bucket rule: clientStats.ts observe).

import { emptyHistogram, observe, type OpHistogram } from '../protocol/clientStats.js'

export class OpStats {
  private readonly ops = new Map<string, OpHistogram>()

  record(op: string, seconds: number): void {
    let h = this.ops.get(op)
    if (!h) {
      h = emptyHistogram()
      this.ops.set(op, h)
    }
    observe(h, seconds)
  }

  /** A copy (the live histograms keep moving while a report is on its way). */
  snapshot(): Record<string, OpHistogram> {
    const out: Record<string, OpHistogram> = {}
    for (const [op, h] of this.ops) out[op] = { counts: [...h.counts], sum: h.sum, count: h.count }
    return out
  }
}
