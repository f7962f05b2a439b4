// The words of dfs policy apply: the progress bar's state (counting, then chunks handled of chunks
// found) and the one line dfs status shows, for a job running, cancelled, failed, with nothing to do.

import { describe, expect, it } from 'vitest'
import { type ConversionStatus, conversionLine } from '../../src/cluster/convert/conversionStatus.js'
import { conversionProgress } from '../../src/cli/policyApply.js'

const KiB = 1024

function status(over: Partial<ConversionStatus> = {}): ConversionStatus {
  return {
    id: 1, path: '/photos', policy: 'ec:2+1', state: 'running', phase: 'converting', startedAt: 0, elapsedMs: 1000,
    filesTotal: 2, chunksTotal: 6, bytesTotal: 257 * KiB, filesDone: 1, chunksDone: 3, bytesDone: 128 * KiB,
    skippedChunks: 0, failedChunks: 0, storedBefore: 256 * KiB, storedAfter: 192 * KiB, bytesPerSec: 2 * 1024 * KiB,
    ...over,
  }
}

describe('dfs policy apply: progress and status line', () => {
  it('counting: no bar yet, what was found so far', () => {
    const p = conversionProgress(status({ phase: 'counting', filesTotal: 1, chunksTotal: 5, bytesTotal: 5 * 64 * KiB }))
    expect(p).toEqual({ value: 0, total: 0, detail: 'counting: 1 files, 5 chunks (320 KiB) to convert so far' })
  })

  it('converting: chunks handled (converted, skipped, failed) of chunks found', () => {
    const p = conversionProgress(status({ skippedChunks: 1, failedChunks: 1 }))
    expect(p.value).toBe(5)
    expect(p.total).toBe(6)
    expect(p.detail).toBe('1/2 files  3/6 chunks  128 KiB/257 KiB  2.0 MiB/s  1 skipped  1 failed')
  })

  it('nothing to convert: a finished job is all done', () => {
    const p = conversionProgress(status({ state: 'done', phase: 'finished', filesTotal: 0, chunksTotal: 0, bytesTotal: 0, filesDone: 0, chunksDone: 0, bytesDone: 0 }))
    expect(p).toMatchObject({ value: 1, total: 1 })
    expect(p.detail).toMatch(/ done$/)
  })

  it('the dfs status line: one line, whatever the path holds', () => {
    expect(conversionLine(status())).toBe('policy apply /photos (ec:2+1): converting, 1/2 files, 3/6 chunks, 128 KiB/257 KiB, 2.0 MiB/s, stored 256 KiB -> 192 KiB')
    expect(conversionLine(status({ state: 'cancelled', phase: 'finished', failedChunks: 2 }))).toBe(
      'policy apply /photos (ec:2+1): cancelled, 1/2 files, 3/6 chunks, 128 KiB/257 KiB, 2 failed, stored 256 KiB -> 192 KiB')
    const odd = conversionLine(status({ path: '/a\nb', state: 'failed', phase: 'finished', error: 'journal\nbroken', storedBefore: 0 }))
    expect(odd).toBe('policy apply /a\\nb (ec:2+1): failed, 1/2 files, 3/6 chunks, 128 KiB/257 KiB: journal\\nbroken')
    expect(conversionLine(status({ phase: 'counting' }))).toMatch(/^policy apply \/photos \(ec:2\+1\): counting, /)
  })
})
