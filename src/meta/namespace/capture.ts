// Capturing the namespace as it is now, for a checkpoint or a dump that is written over many turns
// of the event loop while the file system keeps changing it. What runs now, synchronously, must stay
// short however large the namespace is (every file operation waits meanwhile): the inode values are
// copied as references (frozen inodes, or lines not parsed yet: inodeTable.ts), one array; directory
// entries live in mutable maps, so rather than copy a million entries now the maps are sealed, and
// apply copies a sealed map before its first change (apply.ts changeableEntries). The capture reads
// them as they were until it is released.

import { InodeTable } from './inodeTable.js'
import type { Inode, NamespaceState } from './types.js'

export interface Capture {
  nextIno: number
  /** Inode numbers and values in the same order: a value is an inode or its checkpoint line, `["i",{...}]`. */
  inos: number[]
  inodes: (Inode | string)[]
  /** Every directory and its entries, as they were. */
  dirs: [number, ReadonlyMap<string, number>][]
  /** Done reading the directories: maps change in place again (once no other capture reads them). */
  release(): void
}

export function captureNamespace(state: NamespaceState): Capture {
  const inos = Array.from(state.inodes.keys())
  const inodes = state.inodes instanceof InodeTable ? state.inodes.rawValues() : Array.from(state.inodes.values())
  const dirs = Array.from(state.children)
  const sealed = (state.sealed ??= { maps: new WeakSet(), readers: 0 })
  for (const [, names] of dirs) sealed.maps.add(names)
  sealed.readers++
  let released = false
  return {
    nextIno: state.nextIno, inos, inodes, dirs,
    release() {
      if (released) return
      released = true
      if (--sealed.readers === 0 && state.sealed === sealed) state.sealed = undefined
    },
  }
}

/** An inode as captured, parsed if it is still its checkpoint line. */
export function capturedInode(value: Inode | string): Inode {
  return typeof value === 'string' ? (JSON.parse(value) as ['i', Inode])[1] : value
}
