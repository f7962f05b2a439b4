// Capturing the namespace as it is now, for a checkpoint or a dump that is written over many turns
// of the event loop while the file system keeps changing it. What runs now, synchronously, must stay
// short however large the namespace is (every file operation waits meanwhile): the inodes are frozen
// values, copied as references into one array (a few milliseconds for a million). Directory entries
// live in mutable maps and are not copied now: while a capture is being read, apply tells it the
// entry a change is about to replace (noteEntryChange, its value before: the capture's first note of
// a name wins), and the capture reads a directory as its live map corrected by those notes. Copying
// a changed directory's whole map instead would stall the first create after a checkpoint began in
// a flat directory of a million files for as long as the copy takes.

import type { Inode, NamespaceState } from './types.js'

/** A name a capture saw no entry for: created after it was taken. */
const ABSENT = -1

/** One capture being read: the entries changed since it was taken, as they were then. */
export interface EntryNotes {
  /** Directory map -> name -> its inode when the capture was taken (ABSENT: none). Made on a map's first note. */
  readonly before: WeakMap<Map<string, number>, Map<string, number>>
  /** Directories read to the end: their changes need no notes. */
  readonly read: WeakSet<Map<string, number>>
}

export interface Capture {
  nextIno: number
  /** Every inode (in the map's order: ascending numbers, as they are handed out in order). */
  inodes: Inode[]
  /** Every directory there was: read the entries of dirs[i] with entries(i). */
  dirs: number[]
  /**
   * The entries of dirs[i] as they were when the capture was taken (once per directory): it copies its
   * names (one array) when reading starts. An entry changed while its directory is being read, after
   * it was read, comes a second time, the same (a restore sets it twice; a dump drops the repeat):
   * telling which names were read already would cost a set of every name.
   */
  entries(i: number): Iterable<[string, number]>
  /** Done reading: changes are no longer noted for this capture. Safe to call twice. */
  release(): void
}

export function captureNamespace(state: NamespaceState): Capture {
  const inodes = Array.from(state.inodes.values())
  const dirs = Array.from(state.children)
  const notes: EntryNotes = { before: new WeakMap(), read: new WeakSet() }
  const captures = (state.captures ??= new Set())
  captures.add(notes)
  return {
    nextIno: state.nextIno,
    inodes,
    dirs: dirs.map(([dir]) => dir),
    *entries(i: number) {
      const live = dirs[i]?.[1]
      if (!live || notes.read.has(live)) return
      let before = notes.before.get(live)
      if (!before) notes.before.set(live, (before = new Map()))
      try {
        // The names now (one array, however many), each read as it is unless a change has noted it:
        // a noted name comes from the notes, as it was.
        for (const name of Array.from(live.keys())) {
          if (!before.has(name)) yield [name, live.get(name)!]
        }
        for (const [name, ino] of before) if (ino !== ABSENT) yield [name, ino]
      } finally {
        // Read: its later changes are none of this capture's business.
        notes.read.add(live)
        notes.before.delete(live)
      }
    },
    release() {
      captures.delete(notes)
      if (captures.size === 0 && state.captures === captures) state.captures = undefined
    },
  }
}

/** Before apply sets or deletes entry `name` of directory map `entries`: every capture being read keeps its value as it was. */
export function noteEntryChange(state: NamespaceState, entries: Map<string, number>, name: string): void {
  if (!state.captures) return
  for (const notes of state.captures) {
    if (notes.read.has(entries)) continue
    let before = notes.before.get(entries)
    if (!before) notes.before.set(entries, (before = new Map()))
    if (!before.has(name)) before.set(name, entries.get(name) ?? ABSENT)
  }
}

/** A capture whose pieces are never read (their writer failed before its first piece) is let go once they are garbage. */
const dropped = new FinalizationRegistry<Capture>(capture => capture.release())

/**
 * The pieces `read` makes of `capture`: released once read to the end or left, or, never started,
 * once the iterable is garbage, so a capture no one reads cannot keep every later change noted.
 */
export function capturedPieces<T>(capture: Capture, read: (capture: Capture) => Iterable<T>): Iterable<T> {
  const pieces = (function* () {
    try {
      yield* read(capture)
    } finally {
      capture.release()
    }
  })()
  dropped.register(pieces, capture)
  return pieces
}
