// Every change to the namespace is one of these journal records. Each is small, names inodes by
// number, and carries its own timestamps so replay reaches exactly the state the live daemon had.

import type { ChunkRef } from './types.js'

export type NamespaceRecord =
  /** Create a file, directory, symlink or special file under parent. The ino is allocated by apply. */
  | { op: 'mknod'; parent: number; name: string; mode: number; uid: number; gid: number; rdev?: number; target?: string; time: number }
  /** A new name for an existing non-directory inode (hard link). */
  | { op: 'link'; parent: number; name: string; ino: number; time: number }
  /** Remove a name; `dir` says whether the caller meant rmdir (the rules differ). */
  | { op: 'unlink'; parent: number; name: string; dir: boolean; time: number }
  | { op: 'rename'; parent: number; name: string; newParent: number; newName: string; time: number }
  /** Drop an inode that has no names left and is no longer open. */
  | { op: 'forget'; ino: number }
  | { op: 'setattr'; ino: number; mode?: number; uid?: number; gid?: number; atime?: number; mtime?: number; ctime: number }
  /**
   * Point chunk `index` of a file at new immutable content (copy-on-write) and record the file's size.
   * `base`: the chunk id the writer's bytes started from (null: a hole or a new chunk); the record is
   * refused (CHUNK_CONFLICT) when the chunk is no longer that one, and the writer rebases. Records
   * from before several clients could write carry no `base` and are never refused.
   */
  | { op: 'chunk'; ino: number; index: number; ref: ChunkRef | null; base?: string | null; size: number; grow?: boolean; mtime: number; ctime: number }
  /**
   * Set a file's size; chunks from `keep` on are dropped. With `grow` it is not an explicit truncate
   * but a writer recording its size and times: the size only grows, and no chunk is dropped. `base`:
   * the chunk the new end falls in (chunk keep - 1), kept, as the truncating client saw it; refused
   * (CHUNK_CONFLICT) when another client replaced it meanwhile, since it may reach past the new end.
   */
  | { op: 'truncate'; ino: number; size: number; keep: number; grow?: boolean; base?: string | null; mtime: number; ctime: number }
  /**
   * Record where copies of a chunk live after repair or re-replication. With `shard`: where shard
   * number `shard` of erasure-coded chunk `id` lives (after a rebuild or a move).
   */
  | { op: 'replicas'; ino: number; index: number; id: string; nodes: string[]; shard?: number }
  /** Set (value base64) or remove (null) an extended attribute. flags: 1 = create only, 2 = replace only. */
  | { op: 'xattr'; ino: number; name: string; value: string | null; flags: number; time: number }

export type NamespaceOp = NamespaceRecord['op']

/*
 * `grow` (chunk and truncate records): the size the record carries is a lower bound, not the size.
 * Several clients write one file; a commit must not shrink what another client grew meanwhile, so a
 * writer's records only grow the file (size = max(current, the record's)). Only an explicit truncate
 * sets an exact size (last one wins). Records without the flag (every record journaled before it
 * existed) keep their exact-size meaning, so old journals replay as they always did.
 */

/** The inode numbers a record names (other than one it makes). */
export function namedInodes(record: NamespaceRecord): number[] {
  switch (record.op) {
    case 'mknod': case 'unlink': return [record.parent]
    case 'link': return [record.parent, record.ino]
    case 'rename': return [record.parent, record.newParent]
    case 'setattr': case 'xattr': case 'chunk': case 'truncate': case 'forget': case 'replicas': return [record.ino]
  }
}
