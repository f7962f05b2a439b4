// A walk over every chunk every file references, in batches, yielding to the event loop between
// them so the daemon keeps answering FUSE while a scan runs over millions of chunks.
//
// The walk follows the live namespace: a Map iterator sees inodes added after it started and skips
// ones deleted, and an inode replaced by a change (inodes are frozen values) is read again at the
// next batch, so a walk that takes hours (the scrubber's) never works from a stale copy for long.
// Files open but unlinked (nlink 0) are included: their chunks are still read.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import { type NamespaceState, isFile } from '../../meta/namespace/types.js'

export interface FileChunk {
  ino: number
  index: number
  ref: ChunkRef
}

/** Chunks per batch: a few thousand keep each slice of the event loop under a millisecond or so. */
export const WALK_BATCH = 4096

/** Batches of at most `size` chunks; between batches, one turn of the event loop (setImmediate). */
export async function* chunkBatches(state: NamespaceState, size = WALK_BATCH): AsyncGenerator<FileChunk[]> {
  const inodes = state.inodes.keys()
  let ino: number | undefined
  let index = 0
  let first = true
  for (;;) {
    if (!first) await new Promise<void>((resolve) => setImmediate(resolve))
    first = false
    const batch: FileChunk[] = []
    while (batch.length < size) {
      if (ino === undefined) {
        const next = inodes.next()
        if (next.done) break
        ino = next.value
        index = 0
      }
      const inode = state.inodes.get(ino)
      const chunks = inode && isFile(inode) ? inode.chunks ?? [] : []
      while (index < chunks.length && batch.length < size) {
        const ref = chunks[index]
        if (ref) batch.push({ ino, index, ref })
        index++
      }
      if (index >= chunks.length) ino = undefined
    }
    if (batch.length === 0) return
    yield batch
    if (ino === undefined && batch.length < size) return
  }
}
