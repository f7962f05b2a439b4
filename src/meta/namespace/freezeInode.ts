// An inode as read from JSON (a checkpoint line), made the frozen value the namespace keeps: frozen
// all the way down, its chunk refs' node lists shared (nodeLists.ts), an erasure-coded ref's shards
// too (each shard is a ChunkRef with a node list of its own). Already frozen parts are kept.

import { sharedNodeList } from './nodeLists.js'
import type { ChunkRef, Inode } from './types.js'

export function freezeInode(inode: Inode): Inode {
  if (inode.chunks && !Object.isFrozen(inode.chunks)) {
    const chunks = inode.chunks as (ChunkRef | null)[]
    for (let i = 0; i < chunks.length; i++) {
      const ref = chunks[i]
      if (ref && !Object.isFrozen(ref)) freezeRefInPlace(ref)
    }
    Object.freeze(chunks)
  }
  if (inode.xattrs) Object.freeze(inode.xattrs)
  return Object.freeze(inode)
}

/**
 * A chunk ref as the namespace keeps it, from one it was given (a record's): a frozen copy, node
 * lists shared, shards frozen likewise. The record's own objects are left alone (it is journaled).
 */
export function frozenRef(ref: ChunkRef): ChunkRef {
  const copy: ChunkRef = { ...ref, nodes: sharedNodeList(ref.nodes) }
  if (ref.ec) {
    const shards = ref.ec.shards.map((shard) => Object.freeze({ ...shard, nodes: sharedNodeList(shard.nodes) }))
    ;(copy as { ec: ChunkRef['ec'] }).ec = Object.freeze({ ...ref.ec, shards: Object.freeze(shards) })
  }
  return Object.freeze(copy)
}

/** Freeze a ref read from JSON where it lies (no copy: a checkpoint may hold millions). */
function freezeRefInPlace(ref: ChunkRef): void {
  ;(ref as { nodes: readonly string[] }).nodes = sharedNodeList(ref.nodes)
  if (ref.ec && !Object.isFrozen(ref.ec)) {
    for (const shard of ref.ec.shards) {
      if (Object.isFrozen(shard)) continue
      ;(shard as { nodes: readonly string[] }).nodes = sharedNodeList(shard.nodes)
      Object.freeze(shard)
    }
    Object.freeze(ref.ec.shards)
    Object.freeze(ref.ec)
  }
  Object.freeze(ref)
}
