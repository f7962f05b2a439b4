// What `dfs policy get <path>` shows: the storage policy in force at a path, where it comes from (the
// directory it is set on, or the cluster's default), and for a file what its chunks are stored as
// now (they keep the layout they were written in until `dfs policy apply` converts them). Computed
// from the namespace alone, so a mount's daemon (its session's state) and a NameNode answer alike.

import { layoutOf } from '../chunks/layout.js'
import { formatPolicy, policyInForce } from '../meta/namespace/policy.js'
import { type NamespaceState, ROOT_INO, isDir, isFile } from '../meta/namespace/types.js'

export interface PolicyReport {
  /** The path asked about, as asked. */
  path: string
  type: 'dir' | 'file' | 'other'
  /** The policy in force (formatPolicy's form): for a directory its own or inherited one, for a file its directory's. */
  policy: string
  /** The namespace path of the directory the policy is set on; absent: the cluster's default (replicas:<R>). */
  from?: string
  /** A regular file's chunks by the layout each is stored in, most first (holes left out). */
  chunks?: { layout: string; count: number }[]
}

/**
 * The report for inode `ino`, named `path`, whose directory is `dirIno` (for a directory: itself;
 * for anything else: the directory the path names it in).
 */
export function policyReport(state: NamespaceState, ino: number, dirIno: number, path: string, clusterReplicas: number): PolicyReport {
  const inode = state.inodes.get(ino)
  const type = inode && isDir(inode) ? 'dir' : inode && isFile(inode) ? 'file' : 'other'
  const inForce = policyInForce(state, type === 'dir' ? ino : dirIno, clusterReplicas)
  const report: PolicyReport = { path, type, policy: formatPolicy(inForce.layout) }
  if (inForce.from !== undefined) report.from = dirPath(state, inForce.from)
  if (type === 'file') {
    const counts = new Map<string, number>()
    for (const ref of inode?.chunks ?? []) {
      if (!ref) continue
      const layout = formatPolicy(layoutOf(ref, clusterReplicas))
      counts.set(layout, (counts.get(layout) ?? 0) + 1)
    }
    report.chunks = [...counts].map(([layout, count]) => ({ layout, count })).sort((a, b) => b.count - a.count)
  }
  return report
}

/** A directory's path in the namespace (directories have one name each: state.parents). */
export function dirPath(state: NamespaceState, ino: number): string {
  const names: string[] = []
  for (let at = ino, depth = 0; at !== ROOT_INO && depth < 4096; depth++) {
    const parent = state.parents.get(at)
    if (parent === undefined) break
    const name = [...state.children.get(parent) ?? []].find(([, child]) => child === at)?.[0]
    if (name === undefined) break
    names.unshift(name)
    at = parent
  }
  return `/${names.join('/')}`
}
