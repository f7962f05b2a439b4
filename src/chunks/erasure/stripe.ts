// A chunk as a stripe: k data shards (the chunk's bytes cut in k, the last zero padded) and m parity
// shards, any k of which give back the rest (chunks/layout.ts says where they are stored; the
// ChunkRef says what each one hashes to). The shards of one stripe are views into one allocation of
// hashable memory (util/sha256.ts), so hashing them needs no copy.

import { dfsError } from '../../errors.js'
import { hashableBuffer } from '../../util/sha256.js'
import { shardLength } from '../layout.js'
import { encodeShards } from './reedSolomon.js'

/** The k+m shards of a chunk: data shards (zero padded to shardLength(len, k)), then parity. */
export async function encodeStripe(data: Uint8Array, k: number, m: number): Promise<Buffer[]> {
  const shardLen = shardLength(data.length, k)
  const memory = hashableBuffer((k + m) * shardLen) // zeroed: the padding
  memory.set(data)
  const dataPart = memory.subarray(0, k * shardLen)
  const parityPart = memory.subarray(k * shardLen)
  await encodeShards(k, m, shardLen, dataPart, parityPart, mask(0, k), mask(k, k + m))
  return views(memory, k + m, shardLen)
}

/**
 * All k+m shards, the missing ones (undefined) rebuilt from the present ones. Throws
 * CHUNK_UNREADABLE when fewer than k are present. Present shards must all have one length.
 */
export async function rebuildShards(shards: readonly (Uint8Array | undefined)[], k: number, m: number): Promise<Buffer[]> {
  if (shards.length !== k + m) throw new RangeError(`a stripe of ${k}+${m} has ${k + m} shards, not ${shards.length}`)
  const present = shards.flatMap((s, i) => (s ? [i] : []))
  if (present.length < k) {
    throw dfsError('CHUNK_UNREADABLE', `only ${present.length} of the ${k + m} shards are intact; ${k} are needed to rebuild the stripe`, {
      present, k, m,
    })
  }
  const shardLen = shards[present[0]!]!.length
  for (const i of present) {
    if (shards[i]!.length !== shardLen) throw new RangeError(`shard ${i} has ${shards[i]!.length} bytes, shard ${present[0]} has ${shardLen}`)
  }
  const memory = hashableBuffer((k + m) * shardLen)
  let sources = 0
  let targets = 0
  for (let i = 0; i < k + m; i++) {
    const shard = shards[i]
    if (shard) {
      memory.set(shard, i * shardLen)
      sources |= 2 ** i
    } else {
      targets |= 2 ** i
    }
  }
  if (targets !== 0) await encodeShards(k, m, shardLen, memory.subarray(0, k * shardLen), memory.subarray(k * shardLen), sources, targets)
  return views(memory, k + m, shardLen)
}

/** The chunk's first `len` bytes from its k data shards. */
export function joinData(shards: readonly Uint8Array[], k: number, len: number): Buffer {
  const out = hashableBuffer(len)
  let at = 0
  for (let i = 0; i < k && at < len; i++) {
    const shard = shards[i]
    if (!shard) throw new RangeError(`data shard ${i} is missing`)
    const take = Math.min(shard.length, len - at)
    out.set(take === shard.length ? shard : shard.subarray(0, take), at)
    at += take
  }
  if (at < len) throw new RangeError(`the data shards hold ${at} bytes, fewer than the chunk's ${len}`)
  return out
}

function mask(from: number, to: number): number {
  let bits = 0
  for (let i = from; i < to; i++) bits |= 2 ** i
  return bits
}

function views(memory: Buffer, count: number, shardLen: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => memory.subarray(i * shardLen, (i + 1) * shardLen))
}
