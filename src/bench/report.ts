// Turning samples into the printed table: medians, ratios (1.00 = dfs as fast as native, or as the
// ceiling, the in-memory FUSE file system; higher is better), targets and PASS/MISS.

export function median(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const mid = Math.floor(v.length / 2)
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

/** 1234.5 → "1,235"; small numbers keep a decimal or two. */
export function fmt(value: number, decimals?: number): string {
  if (!Number.isFinite(value)) return '—'
  const d = decimals ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2)
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
}

export type Verdict = 'PASS' | 'MISS' | '—'

/**
 * dfs against another column as one factor, 1.00 = as good, higher = better whatever the unit: a rate
 * (MB/s, files/s) is dfs ÷ other, a time or a cost (ms, CPU seconds) is other ÷ dfs. NaN when either
 * figure is missing or zero.
 */
export function ratioTo(dfs: number, other: number, lowerIsBetter = false): number {
  const r = lowerIsBetter ? other / dfs : dfs / other
  return Number.isFinite(r) && r > 0 ? r : NaN
}

/** 0.3215 → "0.32×"; a missing ratio → "—". */
export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : '—'
}

/** A figure's bound: at least (rates, ratios) or at most (costs, memory). */
export type Bound = { atLeast: number } | { atMost: number }

/** PASS when the value keeps its bound, MISS when not, "—" when there is no value to judge. */
export function verdict(value: number, bound: Bound): Verdict {
  if (!Number.isFinite(value)) return '—'
  return ('atLeast' in bound ? value >= bound.atLeast : value <= bound.atMost) ? 'PASS' : 'MISS'
}

export interface Row {
  figure: string
  native: string
  /** The ceiling: the in-memory FUSE file system on the same binding (src/bench/memFs.ts). */
  ceiling: string
  dfs: string
  /** dfs vs native, and dfs vs the ceiling: 1.00× = as fast, higher is better. */
  ratioNative: string
  ratioCeiling: string
  target: string
  result: Verdict
}

/** The medians of one figure on the three sides, all rates (higher is better). */
export interface Sides {
  native: number
  ceiling: number
  dfs: number
}

/**
 * A row of the main table: the three medians, dfs's ratio to native and to the ceiling, and the
 * issue's target as a least ratio to the ceiling. `judged: false` (a read that could not be made cold)
 * shows the target but no verdict.
 */
export function ceilingRow(figure: string, x: Sides, opts: { decimals?: number; atLeastVsCeiling?: number; judged?: boolean } = {}): Row {
  const vsCeiling = ratioTo(x.dfs, x.ceiling)
  const min = opts.atLeastVsCeiling
  return {
    figure,
    native: fmt(x.native, opts.decimals ?? 0), ceiling: fmt(x.ceiling, opts.decimals ?? 0), dfs: fmt(x.dfs, opts.decimals ?? 0),
    ratioNative: fmtRatio(ratioTo(x.dfs, x.native)), ratioCeiling: fmtRatio(vsCeiling),
    target: min === undefined ? '—' : `≥ ${min.toFixed(2)}× ceiling`,
    result: min === undefined || opts.judged === false ? '—' : verdict(vsCeiling, { atLeast: min }),
  }
}

/** A plain-text table; columns after the first are right-aligned except target and result. */
export function renderTable(header: string[], rows: string[][], rightAligned: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells.map((c, i) => (rightAligned[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()
  return [line(header), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export function renderRows(rows: Row[]): string {
  return renderTable(
    ['figure', 'native', 'ceiling', 'dfs', 'dfs ÷ native', 'dfs ÷ ceiling', 'target', 'result'],
    rows.map(r => [r.figure, r.native, r.ceiling, r.dfs, r.ratioNative, r.ratioCeiling, r.target, r.result]),
    [false, true, true, true, true, true, false, false],
  )
}
