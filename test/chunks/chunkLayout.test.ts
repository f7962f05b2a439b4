// The small-chunk rule (chunks/layout.ts chunkLayout): under ec:k+m, a chunk shorter than
// k × MIN_SHARD_BYTES is stored as m + 1 copies, not as k + m tiny shard files; replicas policies and
// chunks of k × 4 KiB or more are stored as the policy says. storedAsPolicy judges a ref by that rule.

import { describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { MIN_SHARD_BYTES, chunkLayout, storedAsPolicy, type Layout } from '../../src/chunks/layout.js'

const ec = (k: number, m: number): Layout => ({ kind: 'ec', k, m })
const replicas = (copies: number): Layout => ({ kind: 'replicas', copies })
const shard = { id: 's', len: 8, sha256: '0'.repeat(64), nodes: ['n'] }
const stripe = (len: number, k: number, m: number): Pick<ChunkRef, 'copies' | 'ec' | 'len'> => ({ len, ec: { k, m, shards: Array.from({ length: k + m }, () => shard) } })

describe('chunkLayout', () => {
  it('is 4 KiB per data shard', () => {
    expect(MIN_SHARD_BYTES).toBe(4096)
  })

  for (const { k, m } of [{ k: 2, m: 1 }, { k: 4, m: 2 }, { k: 6, m: 3 }]) {
    it(`ec:${k}+${m}: ${k * 4096 - 1} bytes and less are ${m + 1} copies, ${k * 4096} and more a stripe`, () => {
      for (const len of [0, 1, 4096, k * 4096 - 1]) expect(chunkLayout(ec(k, m), len)).toEqual(replicas(m + 1))
      for (const len of [k * 4096, k * 4096 + 1, 8 << 20]) expect(chunkLayout(ec(k, m), len)).toEqual(ec(k, m))
    })
  }

  it('leaves a replicas policy as it is, whatever the length', () => {
    for (const copies of [1, 2, 3, 5]) {
      for (const len of [0, 1, 4095, 4096, 1 << 20]) expect(chunkLayout(replicas(copies), len)).toEqual(replicas(copies))
    }
  })
})

describe('storedAsPolicy', () => {
  it('a small chunk under ec is stored as the policy wants when it is m + 1 copies, said by copies or by the cluster R', () => {
    // ec:2+1 wants 2 copies of a small chunk: with cluster R = 2 the ref says no copies.
    expect(storedAsPolicy({ len: 100, copies: undefined }, ec(2, 1), 2)).toBe(true)
    expect(storedAsPolicy({ len: 100, copies: 2 }, ec(2, 1), 3)).toBe(true)
    expect(storedAsPolicy({ len: 100, copies: undefined }, ec(2, 1), 3)).toBe(false)
    // ec:4+2 wants 3 copies: 2 (the cluster R) is not enough.
    expect(storedAsPolicy({ len: 4 * 4096 - 1, copies: undefined }, ec(4, 2), 2)).toBe(false)
    expect(storedAsPolicy({ len: 4 * 4096 - 1, copies: 3 }, ec(4, 2), 2)).toBe(true)
    // A small stripe (written before the rule) is not how the policy stores it now.
    expect(storedAsPolicy(stripe(100, 2, 1), ec(2, 1), 2)).toBe(false)
  })

  it('a chunk of k × 4 KiB or more is stored as the policy wants only as that stripe', () => {
    expect(storedAsPolicy(stripe(2 * 4096, 2, 1), ec(2, 1), 2)).toBe(true)
    expect(storedAsPolicy(stripe(2 * 4096, 2, 1), ec(4, 2), 2)).toBe(false)
    expect(storedAsPolicy({ len: 2 * 4096, copies: undefined }, ec(2, 1), 2)).toBe(false)
    expect(storedAsPolicy({ len: 2 * 4096, copies: 2 }, ec(2, 1), 2)).toBe(false)
  })

  it('under a replicas policy, judges copies alone whatever the length', () => {
    expect(storedAsPolicy({ len: 10, copies: undefined }, replicas(2), 2)).toBe(true)
    expect(storedAsPolicy({ len: 10, copies: 3 }, replicas(2), 2)).toBe(false)
    expect(storedAsPolicy({ len: 1 << 20, copies: 3 }, replicas(3), 2)).toBe(true)
    expect(storedAsPolicy(stripe(100, 2, 1), replicas(2), 2)).toBe(false)
  })
})
