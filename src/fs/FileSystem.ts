// The file system core: POSIX operations on paths and open handles, over the journaled namespace
// and the chunk store. It knows nothing of FUSE; the adapter in src/fuse turns its DfsErrors into
// errnos. Namespace rules live in meta/namespace/apply.ts; file content lives in OpenFile.

import { dfsError, isDfsError } from '../errors.js'
import { NAME_MAX, XATTR_CREATE, XATTR_REPLACE } from '../meta/namespace/apply.js'
import { nameBytes } from '../meta/namespace/names.js'
import type { NamespaceRecord } from '../meta/namespace/records.js'
import {
  type Inode, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, isDir, isFile, isSymlink,
} from '../meta/namespace/types.js'
import { levelled } from '../log/Log.js'
import type { FilePlacement } from '../protocol/placement.js'
import { DirtyBudget } from './DirtyBudget.js'
import { isPlacementXattr, placementXattrValue } from './placementXattrs.js'
import { type FileContext, OpenFile } from './OpenFile.js'
import type { ChunkIO, NameNodeSession } from './ports.js'
import type { Layout } from '../chunks/layout.js'
import { layoutToWrite } from './storagePolicy.js'
import { POLICY_XATTR } from '../meta/namespace/policy.js'
import { type PolicyReport, policyReport } from '../protocol/policyReport.js'
import { type Stat, type StatFs, toStat } from './stat.js'

/** A file whose written bytes could not be stored when the file system stopped. */
export interface UnstoredFile {
  ino: number
  /** One of its paths in the mount ("/a/b"); undefined if it has no name left. */
  path?: string
  bytes: number
  reason: string
  /** The error code of the reason (NAMENODE_UNAVAILABLE, ENOSPC, …), when it had one. */
  code?: string
}

/** What storing everything buffered left undone (FileSystem.flushAll). */
export interface FlushReport {
  /** Files whose bytes are still only in this process's memory. */
  unstored: UnstoredFile[]
  /** Why the namespace could not be made durable (the journal's or the NameNode's sync), if it could not. */
  unsynced?: Error
}

/** Who is calling: the uid, gid and pid of the process behind a request (from the FUSE context). */
export interface Caller {
  uid: number
  gid: number
  pid: number
}

export interface FileSystemOptions {
  meta: NameNodeSession
  chunks: ChunkIO
  chunkSize: number
  /** Bytes of written-but-unstored chunk buffers allowed across all open files. */
  dirtyLimit: number
  /** Owner of new files when no caller is known (tools, tests). */
  owner: { uid: number; gid: number }
  log: (message: string) => void
}

/**
 * Names that are not in the namespace but still reach an inode: an adapter's own names for files it
 * keeps open after their last name went (libfuse 2's hidden files: src/fuse/hiddenFiles.ts). A path
 * whose last component the namespace lacks is looked up here before it is refused.
 */
export interface DetachedNames {
  /** The inode `name` in folder `parent` reaches, if it is one of these names. */
  lookup(parent: number, name: string): number | undefined
  /** The inode is gone for good: names that reached it go too. */
  forget(ino: number): void
}

interface Handle {
  ino: number
  /** The path it was opened by (see heldAt). */
  path?: string
  file?: OpenFile
  /** Opened with O_NOATIME: reads through it leave atime alone. */
  noatime?: boolean
}

/**
 * Written bytes held in memory longer than this are stored even while the file stays open, so a
 * crash loses at most about this much of what was not fsync'd (Linux's own default is 30 s).
 */
const WRITEBACK_AFTER_MS = 5_000

/** Largest extended attribute value Linux allows (XATTR_SIZE_MAX). */
const XATTR_SIZE_MAX = 64 * 1024
const S_ISGID = 0o2000
const O_NOATIME = 0o1000000

/** relatime: an atime older than this is moved by any access, even one after the last change. */
const DAY_MS = 24 * 60 * 60 * 1000

/** chown passes this for "leave unchanged" ((uid_t) -1). */
const UNCHANGED_ID = 0xffffffff

export class FileSystem {
  private readonly meta: NameNodeSession
  private readonly opts: FileSystemOptions
  private readonly handles = new Map<number, Handle>()
  private readonly openFiles = new Map<number, OpenFile>()
  private readonly fileContext: FileContext
  private detachedNames?: DetachedNames
  private nextHandle = 1
  /** Writes and truncates under way, and whether new ones are refused (unmounting). */
  private readonly contentChanges = new Set<Promise<unknown>>()
  /**
   * The access time being recorded, per inode. A client of a NameNode over TCP sees the new atime
   * only once the record comes back: every read before that would otherwise record it again (a
   * sequential read sent one commit per FUSE read, thousands, each answered with the whole inode).
   */
  private readonly recordingAccess = new Map<number, number>()
  private writesStopped = false
  private readonly writebackTimer: NodeJS.Timeout

  constructor(opts: FileSystemOptions) {
    this.opts = opts
    this.meta = opts.meta
    const budget = new DirtyBudget(opts.dirtyLimit, () => {
      for (const file of this.openFiles.values()) file.sealAll()
    })
    this.fileContext = {
      chunkSize: opts.chunkSize,
      meta: opts.meta,
      chunks: opts.chunks,
      budget,
      log: opts.log,
    }
    opts.meta.onInodeLost?.((ino, err) => {
      // Out of the table at once: a file the NameNode gives that number to is another OpenFile.
      const file = this.openFiles.get(ino)
      if (!file) return
      this.openFiles.delete(ino)
      file.lose(err)
    })
    this.writebackTimer = setInterval(() => {
      const before = Date.now() - WRITEBACK_AFTER_MS
      for (const file of this.openFiles.values()) file.writeback(before)
    }, WRITEBACK_AFTER_MS / 5).unref()
  }

  // ---- paths -------------------------------------------------------------------------------------

  /** Let an adapter's detached names (see DetachedNames) reach inodes through paths. */
  useDetachedNames(names: DetachedNames): void {
    this.detachedNames = names
  }

  /** The inode a path names (its last component may be a detached name). */
  private lookup(path: string): Inode {
    const inode = this.lookupOrMiss(path)
    if (inode === undefined) throw dfsError('ENOENT', `${path}: no such file or directory`, { path })
    return inode
  }

  /**
   * The inode a path names, or undefined where the namespace has no such name (other errors throw).
   * A miss makes no error: the kernel looks up every name before creating it, and an error's stack
   * trace was a measurable part of a create.
   */
  private lookupOrMiss(path: string): Inode | undefined {
    let ino = ROOT_INO
    const parts = components(path)
    for (const [i, name] of parts.entries()) {
      const entries = this.meta.state.children.get(ino)
      if (!entries) throw dfsError('ENOTDIR', `${path}: a component is not a directory`, { path })
      let child = entries.get(name)
      if (child === undefined && i === parts.length - 1) child = this.detachedNames?.lookup(ino, name)
      if (child === undefined) return undefined
      ino = child
    }
    // An entry whose inode is not here (yet) misses too: a refresh may bring it.
    return this.meta.state.inodes.get(ino)
  }

  /**
   * Where a path's last component lives: its folder, its name, and the inode the namespace has under
   * that name (undefined if none; detached names do not count). Undefined for the root.
   */
  locate(path: string): { parent: number; name: string; ino?: number } | undefined {
    if (components(path).length === 0) return undefined
    const { parent, name } = this.parentOf(path)
    return { parent, name, ino: this.meta.state.children.get(parent)?.get(name) }
  }

  /** Whether a regular file has open handles. */
  isOpen(ino: number): boolean {
    return (this.openFiles.get(ino)?.handles ?? 0) > 0
  }

  private inode(ino: number): Inode {
    const inode = this.meta.state.inodes.get(ino)
    if (!inode) throw dfsError('ENOENT', `inode ${ino} is gone`, { ino })
    return inode
  }

  /** The directory a path's last component lives in, and that component. */
  private parentOf(path: string): { parent: number; name: string } {
    const parts = components(path)
    const name = parts.pop()
    if (name === undefined) throw dfsError('EEXIST', 'the root directory always exists', { path })
    const parent = this.lookup('/' + parts.join('/'))
    if (!isDir(parent)) throw dfsError('ENOTDIR', `${path}: a component is not a directory`, { path })
    return { parent: parent.ino, name }
  }

  // ---- attributes --------------------------------------------------------------------------------

  async getattr(path: string): Promise<Stat> {
    return (await this.getattrCommitted(path)).stat
  }

  /**
   * getattr, and whether the answer follows from the committed namespace alone (no open file's
   * writes ahead of the journal are in it). Only such an answer may be remembered by the FUSE
   * binding (src/fuse/bindingAnswers.ts), which forgets it at the next commit.
   */
  getattrCommitted(path: string): Promise<{ stat: Stat; committed: boolean }> {
    // The kernel asks several times per file created or opened: a hit costs one promise, no await.
    let hit: Inode | undefined
    try {
      hit = this.lookupOrMiss(path)
    } catch (err) {
      return Promise.reject(err)
    }
    return hit ? Promise.resolve(this.statCommitted(hit)) : this.lookupAfterRefresh(path).then(inode => this.statCommitted(inode))
  }

  /**
   * An inode's stat, and whether it follows from the committed namespace alone: a closed file's, or
   * an open one's that holds nothing ahead of the namespace (just created, or open only to read).
   * Such an open file answers as a closed one: once a write or truncate makes it hold more, that
   * request has moved the binding's generation (bindingAnswers.ts), and its stat is not remembered
   * again until what it held is committed. The kernel asks for a file just created twice more before
   * its first write; remembered, neither reaches JavaScript, as on the bench's in-memory ceiling.
   */
  private statCommitted(inode: Inode): { stat: Stat; committed: boolean } {
    const file = this.openFiles.get(inode.ino)
    return file === undefined || file.matchesNamespace(inode)
      ? { stat: toStat(inode), committed: true }
      : { stat: toStat(inode, file), committed: false }
  }

  /**
   * A lookup that answers "no such file" only after the namespace is brought up to date: a name
   * another client made a moment ago must not be missed because its record is still on the way
   * (a round trip to the NameNode, only on a miss; free in the embedded mount).
   */
  private async lookupFresh(path: string): Promise<Inode> {
    return this.lookupOrMiss(path) ?? await this.lookupAfterRefresh(path)
  }

  /** lookupFresh after a miss. */
  private async lookupAfterRefresh(path: string): Promise<Inode> {
    await this.meta.refresh()
    try {
      return this.lookup(path)
    } catch (again) {
      return this.heldAt(path) ?? Promise.reject(again)
    }
  }

  /**
   * A file this client holds open under a name another client removed or renamed since. The kernel
   * still asks for it by that name (libfuse 2 names files by path; fstat of the open file comes as a
   * getattr of the path), and it is still this client's open file, so it answers. Only when the name
   * leads nowhere: a new file under the name is found by the lookup first. A name this client
   * removed or renamed itself is not held (nameGone): there its kernel saw the change.
   */
  private heldAt(path: string): Inode | undefined {
    for (const handle of this.handles.values()) {
      if (handle.path === path && handle.file) return this.meta.state.inodes.get(handle.ino)
    }
    return undefined
  }

  async access(path: string): Promise<void> {
    this.lookup(path)
  }

  async chmod(path: string, mode: number): Promise<void> {
    const inode = this.lookup(path)
    await this.setattr(inode.ino, { mode })
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    const inode = this.lookup(path)
    await this.setattr(inode.ino, {
      ...(uid === UNCHANGED_ID || uid === -1 ? {} : { uid }),
      ...(gid === UNCHANGED_ID || gid === -1 ? {} : { gid }),
    })
  }

  /** A time left undefined stays as it is (utimensat's UTIME_OMIT); ctime moves either way. */
  async utimens(path: string, atime: number | undefined, mtime: number | undefined): Promise<void> {
    const inode = this.lookup(path)
    await this.setattr(inode.ino, { ...(atime === undefined ? {} : { atime }), ...(mtime === undefined ? {} : { mtime }) })
  }

  /**
   * Put an inode's change times back as they were before a change an adapter made on its own behalf
   * and then undid (src/fuse/hiddenFiles.ts). Nothing else moves.
   */
  async restoreTimes(path: string, times: { mtime?: number; ctime: number }): Promise<void> {
    const inode = this.lookup(path)
    await this.meta.commit({ op: 'setattr', ino: inode.ino, ...(times.mtime === undefined ? {} : { mtime: times.mtime }), ctime: times.ctime })
  }

  private async setattr(ino: number, change: { mode?: number; uid?: number; gid?: number; atime?: number; mtime?: number }): Promise<void> {
    const ctime = Date.now()
    await this.meta.commit({ op: 'setattr', ino, ...change, ctime })
    const file = this.openFiles.get(ino)
    if (file) {
      file.ctime = ctime
      if (change.mtime !== undefined) file.mtime = change.mtime
    }
  }

  /**
   * POSIX fidelity: an access (read, readdir, following or reading a symlink) moves atime the way
   * Linux's default `relatime` does: only if atime is not later than mtime and ctime, or is a day
   * old. So a read costs a journal record only once per change of the inode, and atime-vs-mtime
   * checks (mail readers, tmp cleaners, `find -amin`) see what a local disk shows. The ctime stays.
   * Best effort: a journal that cannot be written must not fail the read that caused it.
   */
  private accessed(ino: number): void {
    const inode = this.meta.state.inodes.get(ino)
    if (!inode) return
    const file = this.openFiles.get(ino)
    const now = Date.now()
    const changed = Math.max(file?.mtime ?? inode.mtime, file?.ctime ?? inode.ctime)
    if (inode.atime > changed && now - inode.atime < DAY_MS) return
    // One in flight already records an access after the latest change: nothing more to record.
    const recording = this.recordingAccess.get(ino)
    if (recording !== undefined && recording > changed) return
    // An access in the same millisecond as the change it follows is still after it: atime is made
    // later than mtime and ctime (by a millisecond at most), as Linux's finer clock would have it, so
    // the next access does not count as the first after a change again.
    const atime = Math.max(now, changed + 1)
    this.recordingAccess.set(ino, atime)
    this.meta.commit({ op: 'setattr', ino, atime, ctime: inode.ctime }).catch(err => {
      this.opts.log(`updating the access time of inode ${ino} failed: ${(err as Error).message}`)
    }).finally(() => { if (this.recordingAccess.get(ino) === atime) this.recordingAccess.delete(ino) })
  }

  async statfs(): Promise<StatFs> {
    const { total, available } = await this.meta.capacity()
    // 32-bit block counts: pick a fragment size large enough that the counts fit.
    let frsize = 4096
    while (total / frsize > 0xffffffff) frsize *= 2
    const files = this.meta.state.inodes.size
    return {
      bsize: 128 * 1024, frsize,
      blocks: Math.floor(total / frsize), bfree: Math.floor(available / frsize), bavail: Math.floor(available / frsize),
      files: files + 1_000_000, ffree: 1_000_000, favail: 1_000_000,
      namemax: NAME_MAX,
    }
  }

  // ---- directories and names ---------------------------------------------------------------------

  /** `committed`: which entries' stats follow from the committed namespace alone (see getattrCommitted). */
  async readdir(path: string): Promise<{ names: string[]; stats: Stat[]; committed: boolean[] }> {
    const dir = this.lookup(path)
    const entries = this.meta.state.children.get(dir.ino)
    if (!entries) throw dfsError('ENOTDIR', `${path} is not a directory`, { path })
    const parent = this.inode(this.meta.state.parents.get(dir.ino) ?? ROOT_INO)
    this.accessed(dir.ino)
    const names = ['.', '..']
    const stats = [toStat(dir), toStat(parent)]
    const committed = [false, false]
    for (const [name, ino] of entries) {
      const { stat, committed: known } = this.statCommitted(this.inode(ino))
      names.push(name)
      stats.push(stat)
      committed.push(known)
    }
    return { names, stats, committed }
  }

  async mkdir(path: string, mode: number, caller?: Caller): Promise<void> {
    await this.make(path, S_IFDIR | (mode & 0o7777), caller)
  }

  async mknod(path: string, mode: number, rdev: number, caller?: Caller): Promise<void> {
    await this.make(path, (mode & S_IFMT) === 0 ? S_IFREG | mode : mode, caller, { rdev })
  }

  async symlink(target: string, path: string, caller?: Caller): Promise<void> {
    if (nameBytes(target) > 4095) throw dfsError('ENAMETOOLONG', 'symlink target longer than 4095 bytes', { path })
    await this.make(path, S_IFLNK | 0o777, caller, { target })
  }

  async readlink(path: string): Promise<string> {
    const inode = this.lookup(path)
    if (!isSymlink(inode) || inode.target === undefined) throw dfsError('EINVAL', `${path} is not a symbolic link`, { path })
    this.accessed(inode.ino)
    return inode.target
  }

  /**
   * A new inode belongs to its caller, as on Linux: the caller's uid, and the caller's gid unless the
   * directory is setgid (then the directory's group, and a new subdirectory is setgid too).
   */
  private async make(
    path: string, mode: number, caller: Caller | undefined, extra: { rdev?: number; target?: string } = {}, open = false,
  ): Promise<Inode> {
    const { parent, name } = this.parentOf(path)
    const dir = this.inode(parent)
    const uid = caller?.uid ?? this.opts.owner.uid
    let gid = caller?.gid ?? this.opts.owner.gid
    if (dir.mode & S_ISGID) {
      gid = dir.gid
      if ((mode & S_IFMT) === S_IFDIR) mode |= S_ISGID
    }
    return await this.meta.commit({ op: 'mknod', parent, name, mode, uid, gid, ...extra, time: Date.now() }, { open }) as Inode
  }

  async link(existing: string, path: string): Promise<void> {
    const inode = this.lookup(existing)
    const { parent, name } = this.parentOf(path)
    await this.meta.commit({ op: 'link', parent, name, ino: inode.ino, time: Date.now() })
  }

  async unlink(path: string): Promise<void> {
    const { parent, name } = this.parentOf(path)
    const inode = await this.meta.commit({ op: 'unlink', parent, name, dir: false, time: Date.now() }) as Inode
    this.nameGone(path)
    this.forgetIfUnused(inode)
  }

  async rmdir(path: string): Promise<void> {
    const { parent, name } = this.parentOf(path)
    await this.meta.commit({ op: 'unlink', parent, name, dir: true, time: Date.now() })
  }

  async rename(from: string, to: string): Promise<void> {
    const source = this.parentOf(from)
    const target = this.parentOf(to)
    const { replaced } = await this.meta.commit({
      op: 'rename', parent: source.parent, name: source.name, newParent: target.parent, newName: target.name, time: Date.now(),
    }) as { replaced?: Inode }
    this.nameGone(from)
    this.nameGone(to)
    if (replaced) this.forgetIfUnused(replaced)
  }

  /**
   * This client moved or removed a name itself: its kernel knows, so heldAt must not answer for it,
   * nor for a path below it (a folder moved: libfuse asks for the files open inside by their new paths).
   */
  private nameGone(path: string): void {
    const below = path.endsWith('/') ? path : `${path}/`
    for (const handle of this.handles.values()) {
      if (handle.path === path || handle.path?.startsWith(below)) delete handle.path
    }
  }

  // ---- extended attributes -----------------------------------------------------------------------

  /**
   * Tell `listener` whether any security.* extended attribute may exist in the namespace this file
   * system answers from, now and whenever that changes. While none does, the FUSE binding answers
   * the kernel's security.* probes itself (security.capability before every write, security.selinux
   * from ls -l; see src/fuse/bindingAnswers.ts) exactly as getxattr would. The caller must then
   * pass on every change of that namespace, whoever made it (namespaceChanged). It errs towards
   * "may exist": that is said before a set of ours is committed, and "none" only when a scan after a
   * removal finds none and no set of ours is under way (an inode that goes with its attributes
   * leaves the answer at "may exist").
   */
  watchSecurityXattrs(listener: (present: boolean) => void): void {
    this.securityXattrListener = listener
    this.securityXattrs ??= this.scanSecurityXattrs()
    listener(this.securityXattrs)
  }

  /**
   * The namespace took `record`, from this file system or any other client (undefined: it was
   * replaced whole, a NameNode client's new snapshot). Keeps watchSecurityXattrs' answer exact.
   */
  namespaceChanged(record?: NamespaceRecord): void {
    if (!this.securityXattrListener) return
    if (record === undefined) return this.securityXattrsMayExist(this.securityXattrSets > 0 || this.scanSecurityXattrs())
    if (record.op !== 'xattr' || !isSecurityXattr(record.name)) return
    if (record.value !== null) this.securityXattrsMayExist(true)
    // Possibly the last one: a scan (rare: only removals of security.* names pay for it) says.
    else if (this.securityXattrs && this.securityXattrSets === 0) this.securityXattrsMayExist(this.scanSecurityXattrs())
  }

  private securityXattrListener?: (present: boolean) => void
  /** Whether a security.* attribute may exist (undefined: not looked yet). */
  private securityXattrs?: boolean
  /** security.* sets under way: while any is, "none" is not said. */
  private securityXattrSets = 0

  private scanSecurityXattrs(): boolean {
    for (const inode of this.meta.state.inodes.values()) {
      if (inode.xattrs && Object.keys(inode.xattrs).some(isSecurityXattr)) return true
    }
    return false
  }

  private securityXattrsMayExist(present: boolean): void {
    if (this.securityXattrs === present) return
    this.securityXattrs = present
    this.securityXattrListener?.(present)
  }

  async setxattr(path: string, name: string, value: Buffer, flags: number): Promise<void> {
    checkXattrName(name, path)
    this.refuseVirtualXattr(path, name, 'set')
    if (value.length > XATTR_SIZE_MAX) throw dfsError('E2BIG', `extended attribute value over ${XATTR_SIZE_MAX} bytes`, { path, name })
    const inode = this.lookup(path)
    const security = isSecurityXattr(name)
    if (security) {
      // Said before the attribute can be read: from here on the binding asks us.
      this.securityXattrsMayExist(true)
      this.securityXattrSets++
    }
    try {
      await this.meta.commit({
        op: 'xattr', ino: inode.ino, name, value: value.toString('base64'),
        flags: flags & (XATTR_CREATE | XATTR_REPLACE), time: Date.now(),
      })
    } catch (err) {
      throw name === POLICY_XATTR ? this.policyRefused(path, err) : err
    } finally {
      if (security) this.securityXattrSets--
    }
  }

  /**
   * A storage policy the NameNode refused (policyCheck.ts: malformed, not a directory, wider than
   * the cluster): said in the log with the path, since setfattr shows only "Invalid argument".
   */
  private policyRefused(path: string, err: unknown): unknown {
    if (!isDfsError(err) || !['EINVAL', 'POLICY_INVALID', 'POLICY_TOO_WIDE'].includes(err.code)) return err
    const message = `${path}: ${POLICY_XATTR} refused: ${err.message}`
    levelled(this.opts.log).info(message)
    return dfsError(err.code, message, { ...err.context, path }, err)
  }

  /** `dfs policy get`: the storage policy in force at `path`, where it comes from, and a file's chunks' layouts. */
  async policyOf(path: string): Promise<PolicyReport> {
    const inode = await this.lookupFresh(path)
    const dir = isDir(inode) ? inode.ino : this.locate(path)?.parent ?? ROOT_INO
    return policyReport(this.meta.state, inode.ino, dir, path, this.meta.settings.replicas)
  }

  /** `dfs policy set`: as setfattr -n user.dfs.policy -v <policy> <dir>. */
  async setPolicy(path: string, policy: string): Promise<void> {
    await this.meta.refresh()
    await this.setxattr(path, POLICY_XATTR, Buffer.from(policy), 0)
  }

  async getxattr(path: string, name: string): Promise<Buffer> {
    checkXattrName(name, path)
    if (isPlacementXattr(name)) {
      const value = placementXattrValue(name, await this.placement(path))
      if (value.length > XATTR_SIZE_MAX) {
        throw dfsError('E2BIG', `${path}: ${name} is ${value.length} bytes, over the ${XATTR_SIZE_MAX}-byte limit of an extended attribute; use dfs info ${path}`, { path, name })
      }
      return value
    }
    const value = this.lookup(path).xattrs?.[name]
    if (value === undefined) throw dfsError('ENODATA', `no extended attribute "${name}"`, { path, name })
    return Buffer.from(value, 'base64')
  }

  /** POSIX fidelity: as on Linux, trusted.* names are listed only to root (CAP_SYS_ADMIN). */
  async listxattr(path: string, caller?: Caller): Promise<string[]> {
    const names = Object.keys(this.lookup(path).xattrs ?? {})
    return caller && caller.uid !== 0 ? names.filter(name => !name.startsWith('trusted.')) : names
  }

  async removexattr(path: string, name: string): Promise<void> {
    checkXattrName(name, path)
    this.refuseVirtualXattr(path, name, 'remove')
    const inode = this.lookup(path)
    await this.meta.commit({ op: 'xattr', ino: inode.ino, name, value: null, flags: 0, time: Date.now() })
  }

  /** user.dfs.placement and user.dfs.chunks are computed, not stored (placementXattrs.ts). */
  private refuseVirtualXattr(path: string, name: string, what: 'set' | 'remove'): void {
    if (!isPlacementXattr(name)) return
    const message = `${path}: cannot ${what} ${name}: dfs computes it from where the file's chunks are (read-only)`
    levelled(this.opts.log).info(message)
    throw dfsError('EPERM', message, { path, name })
  }

  /**
   * Where a path's chunks are, as the NameNode knows them (`dfs info`, user.dfs.placement): what is
   * committed, so bytes an open file still buffers show once stored (close, fsync).
   */
  async placement(path: string): Promise<FilePlacement> {
    const inode = await this.lookupFresh(path)
    return await this.meta.placement(inode.ino, path)
  }

  // ---- open files --------------------------------------------------------------------------------

  async create(path: string, mode: number, caller?: Caller): Promise<number> {
    // Registered as open at the NameNode in the same step: no other client can make it vanish first.
    const inode = await this.make(path, S_IFREG | (mode & 0o7777), caller, {}, true)
    return this.openHandle(inode, false, path)
  }

  /**
   * `flags` are open(2)'s; only O_NOATIME matters here (the kernel checked the access mode). Open is
   * the close-to-open point: the namespace is brought up to date first, so what another client
   * closed before this open is what this open reads.
   */
  async open(path: string, flags = 0): Promise<number> {
    const inode = await this.lookupOpened(path)
    return this.openHandle(inode, (flags & O_NOATIME) !== 0, path)
  }

  /**
   * The inode `path` names once the namespace is up to date, registered as open if it is a file.
   * `opened` brings the namespace up to date by itself (its answer comes after every record
   * committed before it), so a file the namespace here already names costs that one round trip, not
   * a refresh first; the name is looked up again after it. Only a name that missed, or that leads
   * elsewhere once fresh, takes the refresh first.
   */
  private async lookupOpened(path: string): Promise<Inode> {
    // Any error of a look at a namespace that may be behind (a name not there yet) is the fresh look's to give.
    const look = (): Inode | undefined => {
      try {
        return this.lookup(path)
      } catch {
        return undefined
      }
    }
    const seen = look()
    if (seen && isFile(seen)) {
      const opened = await this.meta.opened(seen.ino).then(() => true, (err: unknown) => {
        if (isDfsError(err, 'ENOENT')) return false // gone at the NameNode: the name leads elsewhere now
        throw err
      })
      if (opened) {
        const now = look()
        if (now?.ino === seen.ino) return now
        this.meta.closed(seen.ino)
      }
    }
    await this.meta.refresh()
    const inode = this.lookup(path)
    if (isFile(inode)) await this.meta.opened(inode.ino)
    return inode
  }

  private openHandle(inode: Inode, noatime = false, path?: string): number {
    const handle: Handle = { ino: inode.ino, ...(noatime ? { noatime } : {}), ...(path === undefined ? {} : { path }) }
    if (isFile(inode)) {
      handle.file = this.openFile(inode.ino, path)
      handle.file.handles++
    }
    // Handle numbers are uint32 and 0 means "unset" to fuse-native.
    let fh = this.nextHandle
    while (this.handles.has(fh)) fh = fh >= 0xfffffffe ? 1 : fh + 1
    this.nextHandle = fh >= 0xfffffffe ? 1 : fh + 1
    this.handles.set(fh, handle)
    return fh
  }

  /**
   * The open file of inode `ino`, opened by `path` (a name in the namespace). A file not open yet
   * takes the storage policy of the directory `path` is in for its new chunks (storagePolicy.ts);
   * one already open keeps the layout of its first open, whatever name it is opened by now.
   */
  private openFile(ino: number, path: string | undefined): OpenFile {
    let file = this.openFiles.get(ino)
    if (!file || file.handles === 0) {
      file ??= new OpenFile(ino, this.fileContext)
      this.openFiles.set(ino, file)
      file.layout = this.layoutAt(path)
    }
    return file
  }

  /** The layout new chunks of a file named `path` are written in (undefined: the cluster's R copies). */
  private layoutAt(path: string | undefined): Layout | undefined {
    let dir: number
    try {
      dir = path === undefined ? ROOT_INO : this.parentOf(path).parent
    } catch {
      dir = ROOT_INO // the name went meanwhile (another client): the root's policy, as for a name-less open
    }
    return layoutToWrite(this.meta.state, dir, this.meta.settings.replicas)
  }

  private fileOf(fh: number): OpenFile {
    const handle = this.handles.get(fh)
    if (!handle) throw dfsError('EBADF', `no open file handle ${fh}`, { fh })
    if (!handle.file) throw dfsError('EISDIR', `handle ${fh} is not a regular file`, { fh })
    return handle.file
  }

  async read(fh: number, out: Buffer, position: number): Promise<number> {
    const file = this.fileOf(fh)
    const n = await file.read(out, position)
    if (!this.handles.get(fh)?.noatime) this.accessed(file.ino)
    return n
  }

  async write(fh: number, data: Buffer, position: number): Promise<number> {
    return this.changingContent(() => this.fileOf(fh).write(data, position))
  }

  async flush(fh: number): Promise<void> {
    const handle = this.handles.get(fh)
    if (!handle) throw dfsError('EBADF', `no open file handle ${fh}`, { fh })
    if (handle.file && !handle.file.settled) await handle.file.flush()
  }

  async fsync(fh: number): Promise<void> {
    const handle = this.handles.get(fh)
    if (!handle) throw dfsError('EBADF', `no open file handle ${fh}`, { fh })
    if (handle.file) await handle.file.fsync()
    else await this.meta.sync()
  }

  /** fsync of a directory, or of everything (sync(1)): the journal made durable. */
  async fsyncdir(): Promise<void> {
    await this.meta.sync()
  }

  async release(fh: number): Promise<void> {
    const handle = this.handles.get(fh)
    if (!handle) throw dfsError('EBADF', `no open file handle ${fh}`, { fh })
    this.handles.delete(fh)
    const file = handle.file
    if (!file) return
    file.handles--
    // Nothing to store, and nothing to release at the NameNode: its number there is not this file.
    if (file.lost) return
    try {
      if (file.handles > 0) return
      try {
        // Usually the kernel's flush (close) did it all already.
        if (this.inode(file.ino).nlink > 0 && !file.settled) await file.flush()
      } finally {
        if (file.handles === 0) this.closeFile(file)
      }
    } finally {
      // After the flush: the NameNode forgets an unnamed inode at its last close anywhere.
      this.meta.closed(file.ino)
    }
  }

  private closeFile(file: OpenFile): void {
    if (this.openFiles.get(file.ino) !== file) return // lost meanwhile (onInodeLost): the number may be another file's now
    const inode = this.meta.state.inodes.get(file.ino)
    if (!inode || inode.nlink === 0) {
      this.openFiles.delete(file.ino)
      file.discardBuffers()
      this.detachedNames?.forget(file.ino)
    } else if (!file.busy) {
      this.openFiles.delete(file.ino)
    }
  }

  async truncate(path: string, size: number): Promise<void> {
    return this.changingContent(() => this.truncatePath(path, size))
  }

  private async truncatePath(path: string, size: number): Promise<void> {
    const inode = this.lookup(path)
    if (isDir(inode)) throw dfsError('EISDIR', `${path} is a directory`, { path })
    if (!isFile(inode)) throw dfsError('EINVAL', `${path} is not a regular file`, { path })
    const file = this.openFile(inode.ino, path)
    try {
      await this.resize(file, size)
      if (file.handles === 0) await file.flush()
    } finally {
      if (file.handles === 0) this.closeFile(file)
    }
  }

  async ftruncate(fh: number, size: number): Promise<void> {
    await this.changingContent(() => this.resize(this.fileOf(fh), size))
  }

  /**
   * Unmounting: from now on writes and truncates are refused, and this resolves once those already
   * accepted have finished, so the flushAll after it stores every byte a caller was told was written.
   * (After a lazy unmount, processes that held files open can still write until the daemon exits.)
   * Background writeback stops too: from now on only flushAll stores. A writeback timer that kept
   * sealing again the buffers whose store failed would keep a flush waiting on new seals, one
   * NameNode timeout after another.
   */
  async stopWrites(): Promise<void> {
    this.writesStopped = true
    clearInterval(this.writebackTimer)
    await Promise.allSettled([...this.contentChanges])
  }

  private changingContent<T>(change: () => Promise<T>): Promise<T> {
    if (this.writesStopped) return Promise.reject(dfsError('EIO', 'the file system is being unmounted; nothing more can be written', {}))
    const running = change()
    this.contentChanges.add(running)
    const forget = () => this.contentChanges.delete(running)
    running.then(forget, forget)
    return running
  }

  private async resize(file: OpenFile, size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw dfsError('EINVAL', `invalid file size ${size}`, { size })
    await file.truncate(size)
  }

  /**
   * Store every buffered chunk of every open file, then make the namespace durable (unmount). Never
   * rejects: it reports the files whose bytes could not be stored (no node took them, or the
   * NameNode did not take their commit), which the caller reports since they die with the process,
   * and a failed sync. Both are reported whatever became of the other: a sync that fails after a
   * flush that failed must not hide which files lost bytes. (How long a stop waits for a NameNode
   * that went away is the session's: NameNodeSession.stopping.)
   */
  async flushAll(): Promise<FlushReport> {
    const files = [...this.openFiles.values()]
    const results = await Promise.allSettled(files.map(file => file.flush()))
    const unstored: UnstoredFile[] = []
    for (const [i, result] of results.entries()) {
      if (result.status === 'fulfilled') continue
      const reason = result.reason as Error
      const bytes = files[i].unstoredBytes()
      const path = this.pathOf(files[i].ino)
      levelled(this.opts.log).warn(`flushing ${path ?? `inode ${files[i].ino}`} failed: ${reason.message}`)
      const code = isDfsError(reason) ? { code: reason.code } : {}
      if (bytes > 0) unstored.push({ ino: files[i].ino, path, bytes, reason: reason.message, ...code })
    }
    try {
      await this.meta.sync()
    } catch (err) {
      return { unstored, unsynced: err as Error }
    }
    return { unstored }
  }

  /** One path of an inode (any of its names), or undefined for one without a name left. */
  pathOf(ino: number): string | undefined {
    if (ino === ROOT_INO) return '/'
    const { children, parents } = this.meta.state
    for (const [dir, names] of children) {
      for (const [name, child] of names) {
        if (child !== ino) continue
        const parts = [name]
        for (let at = dir; at !== ROOT_INO;) {
          const up = parents.get(at)
          const own = up === undefined ? undefined : [...(children.get(up) ?? [])].find(([, c]) => c === at)?.[0]
          if (up === undefined || own === undefined) return undefined
          parts.unshift(own)
          at = up
        }
        return '/' + parts.join('/')
      }
    }
    return undefined
  }

  /** Stop background work; call after the last flushAll. */
  close(): void {
    clearInterval(this.writebackTimer)
  }

  // ---- inode lifetime ----------------------------------------------------------------------------

  /**
   * An inode lost a name. The NameNode forgets it once it has no names and no opens anywhere; here
   * only this client's traces of it go: detached names, and buffers kept after the last close only
   * because they could not be stored (ENOSPC, no nodes).
   */
  private forgetIfUnused(inode: Inode): void {
    if (inode.nlink !== 0) return
    const file = this.openFiles.get(inode.ino)
    if (!file) this.detachedNames?.forget(inode.ino)
    else if (file.handles === 0) this.closeFile(file)
  }
}

/**
 * POSIX fidelity: the kernel hands FUSE every extended attribute name, where a local file system
 * knows only its namespaces. As ext4 does: user., trusted. and security. names are kept; any other
 * (system.* included: no ACLs here) is EOPNOTSUPP, and a namespace with no name after it EINVAL.
 */
const XATTR_NAMESPACES = ['user.', 'trusted.', 'security.']
const isSecurityXattr = (name: string) => name.startsWith('security.')
function checkXattrName(name: string, path: string): void {
  const namespace = XATTR_NAMESPACES.find(prefix => name.startsWith(prefix))
  if (namespace === undefined) throw dfsError('ENOTSUP', `extended attribute "${name}" is in no supported namespace`, { path, name })
  if (name.length === namespace.length) throw dfsError('EINVAL', `extended attribute "${name}" has no name after its namespace`, { path, name })
}

/** Path components, each checked against NAME_MAX (the kernel leaves that to us). */
function components(path: string): string[] {
  const parts = path.split('/').filter(part => part !== '')
  for (const part of parts) {
    if (nameBytes(part) > NAME_MAX) throw dfsError('ENAMETOOLONG', `a name in ${path} is longer than ${NAME_MAX} bytes`, { path })
  }
  return parts
}

