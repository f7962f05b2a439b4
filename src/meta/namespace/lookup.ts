// A path in the namespace to the inode it names, for tools that ask the NameNode about a path
// (`dfs info --namenode`, the dashboard's file view). The mount's own lookup (fs/FileSystem.ts) also
// knows the names it keeps for open files; this one knows only the namespace.

import { dfsError } from '../../errors.js'
import { type NamespaceState, ROOT_INO } from './types.js'

/** The inode number `path` ("/a/b", absolute in the namespace) names; ENOENT or ENOTDIR if none. */
export function inodeAtPath(state: NamespaceState, path: string): number {
  if (!path.startsWith('/')) throw dfsError('BAD_ARGUMENT', `${path}: give a path in the namespace, starting with /`, { path })
  let ino = ROOT_INO
  for (const name of path.split('/').filter(part => part !== '' && part !== '.')) {
    const entries = state.children.get(ino)
    if (!entries) throw dfsError('ENOTDIR', `${path}: a component is not a directory`, { path })
    const child = entries.get(name)
    if (child === undefined) throw dfsError('ENOENT', `${path}: no such file or directory`, { path })
    ino = child
  }
  return ino
}
