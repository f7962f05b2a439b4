// The namespace's data model: inodes, directory entries and the chunk map of every file.
//
// Inodes are immutable values (frozen): a change replaces the inode in the map. That is what lets a
// checkpoint capture the whole namespace with a shallow copy of one Map's values while the file
// system keeps changing the live one; directory entries it reads through notes of changes (capture.ts).

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import type { EntryNotes } from './capture.js'

export const ROOT_INO = 1

export type { ChunkRef }

export interface Inode {
  readonly ino: number
  /** Full st_mode: file type bits and permission bits. */
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly nlink: number
  readonly size: number
  /** Milliseconds since the epoch. */
  readonly atime: number
  readonly mtime: number
  readonly ctime: number
  readonly rdev: number
  /** Symlink target. */
  readonly target?: string
  /** Regular files: chunk i covers bytes [i * chunkSize, (i + 1) * chunkSize); null is a hole. */
  readonly chunks?: readonly (ChunkRef | null)[]
  /** Extended attributes, values base64. */
  readonly xattrs?: Readonly<Record<string, string>>
}

export interface NamespaceState {
  readonly inodes: Map<number, Inode>
  /** Directory ino -> (name -> child ino). Every directory has an entry, empty or not. */
  readonly children: Map<number, Map<string, number>>
  /** Directory ino -> parent ino, so rename can refuse to move a directory into itself. */
  readonly parents: Map<number, number>
  nextIno: number
  /**
   * Captures of the namespace being read (a checkpoint or a dump being written, capture.ts): apply
   * notes each directory entry it is about to change for them. Undefined when there are none.
   */
  captures?: Set<EntryNotes>
}

export const S_IFMT = 0o170000
export const S_IFREG = 0o100000
export const S_IFDIR = 0o040000
export const S_IFLNK = 0o120000

export const isDir = (inode: Inode) => (inode.mode & S_IFMT) === S_IFDIR
export const isFile = (inode: Inode) => (inode.mode & S_IFMT) === S_IFREG
export const isSymlink = (inode: Inode) => (inode.mode & S_IFMT) === S_IFLNK
