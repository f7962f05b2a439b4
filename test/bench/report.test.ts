// The bench's arithmetic: ratios to native and to the ceiling, bounds, and the issue-11 targets as the
// tables judge them. Pure functions, no mount; speed itself is never asserted (npm run bench measures it).

import { describe, expect, it } from 'vitest'
import { type CpuCost, cpuCostVerdict, perUnit, renderCpuCosts } from '../../src/bench/cpuCost.js'
import { ceilingRow, fmtRatio, median, ratioTo, renderRows, verdict } from '../../src/bench/report.js'
import { CEILING_TARGETS, CPU_BEFORE, CPU_TARGETS, NAMENODE_CEILING_TARGETS } from '../../src/bench/targets.js'

describe('ratios', () => {
  it('puts a rate over the other side, a time or cost under it: 1.00 = as good, higher = better', () => {
    expect(ratioTo(300, 600)).toBe(0.5)
    expect(ratioTo(200, 100, true)).toBe(0.5)
  })

  it('has no ratio when a side is missing or zero', () => {
    expect(ratioTo(NaN, 10)).toBeNaN()
    expect(ratioTo(10, 0)).toBeNaN()
    expect(ratioTo(0, 10, true)).toBeNaN()
    expect(fmtRatio(NaN)).toBe('—')
    expect(fmtRatio(0.3215)).toBe('0.32×')
  })

  it('takes medians of the runs, ignoring runs without a figure', () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, NaN, 2, 3])).toBe(2.5)
    expect(median([])).toBeNaN()
  })
})

describe('verdicts', () => {
  it('passes a figure on its bound, misses below (at least) or above (at most)', () => {
    expect(verdict(0.6, { atLeast: 0.6 })).toBe('PASS')
    expect(verdict(0.59, { atLeast: 0.6 })).toBe('MISS')
    expect(verdict(3.8, { atMost: 3.8 })).toBe('PASS')
    expect(verdict(3.81, { atMost: 3.8 })).toBe('MISS')
  })

  it('gives no verdict without a figure', () => {
    expect(verdict(NaN, { atLeast: 0.5 })).toBe('—')
  })
})

describe('a row of the main table', () => {
  it('shows dfs against native and the ceiling, judged by its ratio to the ceiling', () => {
    const row = ceilingRow('create, files/s', { native: 20_000, ceiling: 1_600, dfs: 800 }, { atLeastVsCeiling: CEILING_TARGETS.creates })
    expect(row).toEqual({
      figure: 'create, files/s', native: '20,000', ceiling: '1,600', dfs: '800',
      ratioNative: '0.04×', ratioCeiling: '0.50×', target: '≥ 0.50× ceiling', result: 'PASS',
    })
    expect(ceilingRow('x', { native: 1000, ceiling: 600, dfs: 300 }, { atLeastVsCeiling: 0.6 }).result).toBe('MISS')
  })

  it('shows the target but no verdict for a figure that could not be taken as meant (a warm "cold" read)', () => {
    const row = ceilingRow('read', { native: 1000, ceiling: 600, dfs: 590 }, { atLeastVsCeiling: 0.6, judged: false })
    expect(row.target).toBe('≥ 0.60× ceiling')
    expect(row.result).toBe('—')
  })

  it('names the ceiling in the header', () => {
    const header = renderRows([ceilingRow('x', { native: 1, ceiling: 1, dfs: 1 })]).split('\n')[0]
    expect(header).toContain('ceiling')
    expect(header).toContain('dfs ÷ ceiling')
    expect(header).not.toContain('memfs')
  })
})

describe('the targets of issue 11', () => {
  it('are the ratios to the ceiling the issue names', () => {
    expect(CEILING_TARGETS).toEqual({ write: 0.6, read: 0.6, creates: 0.5, stat: 0.6, readAll: 0.5 })
    expect(NAMENODE_CEILING_TARGETS).toEqual({ creates: 0.4, stat: 0.4, write: 0.5, read: 0.5 })
  })

  it('halve the daemon CPU the issue measured: 7.6 s per GiB written, 2 ms per file created', () => {
    expect(CPU_BEFORE).toEqual({ secondsPerGiBWritten: 7.6, msPerFileCreated: 2 })
    expect(CPU_TARGETS).toEqual({ secondsPerGiBWritten: 3.8, msPerFileCreated: 1 })
  })
})

describe('CPU per unit of work', () => {
  it('divides CPU seconds by the units, scaled to the unit shown', () => {
    expect(perUnit(1.9, 0.25)).toBeCloseTo(7.6)
    expect(perUnit(4, 2000, 1000)).toBeCloseTo(2)
    expect(perUnit(4, 0)).toBeNaN()
    expect(perUnit(NaN, 10)).toBeNaN()
  })

  it('judges a cost by its most, and a cost without a target not at all', () => {
    const written: CpuCost = { figure: 'CPU per GiB written', unit: 's', ceiling: 0.8, dfs: 3.2, before: 7.6, atMost: 3.8 }
    expect(cpuCostVerdict(written)).toBe('PASS')
    expect(cpuCostVerdict({ ...written, dfs: 4 })).toBe('MISS')
    expect(cpuCostVerdict({ figure: 'CPU per file statted', unit: 'ms', ceiling: 0.01, dfs: 0.05 })).toBe('—')
  })

  it('prints the cost, how many times the ceiling\'s it is, the cost before and the target', () => {
    const table = renderCpuCosts([{ figure: 'CPU per GiB written', unit: 's', ceiling: 0.8, dfs: 3.2, before: 7.6, atMost: 3.8 }])
    const row = table.split('\n')[2]!
    expect(row).toMatch(/^CPU per GiB written, s\s+0\.80\s+3\.20\s+4\.00×\s+7\.6 s\s+≤ 3\.8 s\s+PASS$/)
  })
})
