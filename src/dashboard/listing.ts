// /api/ls: one directory of the namespace, a page at a time (a directory may hold 100k names). The
// path is looked up in the namespace only, name by name from the root: nothing on a disk is touched.

import { dfsError } from '../errors.js'
import { inodeAtPath } from '../meta/namespace/lookup.js'
import { type NamespaceState, isDir, isFile, isSymlink } from '../meta/namespace/types.js'

export interface ListEntry {
  name: string
  ino: number
  type: 'file' | 'dir' | 'symlink' | 'other'
  size: number
  /** Chunks written (holes left out). */
  chunks: number
}

export interface Listing {
  path: string
  entries: ListEntry[]
  /** More entries follow: ask again with after=<next>. */
  next?: string
}

export const LIST_LIMIT_DEFAULT = 500
export const LIST_LIMIT_MAX = 5000

/** Names in code-unit order, `limit` of them after the name `after`. */
export function listDirectory(state: NamespaceState, path: string, opts: { limit?: number; after?: string } = {}): Listing {
  const dir = state.inodes.get(inodeAtPath(state, normalised(path)))!
  if (!isDir(dir)) throw dfsError('ENOTDIR', `${path} is not a directory`, { path })
  const limit = Math.min(Math.max(1, opts.limit ?? LIST_LIMIT_DEFAULT), LIST_LIMIT_MAX)
  const names = [...(state.children.get(dir.ino)?.keys() ?? [])].sort(byCodeUnits)
  let start = 0
  if (opts.after !== undefined) {
    const after = opts.after
    start = names.findIndex(name => byCodeUnits(name, after) > 0)
    if (start < 0) start = names.length
  }
  const page = names.slice(start, start + limit)
  const entries = page.map(name => entry(state, name, state.children.get(dir.ino)!.get(name)!))
  const more = start + limit < names.length
  return { path: normalised(path), entries, ...(more ? { next: page[page.length - 1] } : {}) }
}

function entry(state: NamespaceState, name: string, ino: number): ListEntry {
  const inode = state.inodes.get(ino)
  if (!inode) return { name, ino, type: 'other', size: 0, chunks: 0 }
  const type = isFile(inode) ? 'file' : isDir(inode) ? 'dir' : isSymlink(inode) ? 'symlink' : 'other'
  return { name, ino, type, size: inode.size, chunks: inode.chunks?.filter(c => c !== null).length ?? 0 }
}

export const normalised = (path: string) => '/' + path.split('/').filter(part => part !== '').join('/')

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
