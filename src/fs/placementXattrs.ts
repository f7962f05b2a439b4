// Placement as extended attributes of a file in the mount, computed on each read, never stored:
//
//   getfattr -n user.dfs.placement <file>   the FilePlacement JSON (as `dfs info --json` prints it)
//   getfattr -n user.dfs.chunks <file>      one line per chunk: index id length sha256 node:state,…
//                                           and after an erasure-coded chunk's line (whose nodes are
//                                           its shards', in shard order) one per shard, the same five
//                                           fields: <index>.<shard> shardId length sha256 node:state
//                                           (node '-' and state lost for a shard no node holds)
//
// Not listed by listxattr, on purpose: `cp -a`, `rsync -X`, `tar --xattrs` and `getfattr -d` copy
// every listed name, and a copy would either fail (they are read-only) or store a stale snapshot of
// where this file's chunks were as an ordinary xattr of the copy. Asked for by name, they answer.
// Setting or removing them is EPERM (docs/placement.md).

import type { FilePlacement } from '../protocol/placement.js'

export const PLACEMENT_XATTR = 'user.dfs.placement'
export const CHUNKS_XATTR = 'user.dfs.chunks'

export const isPlacementXattr = (name: string) => name === PLACEMENT_XATTR || name === CHUNKS_XATTR

/** The value of one of the two names for a placement. */
export function placementXattrValue(name: string, placement: FilePlacement): Buffer {
  if (name === PLACEMENT_XATTR) return Buffer.from(JSON.stringify(placement))
  return Buffer.from(placement.chunks.map(c =>
    `${c.index} ${c.id} ${c.length} ${c.sha256} ${c.copies.map(copy => `${copy.nodeId}:${copy.state}`).join(',') || '-'}\n` +
    (c.shards ?? []).map(shard => `${c.index}.${shard.index} ${shard.id} ${shard.length} ${shard.sha256} ${shard.nodeId ?? '-'}:${shard.state}\n`).join(''),
  ).join(''))
}
