// The namespace as a StateMachine for the journaled MetaStore: an empty namespace is a root
// directory; a checkpoint is one piece per inode and one per directory entry.

import { dfsError } from '../../errors.js'
import type { StateMachine } from '../StateMachine.js'
import { type ApplyResult, applyRecord } from './apply.js'
import { captureNamespace, capturedPieces } from './capture.js'
import { freezeInode } from './freezeInode.js'
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
  const restorer = () => {
    const state: NamespaceState = { inodes: new Map(), children: new Map(), parents: new Map(), nextIno: 0 }
    return {
      add(piece: unknown): void {
        addPiece(state, piece as Piece)
      },
      done(): NamespaceState {
        if (!state.inodes.has(ROOT_INO) || state.nextIno <= ROOT_INO) {
          throw dfsError('CHECKPOINT_CORRUPT', 'checkpoint has no root directory', {})
        }
        return state
      },
    }
  }
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
      // Taken now in a few milliseconds however large the namespace (capture.ts); read later.
      return capturedPieces(captureNamespace(state), function* (capture) {
        yield { nextIno: capture.nextIno } as Piece
        for (const inode of capture.inodes) yield ['i', inode] as Piece
        for (const [i, dir] of capture.dirs.entries()) {
          for (const [name, ino] of capture.entries(i)) yield ['d', dir, name, ino] as Piece
        }
      })
    },

    restore(pieces: Iterable<unknown>): NamespaceState {
      const r = restorer()
      for (const piece of pieces) r.add(piece)
      return r.done()
    },

    restorer,
  }
}

function addPiece(state: NamespaceState, piece: Piece): void {
  if (!Array.isArray(piece)) {
    state.nextIno = piece.nextIno
  } else if (piece[0] === 'i') {
    const inode = freezeInode(piece[1])
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
