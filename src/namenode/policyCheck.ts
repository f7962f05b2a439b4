// The NameNode's check of a storage policy a client sets (the xattr user.dfs.policy, see
// meta/namespace/policy.ts). It runs in NameNode.commit, the one path every transport's commits take
// (the embedded mount's InProcessSession, TCP clients, the NameNode's own `dfs policy set`), so no
// client can store a policy that is malformed, set on something other than a directory, or wider
// than the cluster. Nothing is journaled when it throws. Removing the attribute is always allowed:
// the directory goes back to inheriting.

import { dfsError } from '../errors.js'
import { POLICY_XATTR, checkPolicyFits, formatPolicy, parsePolicy } from '../meta/namespace/policy.js'
import { type NamespaceState, isDir, isFile, isSymlink } from '../meta/namespace/types.js'
import type { ClientRecord } from '../protocol/api.js'

/**
 * `record` as it may be committed: a policy set is checked and its value normalised (what getfattr
 * shows back is formatPolicy's form: " ec:4+2\n" is stored as "ec:4+2"). `nodes`: the DataNodes
 * the cluster has (undefined: not known here, the width is not checked). Other records pass as they are.
 */
export function checkPolicyRecord(record: ClientRecord, state: NamespaceState, nodes: number | undefined): ClientRecord {
  if (record.op !== 'xattr' || record.name !== POLICY_XATTR || record.value === null) return record
  const inode = state.inodes.get(record.ino)
  // A missing inode: apply says ENOENT, as for any xattr.
  if (inode && !isDir(inode)) {
    const what = isFile(inode) ? 'a regular file' : isSymlink(inode) ? 'a symbolic link' : 'a special file'
    throw dfsError('EINVAL',
      `${POLICY_XATTR} is set on directories only (inode ${record.ino} is ${what}): set it on the directory the file is in, and files created there take it`,
      { ino: record.ino, name: record.name })
  }
  const layout = parsePolicy(Buffer.from(record.value, 'base64').toString('utf8'))
  if (nodes !== undefined) checkPolicyFits(layout, nodes)
  return { ...record, value: Buffer.from(formatPolicy(layout)).toString('base64') }
}
