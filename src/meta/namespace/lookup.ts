// A path in the namespace to the inode it names, for tools that ask the NameNode about a path
// (`dfs info --namenode`, the dashboard's file view). The mount's own lookup (fs/FileSystem.ts) also
// knows the names it keeps for open files; this one knows only the namespace.

import { dfsError } from '../../errors.js'
import { type NamespaceState, ROOT_INO } from './types.js'

/**
 * The inode number `path` ("/a/b", absolute in the namespace) names; ENOENT or ENOTDIR if none.
 * As a path is resolved in a mount: ".." is the parent directory (the root's is the root), and a
 * name followed by "/" or ".." must be a directory. Symlinks are not followed: their targets name
 * paths in some mount, not in the namespace.
 */
export function inodeAtPath(state: NamespaceState, path: string): number {
  if (!path.startsWith('/')) throw dfsError('BAD_ARGUMENT', `${path}: give a path in the namespace, starting with /`, { path })
  const notDir = () => dfsError('ENOTDIR', `${path}: a component is not a directory`, { path })
  let ino = ROOT_INO
  const parents: number[] = []
  for (const name of path.split('/').filter(part => part !== '' && part !== '.')) {
    const entries = state.children.get(ino)
    if (!entries) throw notDir()
    if (name === '..') {
      ino = parents.pop() ?? ROOT_INO
      continue
    }
    const child = entries.get(name)
    if (child === undefined) throw dfsError('ENOENT', `${path}: no such file or directory`, { path })
    parents.push(ino)
    ino = child
  }
  if (/\/\.{0,2}$/.test(path) && !state.children.has(ino)) throw notDir()
  return ino
}
