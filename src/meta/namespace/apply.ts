// Applying a record to the namespace. This is where the POSIX rules of the namespace live (what may
// be renamed over what, when a directory is empty, what nlink becomes), so the same rules hold for a
// live operation and for replay. Each function checks everything first and mutates only after, so a
// refused record leaves the state untouched and is never journaled.

import { dfsError } from '../../errors.js'
import { noteEntryChange } from './capture.js'
import { nameBytes } from './names.js'
import { frozenRef } from './freezeInode.js'
import { sharedNodeList } from './nodeLists.js'
import type { NamespaceRecord } from './records.js'
import { type ChunkRef, type Inode, type NamespaceState, ROOT_INO, S_IFDIR, S_IFMT, isDir, isFile } from './types.js'

export const NAME_MAX = 255

export type ApplyResult = Inode | ChunkRef | null | ChunkRef[] | RenameResult | undefined
export interface RenameResult {
  moved: Inode
  /** The inode that lost its name to the rename, with its new nlink (0 means nothing else names it). */
  replaced?: Inode
}

export function applyRecord(state: NamespaceState, rec: NamespaceRecord): ApplyResult {
  switch (rec.op) {
    case 'mknod': return mknod(state, rec)
    case 'link': return link(state, rec)
    case 'unlink': return unlink(state, rec)
    case 'rename': return rename(state, rec)
    case 'forget': return forget(state, rec)
    case 'setattr': return setattr(state, rec)
    case 'chunk': return setChunk(state, rec)
    case 'truncate': return truncate(state, rec)
    case 'replicas': return setReplicas(state, rec)
    case 'xattr': return setXattr(state, rec)
    default:
      throw dfsError('EINVAL', `unknown namespace record "${(rec as { op: string }).op}"`, { record: rec })
  }
}

// ---- lookups -------------------------------------------------------------------------------------

export function inodeOf(state: NamespaceState, ino: number): Inode {
  const inode = state.inodes.get(ino)
  if (!inode) throw dfsError('ENOENT', `no inode ${ino}`, { ino })
  return inode
}

export function entriesOf(state: NamespaceState, dirIno: number): Map<string, number> {
  const entries = state.children.get(dirIno)
  if (!entries) {
    inodeOf(state, dirIno)
    throw dfsError('ENOTDIR', `inode ${dirIno} is not a directory`, { ino: dirIno })
  }
  return entries
}

/**
 * A directory's entries to change entry `name` of: a capture being read (a checkpoint being written)
 * first notes the entry as it was (capture.ts).
 */
function changeableEntries(state: NamespaceState, dirIno: number, name: string): Map<string, number> {
  const entries = entriesOf(state, dirIno)
  noteEntryChange(state, entries, name)
  return entries
}

function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw dfsError('EINVAL', `invalid file name "${name}"`, { name })
  }
  if (nameBytes(name) > NAME_MAX) {
    throw dfsError('ENAMETOOLONG', `file name longer than ${NAME_MAX} bytes`, { name })
  }
}

function put(state: NamespaceState, inode: Inode): Inode {
  const frozen = Object.freeze(inode)
  state.inodes.set(inode.ino, frozen)
  return frozen
}

/** Parent directory gains or loses an entry: its mtime and ctime move, and nlink for subdirectories. */
function touchDir(state: NamespaceState, dirIno: number, time: number, nlinkDelta = 0): void {
  const dir = inodeOf(state, dirIno)
  put(state, { ...dir, mtime: time, ctime: time, nlink: dir.nlink + nlinkDelta })
}

// ---- namespace changes ---------------------------------------------------------------------------

function mknod(state: NamespaceState, rec: Extract<NamespaceRecord, { op: 'mknod' }>): Inode {
  const entries = entriesOf(state, rec.parent)
  checkName(rec.name)
  if (entries.has(rec.name)) throw dfsError('EEXIST', `"${rec.name}" already exists`, { parent: rec.parent, name: rec.name })

  const ino = state.nextIno++
  const dir = (rec.mode & S_IFMT) === S_IFDIR
  const inode = put(state, {
    ino, mode: rec.mode, uid: rec.uid, gid: rec.gid, nlink: dir ? 2 : 1,
    size: rec.target !== undefined ? nameBytes(rec.target) : 0,
    atime: rec.time, mtime: rec.time, ctime: rec.time, rdev: rec.rdev ?? 0,
    ...(rec.target !== undefined ? { target: rec.target } : {}),
    ...((rec.mode & S_IFMT) === 0o100000 ? { chunks: Object.freeze([]) } : {}),
  })
  changeableEntries(state, rec.parent, rec.name).set(rec.name, ino)
  if (dir) {
    state.children.set(ino, new Map())
    state.parents.set(ino, rec.parent)
  }
  touchDir(state, rec.parent, rec.time, dir ? 1 : 0)
  return inode
}

function link(state: NamespaceState, rec: Extract<NamespaceRecord, { op: 'link' }>): Inode {
  const entries = entriesOf(state, rec.parent)
  const target = inodeOf(state, rec.ino)
  checkName(rec.name)
  if (isDir(target)) throw dfsError('EPERM', 'cannot hard-link a directory', { ino: rec.ino })
  if (entries.has(rec.name)) throw dfsError('EEXIST', `"${rec.name}" already exists`, { parent: rec.parent, name: rec.name })

  changeableEntries(state, rec.parent, rec.name).set(rec.name, rec.ino)
  touchDir(state, rec.parent, rec.time)
  return put(state, { ...target, nlink: target.nlink + 1, ctime: rec.time })
}

function unlink(state: NamespaceState, rec: Extract<NamespaceRecord, { op: 'unlink' }>): Inode {
  const entries = entriesOf(state, rec.parent)
  const ino = entries.get(rec.name)
  if (ino === undefined) throw dfsError('ENOENT', `no "${rec.name}"`, { parent: rec.parent, name: rec.name })
  const inode = inodeOf(state, ino)
  if (rec.dir) {
    if (!isDir(inode)) throw dfsError('ENOTDIR', `"${rec.name}" is not a directory`, { name: rec.name })
    if (entriesOf(state, ino).size > 0) throw dfsError('ENOTEMPTY', `directory "${rec.name}" is not empty`, { name: rec.name })
  } else if (isDir(inode)) {
    throw dfsError('EISDIR', `"${rec.name}" is a directory`, { name: rec.name })
  }

  changeableEntries(state, rec.parent, rec.name).delete(rec.name)
  touchDir(state, rec.parent, rec.time, rec.dir ? -1 : 0)
  return dropName(state, inode, rec.time)
}

/** An inode loses one name. A directory loses its `.` as well, so it drops to 0. */
function dropName(state: NamespaceState, inode: Inode, time: number): Inode {
  if (isDir(inode)) {
    state.children.delete(inode.ino)
    state.parents.delete(inode.ino)
    return put(state, { ...inode, nlink: 0, ctime: time })
  }
  return put(state, { ...inode, nlink: inode.nlink - 1, ctime: time })
}

function rename(state: NamespaceState, rec: Extract<NamespaceRecord, { op: 'rename' }>): RenameResult {
  const from = entriesOf(state, rec.parent)
  const to = entriesOf(state, rec.newParent)
  checkName(rec.newName)
  const ino = from.get(rec.name)
  if (ino === undefined) throw dfsError('ENOENT', `no "${rec.name}"`, { parent: rec.parent, name: rec.name })
  const moved = inodeOf(state, ino)
  const replacedIno = to.get(rec.newName)
  // Renaming a name onto another name of the same inode does nothing, as on Linux.
  if (replacedIno === ino) return { moved }

  if (isDir(moved) && isInSubtree(state, rec.newParent, ino)) {
    throw dfsError('EINVAL', `cannot move directory "${rec.name}" into itself`, { name: rec.name })
  }
  const replaced = replacedIno === undefined ? undefined : inodeOf(state, replacedIno)
  if (replaced) {
    if (isDir(moved) && !isDir(replaced)) throw dfsError('ENOTDIR', `"${rec.newName}" is not a directory`, { name: rec.newName })
    if (!isDir(moved) && isDir(replaced)) throw dfsError('EISDIR', `"${rec.newName}" is a directory`, { name: rec.newName })
    if (isDir(replaced) && entriesOf(state, replaced.ino).size > 0) {
      throw dfsError('ENOTEMPTY', `directory "${rec.newName}" is not empty`, { name: rec.newName })
    }
  }

  changeableEntries(state, rec.parent, rec.name).delete(rec.name)
  changeableEntries(state, rec.newParent, rec.newName).set(rec.newName, ino)
  const dirMoved = isDir(moved) ? 1 : 0
  const dirReplaced = replaced && isDir(replaced) ? 1 : 0
  touchDir(state, rec.parent, rec.time, -dirMoved)
  // touchDir reads the parent again, so a same-directory rename nets its deltas correctly.
  touchDir(state, rec.newParent, rec.time, dirMoved - dirReplaced)
  if (dirMoved) state.parents.set(ino, rec.newParent)
  const result: RenameResult = { moved: put(state, { ...moved, ctime: rec.time }) }
  if (replaced) result.replaced = dropName(state, replaced, rec.time)
  return result
}

function isInSubtree(state: NamespaceState, ino: number, ancestor: number): boolean {
  for (let at: number | undefined = ino; at !== undefined; at = state.parents.get(at)) {
    if (at === ancestor) return true
    if (at === ROOT_INO) return false
  }
  return false
}

function forget(state: NamespaceState, rec: Extract<NamespaceRecord, { op: 'forget' }>): ChunkRef[] {
  const inode = inodeOf(state, rec.ino)
  if (inode.nlink > 0) throw dfsError('EINVAL', `inode ${rec.ino} still has ${inode.nlink} names`, { ino: rec.ino })
  state.inodes.delete(rec.ino)
  return liveRefs(inode.chunks ?? [])
}

function liveRefs(refs: readonly (ChunkRef | null)[]): ChunkRef[] {
  return refs.filter((r): r is ChunkRef => r !== null)
}

// ---- attribute and content changes ---------------------------------------------------------------

function setattr(state: NamespaceState, rec: Extract<NamespaceRecord, { op: 'setattr' }>): Inode {
  const inode = inodeOf(state, rec.ino)
  // A record of atime alone (an access, `touch -a`) never moves ctime back: an access carries the
  // ctime its client saw when it sent it, and another client's change may have landed first.
  const atimeOnly = rec.atime !== undefined && rec.mode === undefined && rec.uid === undefined && rec.gid === undefined && rec.mtime === undefined
  return put(state, {
    ...inode,
    mode: rec.mode === undefined ? inode.mode : (inode.mode & S_IFMT) | (rec.mode & ~S_IFMT),
    uid: rec.uid ?? inode.uid,
    gid: rec.gid ?? inode.gid,
    atime: rec.atime ?? inode.atime,
    mtime: rec.mtime ?? inode.mtime,
    ctime: atimeOnly ? Math.max(inode.ctime, rec.ctime) : rec.ctime,
  })
}

function fileOf(state: NamespaceState, ino: number): Inode & { chunks: readonly (ChunkRef | null)[] } {
  const inode = inodeOf(state, ino)
  if (!isFile(inode) || !inode.chunks) {
    throw dfsError(isDir(inode) ? 'EISDIR' : 'EINVAL', `inode ${ino} is not a regular file`, { ino })
  }
  return inode as Inode & { chunks: readonly (ChunkRef | null)[] }
}

/** The size a record leaves: exact, or (a writer's record, `grow`) never below the current one. */
function sizeAfter(inode: Inode, rec: { size: number; grow?: boolean }): number {
  return rec.grow ? Math.max(inode.size, rec.size) : rec.size
}

/** Compare-and-swap: chunk `index` must still be `base` (null: a hole), when the record names one. */
function checkBase(inode: Inode & { chunks: readonly (ChunkRef | null)[] }, index: number, base: string | null | undefined): void {
  const current = inode.chunks[index]?.id ?? null
  if (base === undefined || current === base) return
  throw dfsError('CHUNK_CONFLICT', `chunk ${index} of inode ${inode.ino} is no longer ${base ?? 'a hole'}`, {
    ino: inode.ino, index, base, current,
  })
}

/**
 * Returns the chunk the new one replaced (now garbage), or null. Compare-and-swap: a record that
 * names the version it started from (`base`) is refused when another client replaced it meanwhile.
 */
function setChunk(state: NamespaceState, rec: Extract<NamespaceRecord, { op: 'chunk' }>): ChunkRef | null {
  const inode = fileOf(state, rec.ino)
  const old = inode.chunks[rec.index] ?? null
  checkBase(inode, rec.index, rec.base)
  const chunks = inode.chunks.slice()
  while (chunks.length <= rec.index) chunks.push(null)
  chunks[rec.index] = rec.ref === null ? null : frozenRef(rec.ref)
  put(state, { ...inode, chunks: Object.freeze(chunks), size: sizeAfter(inode, rec), mtime: rec.mtime, ctime: rec.ctime })
  return old
}

/** Returns the chunks cut off (now garbage): none for a writer's size record (`grow`). */
function truncate(state: NamespaceState, rec: Extract<NamespaceRecord, { op: 'truncate' }>): ChunkRef[] {
  const inode = fileOf(state, rec.ino)
  if (!rec.grow && rec.keep > 0) checkBase(inode, rec.keep - 1, rec.base)
  const keep = rec.grow ? inode.chunks.length : rec.keep
  const dropped = liveRefs(inode.chunks.slice(keep))
  put(state, {
    ...inode, size: sizeAfter(inode, rec), mtime: rec.mtime, ctime: rec.ctime,
    chunks: Object.freeze(inode.chunks.slice(0, keep)),
  })
  return dropped
}

function setReplicas(state: NamespaceState, rec: Extract<NamespaceRecord, { op: 'replicas' }>): undefined {
  const inode = fileOf(state, rec.ino)
  const ref = inode.chunks[rec.index]
  if (!ref || ref.id !== rec.id) {
    throw dfsError('EINVAL', `chunk ${rec.index} of inode ${rec.ino} is no longer ${rec.id}`, { ino: rec.ino, index: rec.index })
  }
  const chunks = inode.chunks.slice()
  chunks[rec.index] = rec.shard === undefined ? withNodes(ref, rec) : withShardNodes(ref, rec.shard, rec)
  put(state, { ...inode, chunks: Object.freeze(chunks) })
  return undefined
}

type ReplicasRecord = Extract<NamespaceRecord, { op: 'replicas' }>

/** A replicated chunk's new copy list. An erasure-coded chunk has no copies: its shards have nodes. */
function withNodes(ref: ChunkRef, rec: ReplicasRecord): ChunkRef {
  if (ref.ec) throw dfsError('EINVAL', `chunk ${rec.index} of inode ${rec.ino} is erasure-coded: a replicas record for it names a shard`, { ino: rec.ino, index: rec.index })
  return Object.freeze({ ...ref, nodes: sharedNodeList(rec.nodes) })
}

/** Shard #shard of an erasure-coded chunk on new nodes (after a rebuild or a move); the other shards are kept as they are. */
function withShardNodes(ref: ChunkRef, shard: number, rec: ReplicasRecord): ChunkRef {
  const shards = ref.ec?.shards
  if (!ref.ec || !shards || !Number.isSafeInteger(shard) || shard < 0 || shard >= shards.length) {
    throw dfsError('EINVAL', `chunk ${rec.index} of inode ${rec.ino} has no shard ${shard}`, { ino: rec.ino, index: rec.index, shard })
  }
  const next = shards.slice()
  next[shard] = Object.freeze({ ...shards[shard]!, nodes: sharedNodeList(rec.nodes) })
  return Object.freeze({ ...ref, ec: Object.freeze({ ...ref.ec, shards: Object.freeze(next) }) })
}

export const XATTR_CREATE = 1
export const XATTR_REPLACE = 2

function setXattr(state: NamespaceState, rec: Extract<NamespaceRecord, { op: 'xattr' }>): Inode {
  const inode = inodeOf(state, rec.ino)
  const xattrs = { ...(inode.xattrs ?? {}) }
  const exists = Object.hasOwn(xattrs, rec.name)
  if (rec.value === null) {
    if (!exists) throw dfsError('ENODATA', `no extended attribute "${rec.name}"`, { ino: rec.ino, name: rec.name })
    delete xattrs[rec.name]
  } else {
    if (exists && rec.flags & XATTR_CREATE) throw dfsError('EEXIST', `extended attribute "${rec.name}" exists`, { name: rec.name })
    if (!exists && rec.flags & XATTR_REPLACE) throw dfsError('ENODATA', `no extended attribute "${rec.name}"`, { name: rec.name })
    xattrs[rec.name] = rec.value
  }
  return put(state, { ...inode, xattrs: Object.freeze(xattrs), ctime: rec.time })
}
