// What a `commit` answers over TCP, and how the client reads it (docs/protocol.md, "commit"). A
// record's result may be an inode (setattr, unlink, mknod) or a rename's inodes, and a file's inode
// holds its chunk list: 46 KB of JSON for 1 GiB, 46 MB for 1 TiB, encoded for every chmod or touch
// of it. The client does not need it from the answer: the commit's record reached its copy first, so
// the answer's inodes go without their chunks and the client takes them from its copy as it reads
// the answer (before any later message changes them). An inode forgotten in the same step (unlink of
// a file nobody holds open) is in no copy: it goes whole.

import type { ApplyResult, RenameResult } from '../meta/namespace/apply.js'
import type { Inode, NamespaceState } from '../meta/namespace/types.js'

const isInode = (value: unknown): value is Inode =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && 'ino' in value && 'mode' in value
const isRename = (value: unknown): value is RenameResult =>
  typeof value === 'object' && value !== null && 'moved' in value

function withoutChunks(inode: Inode): Inode {
  if (inode.chunks === undefined) return inode
  const { chunks: _, ...rest } = inode
  return rest
}

/** The NameNode's side, in the step that made `result`: the result as it goes on the wire. */
export function answerOfCommit(result: ApplyResult, state: NamespaceState): ApplyResult {
  // Only an inode the clients' copies hold as it is (not one forgotten in the same step) goes without chunks.
  const strip = (inode: Inode): Inode => (state.inodes.get(inode.ino) === inode ? withoutChunks(inode) : inode)
  if (isInode(result)) return strip(result)
  if (isRename(result)) {
    return { moved: strip(result.moved), ...(result.replaced ? { replaced: strip(result.replaced) } : {}) }
  }
  return result
}

/**
 * The client's side, as the answer is read: the answer's inodes as the client's copy holds them
 * (chunks and all), which the commit's record already brought up to date; one sent whole as it is.
 */
export function resultOfCommit(answer: ApplyResult, state: NamespaceState): ApplyResult {
  const own = (inode: Inode): Inode => (inode.chunks !== undefined ? inode : state.inodes.get(inode.ino) ?? inode)
  if (isInode(answer)) return own(answer)
  if (isRename(answer)) return { moved: own(answer.moved), ...(answer.replaced ? { replaced: own(answer.replaced) } : {}) }
  return answer
}
