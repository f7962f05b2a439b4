import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { encodeStripe, joinData, rebuildShards } from '../../../src/chunks/erasure/stripe.js'
import { shardLength } from '../../../src/chunks/layout.js'
import { isDfsError } from '../../../src/errors.js'

/** Every subset of 0..n-1 with at most `max` members. */
function lossPatterns(n: number, max: number): number[][] {
  const out: number[][] = []
  for (let bits = 0; bits < 2 ** n; bits++) {
    const set = Array.from({ length: n }, (_, i) => i).filter((i) => bits & (1 << i))
    if (set.length <= max) out.push(set)
  }
  return out
}

describe('stripes', () => {
  it('cuts a chunk into k padded data shards of a multiple of 8 bytes, then m parity shards', async () => {
    const data = randomBytes(1001)
    const shards = await encodeStripe(data, 4, 2)
    expect(shards).toHaveLength(6)
    const len = shardLength(1001, 4)
    expect(len).toBe(256)
    for (const s of shards) expect(s.length).toBe(len)
    expect(Buffer.concat(shards.slice(0, 4)).subarray(0, 1001).equals(data)).toBe(true)
    expect(Buffer.concat(shards.slice(0, 4)).subarray(1001).every((b) => b === 0)).toBe(true)
    expect(joinData(shards, 4, 1001).equals(data)).toBe(true)
  })

  for (const [k, m] of [[2, 1], [4, 2], [3, 3]] as const) {
    it(`ec:${k}+${m}: every loss of up to ${m} shards rebuilds them all byte for byte`, async () => {
      for (const len of [1, 8, 100, 4096 * k + 3]) {
        const data = randomBytes(len)
        const shards = await encodeStripe(data, k, m)
        for (const lost of lossPatterns(k + m, m)) {
          const partial = shards.map((s, i) => (lost.includes(i) ? undefined : Buffer.from(s)))
          const rebuilt = await rebuildShards(partial, k, m)
          for (let i = 0; i < k + m; i++) expect(rebuilt[i]!.equals(shards[i]!), `len ${len}, lost ${lost}, shard ${i}`).toBe(true)
          expect(joinData(rebuilt, k, len).equals(data)).toBe(true)
        }
      }
    })
  }

  it('with more than m shards lost, says CHUNK_UNREADABLE and how many it had', async () => {
    const shards = await encodeStripe(randomBytes(64), 2, 1)
    const err = await rebuildShards([shards[0], undefined, undefined], 2, 1).catch((e: unknown) => e)
    expect(isDfsError(err, 'CHUNK_UNREADABLE')).toBe(true)
    expect((err as Error).message).toMatch(/only 1 of the 3 shards/)
  })

  it('refuses shards of different lengths, and the wrong count', async () => {
    await expect(rebuildShards([Buffer.alloc(8), Buffer.alloc(16), undefined], 2, 1)).rejects.toThrow(RangeError)
    await expect(rebuildShards([Buffer.alloc(8), Buffer.alloc(8)], 2, 1)).rejects.toThrow(/3 shards/)
  })

  it('encodes a chunk large enough to live in shared memory (hashed without a copy)', async () => {
    const data = randomBytes(1 << 20)
    const shards = await encodeStripe(data, 2, 1)
    expect(shards[0]!.buffer).toBeInstanceOf(SharedArrayBuffer)
    const rebuilt = await rebuildShards([undefined, shards[1], shards[2]], 2, 1)
    expect(joinData(rebuilt, 2, data.length).equals(data)).toBe(true)
  })
})
