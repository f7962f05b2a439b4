// The namespace as a StateMachine for the journaled MetaStore: an empty namespace is a root
// directory; a checkpoint is one piece per inode and one per directory entry.

import { dfsError } from '../../errors.js'
import type { StateMachine } from '../StateMachine.js'
import { type ApplyResult, applyRecord } from './apply.js'
import type { NamespaceRecord } from './records.js'
import { type Inode, type NamespaceState, ROOT_INO, S_IFDIR, isDir } from './types.js'

export interface RootOwner {
  uid: number
  gid: number
  /** When the cluster was created (ms): the root directory's times until something changes them. */
  createdAt: number
}

type Piece = { nextIno: number } | ['i', Inode] | ['d', number, string, number]

export function namespaceMachine(root: RootOwner): StateMachine<NamespaceState, NamespaceRecord, ApplyResult> {
  return {
    empty(): NamespaceState {
      const t = root.createdAt
      const rootInode: Inode = Object.freeze({
        ino: ROOT_INO, mode: S_IFDIR | 0o755, uid: root.uid, gid: root.gid, nlink: 2, size: 0,
        atime: t, mtime: t, ctime: t, rdev: 0,
      })
      return {
        inodes: new Map([[ROOT_INO, rootInode]]),
        children: new Map([[ROOT_INO, new Map()]]),
        parents: new Map(),
        nextIno: ROOT_INO + 1,
      }
    },

    apply: applyRecord,

    snapshot(state: NamespaceState): Iterable<Piece> {
      // Inodes are frozen values, so copying the references is a faithful capture; directory
      // entries live in mutable maps and are copied out now.
      const nextIno = state.nextIno
      const inodes = [...state.inodes.values()]
      const entries: ['d', number, string, number][] = []
      for (const [dir, names] of state.children) {
        for (const [name, ino] of names) entries.push(['d', dir, name, ino])
      }
      return (function* () {
        yield { nextIno }
        for (const inode of inodes) yield ['i', inode] as Piece
        yield* entries
      })()
    },

    restore(pieces: Iterable<unknown>): NamespaceState {
      const state: NamespaceState = { inodes: new Map(), children: new Map(), parents: new Map(), nextIno: 0 }
      for (const piece of pieces as Iterable<Piece>) {
        if (!Array.isArray(piece)) {
          state.nextIno = piece.nextIno
        } else if (piece[0] === 'i') {
          const inode = deepFreeze(piece[1])
          state.inodes.set(inode.ino, inode)
          if (isDir(inode) && inode.nlink > 0) state.children.set(inode.ino, new Map())
        } else {
          const [, dir, name, ino] = piece
          const names = state.children.get(dir)
          if (!names) throw dfsError('CHECKPOINT_CORRUPT', `checkpoint names entry "${name}" in unknown directory ${dir}`, { dir, name })
          names.set(name, ino)
          if (state.children.has(ino)) state.parents.set(ino, dir)
        }
      }
      if (!state.inodes.has(ROOT_INO) || state.nextIno <= ROOT_INO) {
        throw dfsError('CHECKPOINT_CORRUPT', 'checkpoint has no root directory', {})
      }
      return state
    },
  }
}

function deepFreeze(inode: Inode): Inode {
  if (inode.chunks) {
    for (const ref of inode.chunks) if (ref) Object.freeze(ref.nodes) && Object.freeze(ref)
    Object.freeze(inode.chunks)
  }
  if (inode.xattrs) Object.freeze(inode.xattrs)
  return Object.freeze(inode)
}
