// Capturing the namespace as it is now, for a checkpoint or a dump that is written over many turns
// of the event loop while the file system keeps changing it. What runs now, synchronously, must stay
// short however large the namespace is (every file operation waits meanwhile): the inodes are frozen
// values, copied as references into one array (a few milliseconds for a million); directory
// entries live in mutable maps, so rather than copy a million entries now the maps are sealed, and
// apply copies a sealed map before its first change (apply.ts changeableEntries). The capture reads
// them as they were until it is released.

import type { Inode, NamespaceState } from './types.js'

export interface Capture {
  nextIno: number
  /** Every inode (in the map's order: ascending numbers, as they are handed out in order). */
  inodes: Inode[]
  /** Every directory and its entries, as they were. */
  dirs: [number, ReadonlyMap<string, number>][]
  /** Done reading the directories: maps change in place again (once no other capture reads them). */
  release(): void
}

export function captureNamespace(state: NamespaceState): Capture {
  const inodes = Array.from(state.inodes.values())
  const dirs = Array.from(state.children)
  const sealed = (state.sealed ??= { maps: new WeakSet(), readers: 0 })
  for (const [, names] of dirs) sealed.maps.add(names)
  sealed.readers++
  let released = false
  return {
    nextIno: state.nextIno, inodes, dirs,
    release() {
      if (released) return
      released = true
      if (--sealed.readers === 0 && state.sealed === sealed) state.sealed = undefined
    },
  }
}
