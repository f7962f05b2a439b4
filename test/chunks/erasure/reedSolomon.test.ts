import { describe, expect, it } from 'vitest'
import { MAX_K, MAX_M, encodeShards } from '../../../src/chunks/erasure/reedSolomon.js'

// Each of these inputs crashes or corrupts the process inside the native library; the adapter must
// turn every one into an ordinary error before the library sees it.
describe('the Reed-Solomon adapter', () => {
  const k = 2
  const m = 1
  const shard = 16
  const data = () => Buffer.alloc(k * shard, 7)
  const parity = () => Buffer.alloc(m * shard)

  it('encodes parity that rebuilds a lost data shard', async () => {
    const d = Buffer.from(Array.from({ length: k * shard }, (_, i) => i))
    const p = parity()
    await encodeShards(k, m, shard, d, p, 0b011, 0b100)
    const lost = Buffer.from(d)
    lost.fill(0, 0, shard)
    await encodeShards(k, m, shard, lost, p, 0b110, 0b001)
    expect(lost.equals(d)).toBe(true)
  })

  it('refuses zero-length buffers (the library aborts the process on one)', () => {
    expect(() => encodeShards(k, m, shard, Buffer.alloc(0), parity(), 0b011, 0b100)).toThrow(RangeError)
    expect(() => encodeShards(k, m, shard, data(), Buffer.alloc(0), 0b011, 0b100)).toThrow(RangeError)
    expect(() => encodeShards(k, m, 0, Buffer.alloc(0), Buffer.alloc(0), 0b011, 0b100)).toThrow(/positive multiple of 8/)
  })

  it('refuses shard sizes that are not a multiple of 8, and buffers of the wrong size', () => {
    expect(() => encodeShards(k, m, 12, Buffer.alloc(24), Buffer.alloc(12), 0b011, 0b100)).toThrow(/multiple of 8/)
    expect(() => encodeShards(k, m, shard, Buffer.alloc(k * shard + 8), parity(), 0b011, 0b100)).toThrow(/data must be/)
    expect(() => encodeShards(k, m, shard, data(), Buffer.alloc(8), 0b011, 0b100)).toThrow(/parity must be/)
  })

  it(`refuses k above ${MAX_K} and m above ${MAX_M}, and k or m below 1`, () => {
    expect(MAX_K).toBe(24)
    expect(MAX_M).toBe(6)
    expect(() => encodeShards(MAX_K + 1, 1, 8, Buffer.alloc((MAX_K + 1) * 8), Buffer.alloc(8), 1, 2)).toThrow(/k must be/)
    expect(() => encodeShards(2, MAX_M + 1, 8, Buffer.alloc(16), Buffer.alloc((MAX_M + 1) * 8), 3, 4)).toThrow(/m must be/)
    expect(() => encodeShards(0, 1, 8, Buffer.alloc(8), Buffer.alloc(8), 1, 2)).toThrow(/k must be/)
    expect(() => encodeShards(2, 0, 8, Buffer.alloc(16), Buffer.alloc(8), 3, 4)).toThrow(/m must be/)
  })

  it('refuses masks that name no shard, shards outside the stripe, overlap, or too few sources', () => {
    expect(() => encodeShards(k, m, shard, data(), parity(), 0, 0b100)).toThrow(/sources/)
    expect(() => encodeShards(k, m, shard, data(), parity(), 0b011, 0)).toThrow(/targets/)
    expect(() => encodeShards(k, m, shard, data(), parity(), 0b1011, 0b100)).toThrow(/outside/)
    expect(() => encodeShards(k, m, shard, data(), parity(), 0b011, 0b110)).toThrow(/both/)
    expect(() => encodeShards(k, m, shard, data(), parity(), 0b001, 0b110)).toThrow(/at least 2 source/)
  })
})
