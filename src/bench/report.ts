// Turning samples into the printed table: medians, ratios (1.00 = dfs as fast as native, or as the
// in-memory FUSE file system; higher is better), targets and PASS/MISS.

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

export interface Row {
  figure: string
  native: string
  /** The in-memory FUSE file system on the same binding (src/bench/memFs.ts). */
  memfs: string
  dfs: string
  /** dfs vs native, and dfs vs memfs: 1.00× = as fast, higher is better. */
  ratio: string
  ratioMemfs: string
  target: string
  result: Verdict
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
    ['figure', 'native', 'memfs', 'dfs', 'dfs vs native', 'dfs vs memfs', 'target', 'result'],
    rows.map(r => [r.figure, r.native, r.memfs, r.dfs, r.ratio, r.ratioMemfs, r.target, r.result]),
    [false, true, true, true, true, true, false, false],
  )
}
