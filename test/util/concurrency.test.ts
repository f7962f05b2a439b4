import { describe, expect, it } from 'vitest'
import { concurrencyOf } from '../../src/util/concurrency.js'

describe('concurrencyOf', () => {
  it('takes whole numbers of at least 1, rounds others down to one, and falls back for what is not a finite number', () => {
    expect(concurrencyOf(16, 8)).toBe(16)
    expect(concurrencyOf(2.9, 8)).toBe(2)
    expect(concurrencyOf(0, 8)).toBe(1)
    expect(concurrencyOf(-3, 8)).toBe(1)
    expect(concurrencyOf(Number.NaN, 8)).toBe(8)
    expect(concurrencyOf(Number.POSITIVE_INFINITY, 8)).toBe(8)
    expect(concurrencyOf(undefined, 8)).toBe(8)
  })
})
