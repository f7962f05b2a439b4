// An inode as read from JSON (a checkpoint line), made the frozen value the namespace keeps: frozen
// all the way down, its chunk refs' node lists shared (nodeLists.ts). Already frozen parts are kept.

import { sharedNodeList } from './nodeLists.js'
import type { ChunkRef, Inode } from './types.js'

export function freezeInode(inode: Inode): Inode {
  if (inode.chunks && !Object.isFrozen(inode.chunks)) {
    const chunks = inode.chunks as (ChunkRef | null)[]
    for (let i = 0; i < chunks.length; i++) {
      const ref = chunks[i]
      if (ref && !Object.isFrozen(ref)) {
        ;(ref as { nodes: readonly string[] }).nodes = sharedNodeList(ref.nodes)
        Object.freeze(ref)
      }
    }
    Object.freeze(chunks)
  }
  if (inode.xattrs) Object.freeze(inode.xattrs)
  return Object.freeze(inode)
}
