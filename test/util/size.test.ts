// Durations as flags take them: a unit is required (a bare number meant milliseconds to dfs and
// seconds to the person typing it), and each flag may set the shortest that makes sense.

import { describe, expect, it } from 'vitest'
import { formatDuration, parseDuration } from '../../src/util/size.js'

const errorOf = (f: () => unknown) => {
  try {
    f()
  } catch (err) {
    return err as Error & { code: string }
  }
  throw new Error('did not throw')
}

describe('parseDuration', () => {
  it('reads ms, s and m, with fractions', () => {
    expect(parseDuration('500ms')).toBe(500)
    expect(parseDuration('2s')).toBe(2000)
    expect(parseDuration('1.5s')).toBe(1500)
    expect(parseDuration('1m')).toBe(60_000)
    expect(parseDuration(' 10 S ')).toBe(10_000)
  })

  it('refuses a bare number, naming both readings as the fix', () => {
    const err = errorOf(() => parseDuration('5', '--heartbeat'))
    expect(err.code).toBe('BAD_ARGUMENT')
    expect(err.message).toBe('--heartbeat "5" needs a unit; write 5s or 5ms')
  })

  it('refuses what is not a duration', () => {
    for (const text of ['', 'fast', '5d', '-1s', '1e3ms']) {
      expect(errorOf(() => parseDuration(text, '--dead-after')).message, text).toMatch(/is not a duration; write it like 500ms, 2s, 1m or 1h/)
    }
  })

  it('takes hours', () => {
    expect(parseDuration('5h')).toBe(5 * 3_600_000)
  })

  it('calls a duration out of range out of range, and says the range', () => {
    expect(errorOf(() => parseDuration('0s', '--orphan-grace')).message).toBe('--orphan-grace 0s is too short; pass at least 1ms')
    expect(errorOf(() => parseDuration('0s', '--heal-grace', { minMs: 1000 })).message).toBe('--heal-grace 0s is too short; pass at least 1s')
    expect(errorOf(() => parseDuration('1000000h', '--heartbeat')).message).toBe('--heartbeat 1000000h is too long; pass at most 576h (24 days)')
    expect(parseDuration('576h')).toBe(576 * 3_600_000)
  })

  it('refuses a duration below the flag\'s lower bound, naming the bound', () => {
    const err = errorOf(() => parseDuration('10ms', '--heartbeat', { minMs: 100 }))
    expect(err.code).toBe('BAD_ARGUMENT')
    expect(err.message).toBe('--heartbeat 10ms is too short; pass at least 100ms')
    expect(errorOf(() => parseDuration('0.5s', '--timeout', { minMs: 1000 })).message).toContain('pass at least 1s')
    expect(parseDuration('100ms', '--heartbeat', { minMs: 100 })).toBe(100)
  })

  it('formats bounds the way they are typed', () => {
    expect([0, 100, 1000, 1500, 60_000, 90_000, 7_200_000].map(formatDuration)).toEqual(['0s', '100ms', '1s', '1500ms', '1m', '90s', '2h'])
  })
})
