// What a `commit` answers over TCP, and how the client reads it (docs/protocol.md, "commit"). A
// record's result may be an inode (setattr, unlink, mknod) or a rename's inodes, and a file's inode
// holds its chunk list: 46 KB of JSON for 1 GiB, 46 MB for 1 TiB, encoded for every chmod or touch
// of it. The client does not need it from the answer: the commit's record reached its copy first, so
// the answer's inodes go without their chunks and the client takes them from its copy.

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

/** The NameNode's side: the result as it goes on the wire. */
export function answerOfCommit(result: ApplyResult): ApplyResult {
  if (isInode(result)) return withoutChunks(result)
  if (isRename(result)) {
    return { moved: withoutChunks(result.moved), ...(result.replaced ? { replaced: withoutChunks(result.replaced) } : {}) }
  }
  return result
}

/**
 * The client's side: the answer's inodes as the client's copy holds them (chunks and all), which the
 * commit's record already brought up to date; one the copy no longer holds (forgotten) as answered.
 */
export function resultOfCommit(answer: ApplyResult, state: NamespaceState): ApplyResult {
  const own = (inode: Inode): Inode => state.inodes.get(inode.ino) ?? inode
  if (isInode(answer)) return own(answer)
  if (isRename(answer)) return { moved: own(answer.moved), ...(answer.replaced ? { replaced: own(answer.replaced) } : {}) }
  return answer
}
