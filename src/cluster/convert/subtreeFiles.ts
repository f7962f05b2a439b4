// A walk over every regular file below a directory, in batches, yielding to the event loop between
// them (as ../healer/chunkWalk.ts does for every chunk), so the NameNode keeps answering while a
// conversion plans over a big tree. Each file comes with the directory it was reached through: the
// policy in force there is the one it is converted to. A file with several names (hard links) comes
// once, through the first of them the walk meets.
//
// The walk follows the live namespace: a directory's entries are read through its Map's iterator,
// which sees names added after the walk started and skips ones removed.

import { type NamespaceState, isFile } from '../../meta/namespace/types.js'
import { WALK_BATCH } from '../healer/chunkWalk.js'

export interface FileInDir {
  ino: number
  /** The directory the walk reached it through. */
  dir: number
}

/** Batches of the files under `dir` (at most `size` directory entries looked at per batch). */
export async function* subtreeFiles(state: NamespaceState, dir: number, size = WALK_BATCH): AsyncGenerator<FileInDir[]> {
  const seen = new Set<number>()
  const stack: { dir: number; entries: Iterator<number> }[] = []
  const enter = (ino: number) => {
    const entries = state.children.get(ino)
    if (entries) stack.push({ dir: ino, entries: entries.values() })
  }
  enter(dir)
  for (;;) {
    const batch: FileInDir[] = []
    for (let steps = 0; steps < size && stack.length > 0; steps++) {
      const top = stack[stack.length - 1]
      const next = top.entries.next()
      if (next.done) {
        stack.pop()
        continue
      }
      const ino = next.value
      if (state.children.has(ino)) {
        enter(ino)
        continue
      }
      const inode = state.inodes.get(ino)
      if (!inode || !isFile(inode) || seen.has(ino)) continue
      seen.add(ino)
      batch.push({ ino, dir: top.dir })
    }
    if (batch.length > 0) yield batch
    if (stack.length === 0) return
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}
