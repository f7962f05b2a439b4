// What a unit of work costs a mount process in CPU time: daemon (or ceiling) CPU seconds of a
// measurement, from its start until the process is idle again (work a daemon defers past the tool's
// exit is still that measurement's), divided by the GiB or the files it handled. Unlike MB/s, a CPU
// cost hardly moves when other work shares the machine, so it is the figure to compare across runs.

import { fmt, fmtRatio, ratioTo, renderTable, verdict, type Verdict } from './report.js'

/** CPU time per unit: seconds ÷ units × scale (1000 for ms). NaN without units or a reading. */
export function perUnit(cpuSeconds: number, units: number, scale = 1): number {
  return units > 0 && Number.isFinite(cpuSeconds) ? (cpuSeconds / units) * scale : NaN
}

export interface CpuCost {
  /** e.g. "daemon CPU per GiB written". */
  figure: string
  /** The unit the costs are in ("s", "ms"). */
  unit: string
  ceiling: number
  dfs: number
  /** The cost when issue 11 was filed, and the most it may be now; absent for costs without a target. */
  before?: number
  atMost?: number
}

export function cpuCostVerdict(c: CpuCost): Verdict {
  return c.atMost === undefined ? '—' : verdict(c.dfs, { atMost: c.atMost })
}

/**
 * The CPU table: the ceiling's cost, dfs's, how many times the ceiling's that is (lower is better
 * here: it is a cost), the cost before issue 11 and the target.
 */
export function renderCpuCosts(costs: CpuCost[]): string {
  const decimals = (c: CpuCost) => (c.unit === 'ms' ? 3 : 2)
  return renderTable(
    ['figure', 'ceiling', 'dfs', 'dfs ÷ ceiling', 'before', 'target', 'result'],
    costs.map(c => [
      `${c.figure}, ${c.unit}`,
      fmt(c.ceiling, decimals(c)),
      fmt(c.dfs, decimals(c)),
      // dfs ÷ ceiling as a plain quotient: "dfs spends 4× the ceiling's CPU" (lower is better here).
      fmtRatio(ratioTo(c.dfs, c.ceiling)),
      c.before === undefined ? '—' : `${fmt(c.before, decimals(c) - 1)} ${c.unit}`,
      c.atMost === undefined ? '—' : `≤ ${fmt(c.atMost, decimals(c) - 1)} ${c.unit}`,
      cpuCostVerdict(c),
    ]),
    [false, true, true, true, true, false, false],
  )
}
