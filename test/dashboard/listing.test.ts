// /api/ls pages: the same names in the same order as a sort of the whole directory would give, found
// in one pass over it (a page of a 100k-name directory used to sort all 100k, on the NameNode's
// event loop, for every page).

import { describe, expect, it } from 'vitest'
import { pageOfNames } from '../../src/dashboard/listing.js'

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** Deterministic names, some sharing prefixes, some beyond the BMP. */
function names(n: number, seed = 7): string[] {
  let x = seed
  // xorshift32: exact in 32-bit integer arithmetic.
  const next = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0 }
  const alphabet = ['a', 'b', 'B', '0', '.', '-', 'é', '日', '😀', ' ']
  const out = new Set<string>()
  while (out.size < n) {
    let name = ''
    const length = 1 + (next() % 8)
    for (let i = 0; i < length; i++) name += alphabet[next() % alphabet.length]
    out.add(name)
  }
  return [...out]
}

describe('a page of a directory', () => {
  it('is the next names in code-unit order, page after page, with more while some remain', () => {
    const all = names(3000)
    const sorted = [...all].sort(byCodeUnits)
    for (const limit of [1, 7, 500, 5000]) {
      const seen: string[] = []
      let after: string | undefined
      for (;;) {
        const { page, more } = pageOfNames(all, after, limit)
        seen.push(...page)
        expect(more, `limit ${limit}`).toBe(seen.length < sorted.length)
        if (!more) break
        after = page[page.length - 1]
      }
      expect(seen, `limit ${limit}`).toEqual(sorted)
    }
    // After a name that is not there (removed between pages): what follows it.
    expect(pageOfNames(['a', 'c', 'e'], 'b', 10)).toEqual({ page: ['c', 'e'], more: false })
    expect(pageOfNames([], undefined, 10)).toEqual({ page: [], more: false })
  })

  it('costs about one comparison per name, not a sort of the whole directory', () => {
    const all = names(20_000)
    let compares = 0
    const counting = (a: string, b: string) => { compares++; return byCodeUnits(a, b) }
    pageOfNames(all, undefined, 100, counting)
    // A sort compares ~n log2 n times (≈ 285,000 here); one pass with a page-sized heap, a few times n at most.
    expect(compares).toBeLessThan(4 * all.length)
    compares = 0
    pageOfNames(all, [...all].sort(byCodeUnits)[10_000], 100, counting)
    expect(compares).toBeLessThan(4 * all.length)
  })
})
