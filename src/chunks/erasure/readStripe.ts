// Reading an erasure-coded chunk: gather k intact shards, each verified against its own SHA-256
// (checkCopy.ts), and join them into the chunk's bytes. The fast path reads the k data shards in
// parallel and only copies them out; when any of them is missing, corrupt or unreachable, parity
// shards are read in its place and the chunk is rebuilt within the same call (a degraded read),
// then checked against the chunk's own SHA-256 as well. Fewer than k intact shards: CHUNK_UNREADABLE
// naming every shard tried, for that chunk only.
//
// Order of looking, as readReplicas.ts does for copies: shards on nodes in better health first
// (alive, suspect, dead), data shards before parity among equals; a shard's listed node before any
// other; nodes a shard's ref does not list (a rebuild interrupted before its record) only once
// every listed shard has been tried and fewer than k were intact.

import { dfsError, type DfsError } from '../../errors.js'
import type { ChunkId, DataNode } from '../../datanode/DataNode.js'
import type { ChunkRef } from '../ChunkRef.js'
import { readCopy } from '../checkCopy.js'
import { attemptOf, type NodeAttempt } from '../nodeError.js'
import { verifyChunk } from '../verify.js'
import { joinData, rebuildShards } from './stripe.js'

/** Where the shards of a stripe may be read from. */
export interface ShardSources {
  nodeOf(nodeId: string): DataNode | undefined
  /** Read preference of a node, lower first (readReplicas.healthRank); absent: all equal. */
  rank?(nodeId: string): number
  /** Nodes the shard's ref does not list that may hold it anyway, best first. Absent: none. */
  strays?(shard: ChunkRef): readonly string[]
}

/** Told, as it happens, of each shard read and each node that failed to give an intact shard. */
export interface ShardEvents {
  /** `listed`: the node is one the shard's ref lists (a bad shard to report), not a stray looked at. */
  onFailure?(shard: number, nodeId: string, error: DfsError, listed: boolean): void
  onRead?(shard: number, nodeId: string, bytes: number, listed: boolean): void
}

/** One failed attempt at one shard on one node. */
export interface ShardAttempt extends NodeAttempt {
  /** The shard's index in the stripe (0..k-1 data, k.. parity) and its chunk id. */
  shard: number
  id: ChunkId
}

export interface GatheredShards {
  /** k + m entries: the verified bytes of each shard read, undefined for the others. At least k present. */
  shards: (Buffer | undefined)[]
  /** The node each present shard was read from. */
  from: (string | undefined)[]
  failures: ShardAttempt[]
}

export interface StripeRead extends GatheredShards {
  data: Buffer
  /** Whether data shards were rebuilt from parity (a degraded read). */
  rebuilt: boolean
}

/** ref.ec, or a clear error: a replicated ref has no shards to gather. */
function stripeOf(ref: ChunkRef) {
  if (!ref.ec) throw new TypeError(`chunk ${ref.id} is not erasure coded`)
  return ref.ec
}

/**
 * At least k intact shards of ref (more only when reads already under way also succeed). Throws
 * CHUNK_UNREADABLE, with every attempt in its context, when fewer than k can be had.
 */
export async function gatherShards(ref: ChunkRef, sources: ShardSources, events: ShardEvents = {}): Promise<GatheredShards> {
  const { k, m, shards } = stripeOf(ref)
  const rank = (nodeId: string) => sources.rank?.(nodeId) ?? 0
  const got: GatheredShards = { shards: new Array(k + m).fill(undefined), from: new Array(k + m).fill(undefined), failures: [] }
  const intact = () => got.shards.filter(Boolean).length

  /** Try shard i on each of `nodeIds` in turn until one gives it intact (or k are in hand already). */
  const readShard = async (i: number, nodeIds: readonly string[], listed: boolean): Promise<void> => {
    const shard = shards[i]
    for (const nodeId of nodeIds) {
      if (got.shards[i] || (!listed && intact() >= k)) return
      const node = sources.nodeOf(nodeId)
      const copy = await readCopy(node, nodeId, shard)
      if (copy.check === 'good') {
        got.shards[i] = copy.data
        got.from[i] = nodeId
        events.onRead?.(i, nodeId, copy.data.length, listed)
        return
      }
      got.failures.push({ shard: i, id: shard.id, ...attemptOf(nodeId, node, copy.error) })
      events.onFailure?.(i, nodeId, copy.error, listed)
    }
  }
  const listedNodes = (shard: ChunkRef) => [...new Set(shard.nodes)].sort((a, b) => rank(a) - rank(b))
  const shardRank = (i: number) => Math.min(...shards[i].nodes.map(rank))

  // Listed shards, best first: with every node alive that is the k data shards, read at once. Each
  // failure is made up for by the next shard in line, in the next round (as many as are missing).
  const order = shards.flatMap((shard, i) => (shard.nodes.length > 0 ? [i] : [])).sort((a, b) => shardRank(a) - shardRank(b) || a - b)
  let next = 0
  while (intact() < k && next < order.length) {
    const round = order.slice(next, next + k - intact())
    next += round.length
    await Promise.all(round.map((i) => readShard(i, listedNodes(shards[i]), true)))
  }

  // Still short: the shards not in hand may be on nodes their refs do not list.
  if (intact() < k && sources.strays) {
    const missing = shards.flatMap((shard, i) => (got.shards[i] ? [] : [i]))
    await Promise.all(missing.map((i) => readShard(i, (sources.strays?.(shards[i]) ?? []).filter((id) => !shards[i].nodes.includes(id)), false)))
  }

  if (intact() < k) {
    const why = got.failures.map((f) => `shard ${f.shard} on ${f.address ?? f.nodeId}: ${f.code}`).join(', ')
    const unplaced = shards.flatMap((shard, i) => (shard.nodes.length === 0 && !got.shards[i] ? [i] : []))
    const lost = unplaced.length > 0 ? `; shards ${unplaced.join(', ')} have no node` : ''
    throw dfsError('CHUNK_UNREADABLE', `chunk ${ref.id} has ${intact()} intact shards, fewer than the ${k} of ec:${k}+${m} needed (${why || 'no shards to try'}${lost})`, {
      chunk: ref.id,
      k,
      m,
      intact: intact(),
      tried: got.failures,
    })
  }
  return got
}

/**
 * The bytes of the erasure-coded chunk ref, verified: from its k data shards when they are intact,
 * else rebuilt from any k intact shards and checked against the chunk's SHA-256.
 */
export async function readStripe(ref: ChunkRef, sources: ShardSources, events: ShardEvents = {}): Promise<StripeRead> {
  const { k, m } = stripeOf(ref)
  const gathered = await gatherShards(ref, sources, events)
  const dataShards = gathered.shards.slice(0, k)
  if (dataShards.every((shard) => shard !== undefined)) {
    // Each data shard verified against its own SHA-256: their join is the chunk the writer hashed.
    return { ...gathered, data: joinData(dataShards as Buffer[], k, ref.len), rebuilt: false }
  }
  const all = await rebuildShards(gathered.shards, k, m)
  const data = joinData(all.slice(0, k), k, ref.len)
  try {
    await verifyChunk(ref, data)
  } catch (err) {
    // Every shard used verified against its own ref, yet the chunk does not: the refs disagree with
    // each other (a bug that wrote them), and no other choice of k shards is more trustworthy.
    const used = gathered.shards.flatMap((shard, i) => (shard ? [i] : []))
    throw dfsError('CHUNK_UNREADABLE', `chunk ${ref.id} rebuilt from shards ${used.join(', ')} fails its SHA-256 check`, {
      chunk: ref.id,
      k,
      m,
      used,
      tried: gathered.failures,
    }, err)
  }
  return { ...gathered, data, rebuilt: true }
}
