// Moving one copy of a chunk from one node to another: the one primitive under `dfs balance` and
// `dfs drain`. In order, under the chunk's lock (shared with the healer, see ../chunkLocks.ts):
//
//   1. read the chunk from a copy that verifies (the source first, then the other listed copies);
//   2. put it on the target, within the bandwidth limit, and sync it there;
//   3. commit a 'replicas' record naming the target in the source's place, only if the file still
//      points at this chunk (no await between that check and the commit);
//   4. make the metadata durable (meta.sync());
//   5. delete the source's copy.
//
// So a chunk never has fewer good copies than before at any moment: the new copy is durable before
// the list names it, and the old one goes only once the list without it is durable. A crash between
// any two steps leaves, at worst, an extra copy (an orphan the healer collects). If the file moved on
// while the bytes were copied (overwritten, truncated, deleted), nothing is recorded and the copy
// just made is deleted again.
//
// A shard of a stripe (erasure-coded chunk, chunks/layout.ts) moves the same way, as its own piece:
// read and verified against its own SHA-256, put under its own id, its new node committed with the
// replicas record's `shard`. One more rule: the target must hold no shard of that stripe, so losing
// one node never costs a stripe two shards. The lock is the stripe's (its chunk id), which the healer
// takes to rebuild it.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import { isBadCopy } from '../../chunks/checkCopy.js'
import { asNodeError, notRegistered } from '../../chunks/nodeError.js'
import { fetchVerified } from '../../chunks/readReplicas.js'
import type { DfsError } from '../../errors.js'
import type { ChunkLocks } from '../chunkLocks.js'
import type { NamespaceMetaStore } from '../openCluster.js'
import type { NodeLookup } from '../replicate.js'
import { commitReplicas, commitShardNodes, stillReferenced } from '../stillReferenced.js'
import { nodesHolding, pieceName, pieceOf } from '../../chunks/layout.js'

export interface MoveDeps {
  meta: Pick<NamespaceMetaStore, 'state' | 'commit' | 'sync'>
  nodes: NodeLookup
  locks: ChunkLocks
  /** Awaited with the bytes about to be put on the target: the bandwidth limit waits here. */
  beforePut?: (bytes: number) => Promise<void>
  /** Aborts a wait for the chunk's lock or for bandwidth: the move is abandoned before anything is written. */
  signal?: AbortSignal
  /** Told of listed copies found missing or corrupt on the way (the healer's reportBadCopy). */
  onBadCopy?: (ref: ChunkRef, nodeId: string, error: DfsError) => void
  /** Told of every node call that failed, with the node it failed on (the rebalancer's noteNodeError). */
  onNodeError?: (nodeId: string, error: DfsError) => void
  log: (message: string) => void
}

export interface Move {
  /** Where the namespace references the chunk (a chunk id is referenced from one place only). */
  ino: number
  index: number
  id: string
  /** Erasure-coded chunk `id`: the shard that moves (undefined: a copy of a replicated chunk). */
  shard?: number
  from: string
  to: string
}

export type MoveResult =
  | { moved: true; bytes: number; source: string; sourceDeleted: boolean }
  | { moved: false; why: string }

/** Move `move.id`'s copy from `move.from` to `move.to`. Throws when a node fails; the chunk keeps every copy it had then. */
export async function moveCopy(deps: MoveDeps, move: Move): Promise<MoveResult> {
  const { meta, nodes } = deps
  if (move.from === move.to) return { moved: false, why: 'source and target are the same node' }
  const release = await deps.locks.acquire(move.id, deps.signal)
  if (!release) return { moved: false, why: 'stopping' }
  try {
    const ref = stillReferenced(meta.state, move)
    if (!ref) return { moved: false, why: 'the file no longer points at this chunk' }
    const piece = pieceOf(ref, move.shard)
    if (!piece) return { moved: false, why: 'the chunk is no longer laid out as planned' }
    const listed = [...new Set(piece.nodes)]
    if (!listed.includes(move.from)) return { moved: false, why: 'the source no longer holds a listed copy' }
    if (nodesHolding(ref).includes(move.to)) return { moved: false, why: move.shard === undefined ? 'the target holds a copy already' : 'the target holds a shard of this stripe already' }
    const target = nodes.get(move.to)
    if (!target) throw notRegistered(move.to)

    const bad: { nodeId: string; error: DfsError }[] = []
    const order = [move.from, ...listed.filter((n) => n !== move.from)]
    const fetched = await fetchVerified(piece, order, (id) => nodes.get(id), (nodeId, error) => {
      bad.push({ nodeId, error })
      deps.onNodeError?.(nodeId, error)
    })
    for (const { nodeId, error } of bad) {
      if (nodeId !== move.from && isBadCopy(error)) deps.onBadCopy?.(ref, nodeId, error)
    }

    await deps.beforePut?.(fetched.data.length)
    if (deps.signal?.aborted) return { moved: false, why: 'stopping' }
    try {
      await target.put(piece.id, fetched.data, piece.sha256)
      await target.sync([piece.id])
    } catch (err) {
      await target.delete(piece.id).catch(() => {}) // a put that landed but did not sync
      const error = asNodeError(err, target, move.to, 'put')
      deps.onNodeError?.(move.to, error)
      throw error
    }

    // No await between reading the list and committing it: the namespace cannot change in between.
    const now = stillReferenced(meta.state, move)
    const nowPiece = now && pieceOf(now, move.shard)
    const nodesAfter = nowPiece && [...new Set(nowPiece.nodes.map((n) => (n === move.from ? move.to : n)))]
    const committed = nodesAfter !== undefined && nowPiece?.id === piece.id && (move.shard === undefined
      ? commitReplicas(meta, move, nodesAfter)
      : !nodesHolding(now!).includes(move.to) && commitShardNodes(meta, move, move.shard, nodesAfter))
    if (!committed) {
      // The file moved on while we copied: the copy we made is nobody's (chunk ids are never reused).
      await target.delete(piece.id).catch((err) => deps.log(`removing the copy of discarded ${pieceName(ref, move.shard)} from ${target.address} failed: ${(err as Error).message}`))
      return { moved: false, why: 'the file no longer points at this chunk' }
    }

    await meta.sync() // the list without the source is durable before its copy goes
    let sourceDeleted = true
    const source = nodes.get(move.from)
    try {
      if (!source) throw notRegistered(move.from)
      await source.delete(piece.id)
    } catch (err) {
      sourceDeleted = false
      deps.log(`${pieceName(ref, move.shard)} moved, but removing its old copy from ${source?.address ?? move.from} failed: ${asNodeError(err, source, move.from, 'delete').message}`)
    }
    return { moved: true, bytes: fetched.data.length, source: fetched.nodeId, sourceDeleted }
  } finally {
    release()
  }
}
