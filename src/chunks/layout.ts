// How a chunk is laid out on the DataNodes, in one place: as copies (replication) or as the shards
// of a stripe (erasure coding). Everything that walks what is stored where (the healer, the
// scrubber, the orphan collector, deletes, fsck, balance and drain, placement views) asks here
// which pieces a chunk reference stands for, instead of reading ref.nodes and ref.id directly.
//
//   replicas  one piece: the chunk itself (ref.id), wanted on `copies` distinct nodes
//   ec        k + m pieces: the shards (ref.ec.shards), each wanted on exactly one node, no two of
//             a stripe on the same node; any k of them rebuild the chunk

import type { ChunkRef } from './ChunkRef.js'

export type Layout =
  | { readonly kind: 'replicas'; readonly copies: number }
  | { readonly kind: 'ec'; readonly k: number; readonly m: number }

/** The library's limits (@ronomon/reed-solomon: MAX_K, MAX_M), and a sane bound for copies. */
export const MAX_K = 24
export const MAX_M = 6
export const MAX_COPIES = 16

/** The layout a reference records. `clusterReplicas` is R for a replicated ref that does not say. */
export function layoutOf(ref: Pick<ChunkRef, 'copies' | 'ec'>, clusterReplicas: number): Layout {
  if (ref.ec) return { kind: 'ec', k: ref.ec.k, m: ref.ec.m }
  return { kind: 'replicas', copies: ref.copies ?? clusterReplicas }
}

export function sameLayout(a: Layout, b: Layout): boolean {
  return a.kind === 'ec' ? b.kind === 'ec' && a.k === b.k && a.m === b.m : b.kind === 'replicas' && a.copies === b.copies
}

/** Distinct nodes a layout needs: R copies, or k + m shards. */
export function nodesNeeded(layout: Layout): number {
  return layout.kind === 'ec' ? layout.k + layout.m : layout.copies
}

/** Bytes on nodes per byte of file data, in theory: R, or (k + m) / k. */
export function nominalOverhead(layout: Layout): number {
  return layout.kind === 'ec' ? (layout.k + layout.m) / layout.k : layout.copies
}

/**
 * Bytes per shard of a chunk of `len` bytes split k ways: ceil(len / k) rounded up to a multiple of
 * 8 (the Reed-Solomon library's unit), at least 8. So a short tail or a small file wastes under
 * 8 bytes per shard on padding, never a whole chunk size.
 */
export function shardLength(len: number, k: number): number {
  return Math.max(8, Math.ceil(len / k / 8) * 8)
}

/**
 * A data shard shorter than this is not worth a chunk file of its own: a chunk of fewer than
 * k × MIN_SHARD_BYTES bytes is not striped (see chunkLayout).
 */
export const MIN_SHARD_BYTES = 4096

/**
 * The layout a chunk of `len` bytes is stored in under `policy`. The policy itself, except for a
 * small erasure-coded chunk (a small file, or a short tail): under k × 4 KiB, its k + m shards would
 * each be a file of its own taking a whole filesystem block or more, k + m blocks where copies take
 * one each, and k + m puts, syncs and deletes. Such a chunk is stored as m + 1 copies instead: the
 * same m lost nodes survived, in m + 1 files. (A 4 KiB file under ec:4+2 takes 3 blocks, not 6.)
 * Every writer (ChunkStore.write) and the policy converter decide through here.
 */
export function chunkLayout(policy: Layout, len: number): Layout {
  if (policy.kind === 'ec' && len < policy.k * MIN_SHARD_BYTES) return { kind: 'replicas', copies: policy.m + 1 }
  return policy
}

/** Whether ref is stored as `policy` stores a chunk of its length (chunkLayout). */
export function storedAsPolicy(ref: Pick<ChunkRef, 'copies' | 'ec' | 'len'>, policy: Layout, clusterReplicas: number): boolean {
  return sameLayout(layoutOf(ref, clusterReplicas), chunkLayout(policy, ref.len))
}

/** The pieces stored on nodes for ref: its shards, or the chunk itself. */
export function storedPieces(ref: ChunkRef): readonly ChunkRef[] {
  return ref.ec ? ref.ec.shards : [ref]
}

/** The ids of those pieces: what a node lists in its inventory, what a delete removes. */
export function storedIds(ref: ChunkRef): string[] {
  return ref.ec ? ref.ec.shards.map((s) => s.id) : [ref.id]
}

/** Every node holding any piece of ref (once each). */
export function nodesHolding(ref: ChunkRef): string[] {
  if (!ref.ec) return [...new Set(ref.nodes)]
  return [...new Set(ref.ec.shards.flatMap((s) => s.nodes))]
}

/**
 * One stored piece of a chunk and what it is: `shard` is its index in the stripe, undefined for the
 * chunk itself (each copy of a replicated chunk is this one piece on another node).
 */
export interface Piece {
  readonly ref: ChunkRef
  readonly shard?: number
}

/** storedPieces(ref) with each piece's shard index: what a walk over stored things iterates. */
export function piecesOf(ref: ChunkRef): Piece[] {
  return ref.ec ? ref.ec.shards.map((shard, i) => ({ ref: shard, shard: i })) : [{ ref }]
}

/** The piece `shard` of ref (undefined: ref itself, replicated), or undefined when ref has no such piece. */
export function pieceOf(ref: ChunkRef, shard: number | undefined): ChunkRef | undefined {
  if (shard === undefined) return ref.ec ? undefined : ref
  return ref.ec?.shards[shard]
}

/**
 * Whether ref still lists piece `pieceId` (shard `shard`, or the chunk itself) on nodeId: a piece
 * found a while ago may have moved since (a balance, a drain, a rebuild).
 */
export function listsPiece(ref: ChunkRef, shard: number | undefined, pieceId: string, nodeId: string): boolean {
  const piece = pieceOf(ref, shard)
  return piece?.id === pieceId && piece.nodes.includes(nodeId)
}

/** Intact pieces a read needs: one copy, or any k shards. */
export function piecesToRead(layout: Layout): number {
  return layout.kind === 'ec' ? layout.k : 1
}

/** How a log line or report names a piece: "chunk <id>", or "shard <i> (<shard id>) of chunk <id>". */
export function pieceName(ref: ChunkRef, shard: number | undefined): string {
  if (shard === undefined) return `chunk ${ref.id}`
  return `shard ${shard} (${pieceOf(ref, shard)?.id ?? '?'}) of chunk ${ref.id}`
}

/** Distinct ids in a short list, without allocating (status sums storedBytes over every chunk). */
function distinct(ids: readonly string[]): number {
  let n = 0
  for (let i = 0; i < ids.length; i++) if (ids.indexOf(ids[i]!) === i) n++
  return n
}

/** Bytes stored on nodes for ref as its map records them (copies listed × len, or shards × shardLen). */
export function storedBytes(ref: ChunkRef): number {
  if (!ref.ec) return distinct(ref.nodes) * ref.len
  let bytes = 0
  for (const shard of ref.ec.shards) bytes += distinct(shard.nodes) * shard.len
  return bytes
}

/**
 * Whether ref has fewer pieces stored than its layout wants: fewer than its copies on distinct
 * nodes, or a shard on no node (a write that stored fewer than k + m: the healer completes it).
 */
export function isShort(ref: ChunkRef, clusterReplicas: number): boolean {
  if (ref.ec) return ref.ec.shards.some((s) => s.nodes.length === 0)
  return new Set(ref.nodes).size < (ref.copies ?? clusterReplicas)
}
