// The namespace's inodes, read lazily. A mount of a million files would otherwise spend most of its
// start parsing inodes nobody asks for yet: a checkpoint's file inodes are kept as the checkpoint
// line they were read as (`["i",{...}]`, kept whole: a slice of it would cost a string header more),
// and each is parsed (and frozen) the first time anything reads it. To every reader it
// is the Map of frozen inodes it always was; only a checkpoint's capture (rawValues) takes the values
// as they are, so writing the next checkpoint parses nothing either.

import { freezeInode } from './freezeInode.js'
import type { Inode } from './types.js'

export class InodeTable extends Map<number, Inode> {
  /** An inode as its checkpoint line, `["i",{...}]`, parsed on first read. */
  setLine(ino: number, line: string): void {
    super.set(ino, line as unknown as Inode)
  }

  /** Every value as it is now, a checkpoint line or an inode (a checkpoint's capture: parses nothing). */
  rawValues(): (Inode | string)[] {
    return Array.from(super.values() as Iterable<Inode | string>)
  }

  override get(ino: number): Inode | undefined {
    const value = super.get(ino) as Inode | string | undefined
    return typeof value === 'string' ? this.parse(ino, value) : value
  }

  override values(): MapIterator<Inode> {
    return this.each((ino, inode) => inode)
  }

  override entries(): MapIterator<[number, Inode]> {
    return this.each((ino, inode): [number, Inode] => [ino, inode])
  }

  override [Symbol.iterator](): MapIterator<[number, Inode]> {
    return this.entries()
  }

  override forEach(fn: (inode: Inode, ino: number, map: Map<number, Inode>) => void, thisArg?: unknown): void {
    for (const [ino, inode] of this.entries()) fn.call(thisArg, inode, ino, this)
  }

  private each<T>(as: (ino: number, inode: Inode) => T): MapIterator<T> {
    const table = this
    const raw = super.entries() as MapIterator<[number, Inode | string]>
    // Parsing in place (set on a key already there) leaves the iteration where it is.
    return (function* () {
      for (const [ino, value] of raw) yield as(ino, typeof value === 'string' ? table.parse(ino, value) : value)
    })() as unknown as MapIterator<T>
  }

  private parse(ino: number, line: string): Inode {
    const inode = freezeInode((JSON.parse(line) as ['i', Inode])[1])
    super.set(ino, inode)
    return inode
  }
}

/**
 * The inodes no name leads to (a crash left them open and unlinked), without parsing the rest: an
 * inode kept as text has names (the loader parses any that has none, and a change parses first).
 */
export function inodesWithoutNames(inodes: Map<number, Inode>): Inode[] {
  const all = inodes instanceof InodeTable ? inodes.rawValues() : Array.from(inodes.values())
  return all.filter((inode): inode is Inode => typeof inode !== 'string' && inode.nlink === 0)
}
