// "Is the file still pointing at this chunk?" Everything that works on a chunk in the background (the
// healer, the scrubber, moves for balance and drain) found it at some place (inode, chunk index) a
// while ago; meanwhile the file may have moved on (the chunk overwritten, truncated away, the file
// deleted). Before a 'replicas' record is committed, or a copy deleted or reported, they ask here.
// An erasure-coded chunk is found by the stripe's id; its shards are recorded one by one (`shard`).
// Chunk ids are never reused, so a file that moved on never points at the chunk again.

import type { ChunkRef } from '../chunks/ChunkRef.js'
import { nodesHolding } from '../chunks/layout.js'
import { isDfsError } from '../errors.js'
import type { NamespaceState } from '../meta/namespace/types.js'
import type { NamespaceMetaStore } from './openCluster.js'

/** Where the namespace references a chunk (a chunk id is referenced from one place only). */
export interface ChunkPlace {
  ino: number
  index: number
  id: string
}

/** The chunk's ref if the file still points at it there, else undefined. */
export function stillReferenced(state: NamespaceState, at: ChunkPlace): ChunkRef | undefined {
  const ref = state.inodes.get(at.ino)?.chunks?.[at.index]
  return ref?.id === at.id ? ref : undefined
}

/** Whether the file still points at the chunk and lists a copy of it (or one of its shards) on nodeId. */
export function stillListed(state: NamespaceState, at: ChunkPlace, nodeId: string): boolean {
  const ref = stillReferenced(state, at)
  return ref !== undefined && nodesHolding(ref).includes(nodeId)
}

/**
 * Record the chunk's new node list, only if the file still points at it: true when recorded, false
 * when the file moved on (nothing recorded). The check and the commit are in one turn, so the
 * namespace cannot change between them; the store's own check (EINVAL, ENOENT) is the last word.
 */
export function commitReplicas(meta: Pick<NamespaceMetaStore, 'state' | 'commit'>, at: ChunkPlace, nodes: readonly string[]): boolean {
  if (!stillReferenced(meta.state, at)) return false
  try {
    meta.commit({ op: 'replicas', ino: at.ino, index: at.index, id: at.id, nodes: [...nodes] })
    return true
  } catch (err) {
    if (isDfsError(err, 'EINVAL') || isDfsError(err, 'ENOENT')) return false
    throw err
  }
}

/**
 * Record the node of shard number `shard` of an erasure-coded chunk (after a rebuild or a move),
 * only if the file still points at the stripe: as commitReplicas, with the record's `shard`.
 */
export function commitShardNodes(meta: Pick<NamespaceMetaStore, 'state' | 'commit'>, at: ChunkPlace, shard: number, nodes: readonly string[]): boolean {
  if (!stillReferenced(meta.state, at)?.ec?.shards[shard]) return false
  try {
    meta.commit({ op: 'replicas', ino: at.ino, index: at.index, id: at.id, shard, nodes: [...nodes] })
    return true
  } catch (err) {
    if (isDfsError(err, 'EINVAL') || isDfsError(err, 'ENOENT')) return false
    throw err
  }
}
