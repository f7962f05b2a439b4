// Storage policies of directories: `replicas:<R>` or `ec:<k>+<m>`, kept as the extended attribute
// user.dfs.policy of the directory it is set on (so it is journaled, checkpointed and replicated to
// clients like any xattr) and inherited by everything below it: the policy in force for a directory
// is its own, else its nearest ancestor's, else the cluster's R (the root's default). A file's new
// chunks are written in the policy of the directory it was opened in; `dfs policy apply` converts
// chunks already written.

import { dfsError } from '../../errors.js'
import { oneLine } from '../../util/oneLine.js'
import { type Layout, MAX_COPIES, MAX_K, MAX_M, nodesNeeded } from '../../chunks/layout.js'
import { type NamespaceState, ROOT_INO, isDir } from './types.js'

export const POLICY_XATTR = 'user.dfs.policy'

const FORMS = 'replicas:<R> (1 to 16) or ec:<k>+<m> (k 1 to 24, m 1 to 6), e.g. ec:4+2'

/** Parse a policy as a user writes it. Throws POLICY_INVALID naming the accepted forms. */
export function parsePolicy(text: string): Layout {
  const trimmed = text.trim()
  const replicas = /^replicas:(\d{1,3})$/.exec(trimmed)
  if (replicas) {
    const copies = Number(replicas[1])
    if (copies >= 1 && copies <= MAX_COPIES) return { kind: 'replicas', copies }
  }
  const ec = /^ec:(\d{1,3})\+(\d{1,3})$/.exec(trimmed)
  if (ec) {
    const k = Number(ec[1])
    const m = Number(ec[2])
    if (k >= 1 && k <= MAX_K && m >= 1 && m <= MAX_M) return { kind: 'ec', k, m }
  }
  throw dfsError('POLICY_INVALID', `"${shown(text)}" is not a storage policy: write ${FORMS}`, { policy: text })
}

export function formatPolicy(layout: Layout): string {
  return layout.kind === 'ec' ? `ec:${layout.k}+${layout.m}` : `replicas:${layout.copies}`
}

/** Throw POLICY_TOO_WIDE when the layout needs more distinct nodes than the cluster has. */
export function checkPolicyFits(layout: Layout, nodes: number): void {
  const needed = nodesNeeded(layout)
  if (needed <= nodes) return
  const what = layout.kind === 'ec' ? `${layout.k}+${layout.m} = ${needed} shards, each on its own DataNode` : `${needed} copies, each on its own DataNode`
  throw dfsError('POLICY_TOO_WIDE', `${formatPolicy(layout)} needs ${what}, but the cluster has ${nodes}; add DataNodes or choose a narrower policy`, {
    policy: formatPolicy(layout), needed, nodes,
  })
}

export interface PolicyInForce {
  layout: Layout
  /** The directory the policy was set on; undefined when it is the cluster's default. */
  from?: number
}

/**
 * The policy in force for directory `dirIno`: its own user.dfs.policy, else its nearest ancestor's,
 * else replicas:<clusterReplicas>. A stored value that no longer parses (it cannot be set so, but a
 * hand-edited dump could hold one) is skipped, as if absent.
 */
export function policyInForce(state: NamespaceState, dirIno: number, clusterReplicas: number): PolicyInForce {
  let ino: number | undefined = dirIno
  for (let depth = 0; ino !== undefined && depth < 4096; depth++) {
    const inode = state.inodes.get(ino)
    const value = inode && isDir(inode) ? inode.xattrs?.[POLICY_XATTR] : undefined
    if (value !== undefined) {
      try {
        return { layout: parsePolicy(Buffer.from(value, 'base64').toString('utf8')), from: ino }
      } catch {
        // skipped: see above
      }
    }
    if (ino === ROOT_INO) break
    ino = state.parents.get(ino)
  }
  return { layout: { kind: 'replicas', copies: clusterReplicas } }
}

/** The value as one short line: control characters escaped (util/oneLine.ts), at most 40 characters. */
function shown(text: string): string {
  const flat = oneLine(text)
  return flat.length > 40 ? `${flat.slice(0, 40)}…` : flat
}
