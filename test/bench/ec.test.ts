// The erasure-coding table of npm run bench (src/bench/ec.ts): each policy's figure, and the EC ones
// as ratios to replicas:2 measured in the same run. Arithmetic only; speed is never asserted.

import { describe, expect, it } from 'vitest'
import { ecDiskNeed, renderEcFigures } from '../../src/bench/ec.js'

describe('the EC table', () => {
  const lines = renderEcFigures({
    sizeLabel: '64 MiB', runs: 1,
    write: [60, 72, 90], read: [150, 225, 150], degraded: [270, 210, 216],
    stored: [2, 1.5006, 1.5003], measured: [2, 1.5, NaN],
  })
  const row = (start: string) => lines.join('\n').split('\n').find(line => line.startsWith(start))!.split(/\s{2,}/)

  it('gives ec:2+1 and ec:4+2 as ratios to replicas:2', () => {
    expect(row('sequential write')).toEqual(['sequential write 64 MiB (conv=fsync), MB/s', '60', '72', '90', '1.20×', '1.50×'])
    expect(row('cold read')).toEqual(['cold read 64 MiB, MB/s', '150', '225', '150', '1.50×', '1.00×'])
    expect(row('degraded read')).toEqual(['degraded read, node_1 gone, MB/s', '270', '210', '216', '0.78×', '0.80×'])
  })

  it('shows stored bytes per byte of data, measured on disk and by dfs status, beside the nominal', () => {
    expect(row('stored bytes')).toEqual(['stored bytes per byte of data', '2.00', '1.50', '1.50', '0.75×', '0.75×'])
    expect(row('  as dfs status')).toEqual(['', 'as dfs status measures it', '2.00', '1.50', '—', '0.75×', '—'])
    expect(row('  nominal')).toEqual(['', 'nominal', '2.00', '1.50', '1.50', '0.75×', '0.75×'])
  })

  it('asks for disk for the file once per policy: 2 + 1.5 + 1.5 times its size, and some slack', () => {
    expect(ecDiskNeed(2 ** 30)).toBeGreaterThanOrEqual(5 * 2 ** 30)
    expect(ecDiskNeed(2 ** 30)).toBeLessThan(5.5 * 2 ** 30)
  })
})
