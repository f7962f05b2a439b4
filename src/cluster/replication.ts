// What "under-replicated" and "unavailable" mean, in one place: `dfs status`'s summary and the
// healer count chunks with these functions, so their figures agree (also while a dead node's grace
// period runs, when the healer waits before copying).
//
// A copy (or a shard) is `live` when the node the ref lists is alive and the copy is not known to be
// bad: reads are served from live copies. It is `waiting` when its node is suspect, or dead for less
// than the grace period: it may well come back, so the healer does not copy it yet. Anything else is
// `gone`. A chunk wants its own number of pieces (chunks/layout.ts): a replicated one `copies` (the
// ref's, else the cluster's R), an erasure-coded one its k + m shards, any k of which read it.
//
//                   replicated (wants C copies)     erasure-coded (k + m shards)
//   ok              at least C live copies          all k + m shards live
//   underReplicated 1 .. C-1 live copies            k .. k+m-1 live shards: readable, at risk
//   unavailable     no live copy                    fewer than k live shards: a read fails now
//
// (Unavailable is lost for good only if the waiting pieces never come back, or are bad: fsck and the
// healer's `lost` tell.) A chunk is `waiting` (for the healer) when it is not ok but live + waiting
// pieces reach what it wants.
//
// Which copy a state is asked for: (node, chunk id) for a copy of a replicated chunk; (node of the
// shard, the STRIPE's chunk id) for a shard, as reads report a bad shard (onBadReplica(stripeRef,
// node)) and the healer's hints are kept (a node holds at most one shard of a stripe).

import type { ChunkRef } from '../chunks/ChunkRef.js'
import type { NodeRegistry } from '../chunks/NodeRegistry.js'
import type { NamespaceState } from '../meta/namespace/types.js'
import { isFile } from '../meta/namespace/types.js'

export type CopyState = 'live' | 'waiting' | 'gone'
/** How the copy of a chunk on a node stands. */
export type CopyStateOf = (nodeId: string, chunkId: string) => CopyState
export type Replication = 'ok' | 'underReplicated' | 'unavailable'

export interface ChunkReplication {
  /** Live copies, or live shards. */
  live: number
  waiting: number
  /**
   * Listed pieces that are gone (a node dead past the grace period or not registered, a copy known
   * bad; a shard slot with no node). A replicated chunk can have one beside enough live copies: a
   * copy the healer kept listed while its node might come back. It should leave the list.
   */
  gone: number
  /** Copies wanted (ref.copies ?? R), or k + m shards. */
  wanted: number
  replication: Replication
  /** Short of what it wants live, but the missing pieces are on nodes that may come back within the grace period. */
  waitingForGrace: boolean
}

/** How a chunk stands, given how each listed copy (or shard) stands. A node listed twice for one copy counts once. */
export function chunkReplication(ref: Pick<ChunkRef, 'id' | 'nodes' | 'copies' | 'ec'>, replicas: number, copyState: CopyStateOf): ChunkReplication {
  if (ref.ec) return stripeReplication(ref.id, ref.ec, copyState)
  let live = 0
  let waiting = 0
  let gone = 0
  const nodes = ref.nodes
  for (let i = 0; i < nodes.length; i++) {
    const nodeId = nodes[i]!
    if (nodes.indexOf(nodeId) !== i) continue // listed twice (no allocation: called for every chunk)
    const state = copyState(nodeId, ref.id)
    if (state === 'live') live++
    else if (state === 'waiting') waiting++
    else gone++
  }
  const wanted = ref.copies ?? replicas
  const replication: Replication = live >= wanted ? 'ok' : live > 0 ? 'underReplicated' : 'unavailable'
  return { live, waiting, gone, wanted, replication, waitingForGrace: replication !== 'ok' && live + waiting >= wanted }
}

/** A stripe: each shard is live, waiting or gone (a shard with no node is gone: lost, not rebuilt yet). */
function stripeReplication(id: string, ec: NonNullable<ChunkRef['ec']>, copyState: CopyStateOf): ChunkReplication {
  let live = 0
  let waiting = 0
  let gone = 0
  for (const shard of ec.shards) {
    const nodeId = shard.nodes[0]
    const state = nodeId === undefined ? 'gone' : copyState(nodeId, id)
    if (state === 'live') live++
    else if (state === 'waiting') waiting++
    else gone++
  }
  const wanted = ec.k + ec.m
  const replication: Replication = live >= wanted ? 'ok' : live >= ec.k ? 'underReplicated' : 'unavailable'
  return { live, waiting, gone, wanted, replication, waitingForGrace: replication !== 'ok' && live + waiting >= wanted }
}

/**
 * A copy's state from the node's health, as the registry says now (one look, then lookups: it is
 * called for every copy of every chunk): alive is live, suspect or dead for less than graceMs is
 * waiting. `isBad` (the healer's reports of missing or corrupt copies) turns a copy gone.
 */
export function copyStateOf(
  registry: Pick<NodeRegistry, 'ids' | 'status'>,
  graceMs: number,
  now = Date.now(),
  isBad?: (nodeId: string, chunkId: string) => boolean,
): CopyStateOf {
  const byNode = new Map<string, CopyState>()
  for (const nodeId of registry.ids()) {
    const status = registry.status(nodeId)
    if (!status) continue
    byNode.set(nodeId, status.health === 'alive' ? 'live' : status.health === 'suspect' || now - status.since < graceMs ? 'waiting' : 'gone')
  }
  return (nodeId, chunkId) => (isBad?.(nodeId, chunkId) ? 'gone' : byNode.get(nodeId) ?? 'gone')
}

export interface ReplicationCounts {
  referenced: number
  underReplicated: number
  unavailable: number
  /** Of those two, the chunks whose missing copies may come back (see chunkReplication). */
  waitingForGrace: number
}

export function emptyCounts(): ReplicationCounts {
  return { referenced: 0, underReplicated: 0, unavailable: 0, waitingForGrace: 0 }
}

/** Add one chunk to the counts. */
export function countChunk(counts: ReplicationCounts, r: ChunkReplication): void {
  counts.referenced++
  if (r.replication === 'underReplicated') counts.underReplicated++
  else if (r.replication === 'unavailable') counts.unavailable++
  if (r.waitingForGrace) counts.waitingForGrace++
}

/** What a census of the namespace finds: the counts above, the files, and chunks by live copies or shards. */
export interface ReplicationCensus extends ReplicationCounts {
  files: number
  /** byCopies[n]: replicated chunks with n live copies; 0 .. R always present (n > R: over-replicated, or copies > R wanted). */
  byCopies: number[]
  /**
   * byMissingShards[n]: erasure-coded chunks with n shards not live (0: whole; more than m:
   * unavailable). Present when any chunk is erasure-coded.
   */
  byMissingShards?: number[]
}

/**
 * Every chunk the namespace references, counted now (synchronously: one consistent look). One walk
 * for every figure: `dfs status`, the dashboard and /metrics read this, so their figures agree.
 */
export function replicationCensus(state: NamespaceState, replicas: number, copyState: CopyStateOf, onChunk?: (ref: ChunkRef) => void): ReplicationCensus {
  const counts = emptyCounts()
  const byCopies = new Array<number>(replicas + 1).fill(0)
  let byMissingShards: number[] | undefined
  let files = 0
  for (const inode of state.inodes.values()) {
    if (!isFile(inode)) continue
    files++
    for (const ref of inode.chunks ?? []) {
      if (!ref) continue
      onChunk?.(ref) // more figures from the same walk (storageOverhead.ts)
      const r = chunkReplication(ref, replicas, copyState)
      countChunk(counts, r)
      const [list, n] = ref.ec ? [(byMissingShards ??= [0]), r.wanted - r.live] : [byCopies, r.live]
      while (list.length <= n) list.push(0)
      list[n]! += 1
    }
  }
  return { ...counts, files, byCopies, ...(byMissingShards ? { byMissingShards } : {}) }
}
