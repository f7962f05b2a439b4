import { describe, expect, it } from 'vitest'
import { type Ranges, addRange, clipRanges, overlay, rangesEnd } from '../../src/fs/ranges.js'

describe('written byte ranges', () => {
  it('merge what touches or overlaps and keep the rest apart, in order', () => {
    const r: Ranges = []
    addRange(r, 10, 20)
    addRange(r, 30, 40)
    addRange(r, 0, 5)
    addRange(r, 20, 25) // touches [10, 20)
    expect(r).toEqual([[0, 5], [10, 25], [30, 40]])
    addRange(r, 4, 31) // spans all three
    expect(r).toEqual([[0, 40]])
    addRange(r, 50, 50) // empty
    expect(r).toEqual([[0, 40]])
    expect(rangesEnd(r)).toBe(40)
  })

  it('clip at a truncate', () => {
    const r: Ranges = [[0, 5], [10, 25], [30, 40]]
    clipRanges(r, 12)
    expect(r).toEqual([[0, 5], [10, 12]])
    clipRanges(r, 10)
    expect(r).toEqual([[0, 5]])
    clipRanges(r, 0)
    expect(r).toEqual([])
  })

  it('overlay copies only the ranges, onto a newer version or a hole, into a new buffer', () => {
    const mine = Buffer.from('AAAAAAAAAA')
    const theirs = Buffer.from('bbbbbbbbbbbbbbb')
    const out = overlay(theirs, mine, [[2, 4], [8, 10]])
    expect(out.toString()).toBe('bbAAbbbbAAbbbbb')
    expect(theirs.toString()).toBe('bbbbbbbbbbbbbbb')
    expect(overlay(null, mine, [[2, 4]])).toEqual(Buffer.from([0, 0, 0x41, 0x41]))
    expect(overlay(Buffer.from('bb'), mine, [[5, 7]]).toString('latin1')).toBe('bb\0\0\0AA')
  })
})
