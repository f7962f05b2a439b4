// The one door to @ronomon/reed-solomon (native, N-API, runs on libuv's thread pool). The library
// trusts its caller: a zero-length buffer argument aborts the whole process, and shard sizes that
// are not a multiple of 8, k above MAX_K (24) or m above MAX_M (6), or masks that do not fit, are
// undefined behaviour. Every call goes through `encodeShards`, which checks all of that first and
// throws an ordinary error instead.

import { createRequire } from 'node:module'
import type * as ReedSolomonModule from '@ronomon/reed-solomon'

// Loaded by Node's require, not imported: a test runner that transforms ES imports chokes on the
// package's binding.node.
const ReedSolomon = createRequire(import.meta.url)('@ronomon/reed-solomon') as typeof ReedSolomonModule

export const MAX_K = ReedSolomon.MAX_K
export const MAX_M = ReedSolomon.MAX_M

const contexts = new Map<string, ReedSolomonModule.Context>()

/** The library's encoding context for (k, m): made once, shared (it is safe to use concurrently). */
function contextFor(k: number, m: number): ReedSolomonModule.Context {
  const key = `${k}+${m}`
  let context = contexts.get(key)
  if (!context) {
    context = ReedSolomon.create(k, m)
    contexts.set(key, context)
  }
  return context
}

/**
 * Compute the shards whose bits are set in `targets` from those set in `sources` (bit i: shard i;
 * 0..k-1 are the data shards in `data`, k..k+m-1 the parity shards in `parity`). `data` holds
 * exactly k shards of shardLen bytes, `parity` exactly m. Needs at least k sources, and no shard
 * both source and target. Writes the targets in place.
 */
export function encodeShards(k: number, m: number, shardLen: number, data: Buffer, parity: Buffer, sources: number, targets: number): Promise<void> {
  check(Number.isInteger(k) && k >= 1 && k <= MAX_K, `k must be 1 to ${MAX_K}, not ${k}`)
  check(Number.isInteger(m) && m >= 1 && m <= MAX_M, `m must be 1 to ${MAX_M}, not ${m}`)
  check(Number.isInteger(shardLen) && shardLen > 0 && shardLen % 8 === 0, `shard length must be a positive multiple of 8, not ${shardLen}`)
  check(Buffer.isBuffer(data) && data.length === k * shardLen, `data must be ${k} shards of ${shardLen} bytes, not ${data?.length} bytes`)
  check(Buffer.isBuffer(parity) && parity.length === m * shardLen, `parity must be ${m} shards of ${shardLen} bytes, not ${parity?.length} bytes`)
  const all = 2 ** (k + m) - 1
  check(Number.isInteger(sources) && sources > 0 && (sources & ~all) === 0, `sources ${sources} names shards outside 0..${k + m - 1}`)
  check(Number.isInteger(targets) && targets > 0 && (targets & ~all) === 0, `targets ${targets} names shards outside 0..${k + m - 1}`)
  check((sources & targets) === 0, 'a shard cannot be both a source and a target')
  check(bitCount(sources) >= k, `rebuilding needs at least ${k} source shards, not ${bitCount(sources)}`)
  return new Promise((resolve, reject) => {
    ReedSolomon.encode(contextFor(k, m), sources, targets, data, 0, data.length, parity, 0, parity.length, (error) => {
      if (error) reject(error)
      else resolve()
    })
  })
}

function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new RangeError(`reed-solomon: ${message}`)
}

function bitCount(mask: number): number {
  let n = 0
  for (let bits = mask; bits > 0; bits = Math.floor(bits / 2)) n += bits % 2
  return n
}
