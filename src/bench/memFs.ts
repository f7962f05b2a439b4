// The bench's in-memory FUSE file system: the ceiling of any file system on this binding here.
//
//   node dist/bench/memFs.js <mountpoint>     prints "memfs: mounted <mountpoint> (pid N)" when ready
//
// It mounts through fuse-native exactly as dfs does (the same DfsFuse class and fuseOptions() from
// src/fuse/mount.ts: big_writes, use_ino, attr_timeout=0, auto_unmount, allow_other as root, ...) and
// answers every call from memory on its one JavaScript thread, at once: no hashing, no chunking, no
// disk, no journal. Whatever dfs loses beside it is dfs's own cost; whatever it loses beside native is
// the cost of FUSE and this binding (the kernel round trips, libfuse2's threads, the N-API calls).
//
// Only what the bench does is supported: files (create, write at any offset, read, truncate, unlink,
// rename), folders (mkdir, readdir, rmdir), getattr, flush/fsync (no-ops), release (a deleted file's
// memory goes back once nothing reaches it: letGo), and enough of the
// rest (access, statfs, chmod, chown, utimens, getxattr, an empty listxattr) that dd, ls -l and node
// see an ordinary file system. getxattr answers as dfs does (ENODATA in the user., trusted. and
// security. namespaces, EOPNOTSUPP for the rest, POSIX ACLs included), never ENOSYS: the kernel would
// stop asking, and ls -l would get cheaper than on dfs for a reason that has nothing to do with speed.
// (With ENODATA for ACLs, ls -l asks for them on every file: 10 calls a file instead of 7.) No hard
// links, no symlinks. The binding answers for memfs what it answers for dfs (src/fuse/bindingAnswers.ts:
// the ACL and security.* probes; getattr answers, listed entries and ENOENT remembered until the next
// change): one mechanism for both.
//
// SIGTERM or SIGINT unmounts (fusermount -uz) and exits; auto_unmount clears the mount if it dies.
// Never touch the mount from this process: every call must be answered by this one thread.
// MEMFS_DEBUG=1 mounts with libfuse's debug trace (every request and reply on stderr).

import { constants } from 'node:os'
import Fuse from 'fuse-native'
import { DfsFuse, fuseOptions } from '../fuse/mount.js'

type Callback = (code: number, ...results: unknown[]) => void

const E = (name: keyof typeof constants.errno) => -constants.errno[name]
const ENOENT = E('ENOENT')
const EEXIST = E('EEXIST')
const ENOTDIR = E('ENOTDIR')
const EISDIR = E('EISDIR')
const ENOTEMPTY = E('ENOTEMPTY')
const EBADF = E('EBADF')
const ENODATA = E('ENODATA')
const ENOTSUP = E('ENOTSUP')
const ENAMETOOLONG = E('ENAMETOOLONG')
const EINVAL = E('EINVAL')

const XATTR_NAMESPACES = ['user.', 'trusted.', 'security.']
const S_IFDIR = 0o040000
const S_IFREG = 0o100000
/** File contents are kept in pieces of up to 1 MiB, so a 1 GiB file is never copied to grow it. */
const PIECE = 1 << 20
/** A deleted file at least this large is collected at once (see letGo). */
const RELEASE_AT_ONCE_BYTES = 64 * PIECE

interface Inode {
  ino: number
  mode: number
  uid: number
  gid: number
  nlink: number
  size: number
  atime: number
  mtime: number
  ctime: number
  /** Files: piece i holds bytes [i * PIECE, i * PIECE + piece.length); a missing piece reads as zeros. */
  pieces?: (Buffer | undefined)[]
  /** Folders: names of the entries. */
  children?: Set<string>
}

export interface MemFsStats {
  files: number
  folders: number
  bytes: number
}

/** The file system itself, without FUSE: the operations fuse-native calls, all answered synchronously. */
export function memFsOperations(owner: () => { uid: number; gid: number }, opts: { bytePaths?: boolean; generation?: () => number | undefined } = {}): { ops: Record<string, (...args: any[]) => void>; stats: () => MemFsStats } {
  let nextIno = 1
  const now = Date.now()
  const byPath = new Map<string, Inode>()
  const newInode = (mode: number, extra: Partial<Inode>): Inode => {
    const t = Date.now()
    const { uid, gid } = owner()
    return { ino: nextIno++, mode, uid, gid, nlink: 1, size: 0, atime: t, mtime: t, ctime: t, ...extra }
  }
  const root: Inode = { ...newInode(S_IFDIR | 0o755, { children: new Set(), nlink: 2 }), atime: now, mtime: now, ctime: now }
  byPath.set('/', root)
  const handles = new Map<number, Inode>()
  let nextFd = 1

  const split = (path: string): [string, string] => {
    const i = path.lastIndexOf('/')
    return [i === 0 ? '/' : path.slice(0, i), path.slice(i + 1)]
  }
  const join = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`)
  /** The parent folder of a new entry, or an errno. */
  const parentFor = (path: string): Inode | number => {
    const [dir, name] = split(path)
    // With dfs's patched binding a path comes as latin1, one char per byte.
    if ((opts.bytePaths ? name.length : Buffer.byteLength(name)) > 255) return ENAMETOOLONG
    const parent = byPath.get(dir)
    if (!parent) return ENOENT
    if (!parent.children) return ENOTDIR
    if (byPath.has(path)) return EEXIST
    return parent
  }
  const stat = (n: Inode) => ({
    mode: n.mode, uid: n.uid, gid: n.gid, size: n.size, nlink: n.nlink, ino: n.ino,
    blksize: 4096, blocks: Math.ceil(n.size / 512), atime: n.atime, mtime: n.mtime, ctime: n.ctime,
  })
  const open = (n: Inode): number => {
    const fd = nextFd++
    handles.set(fd, n)
    return fd
  }

  function write(n: Inode, src: Buffer, position: number): void {
    const pieces = (n.pieces ??= [])
    let done = 0
    while (done < src.length) {
      const at = position + done
      const index = Math.floor(at / PIECE)
      const offset = at % PIECE
      const count = Math.min(src.length - done, PIECE - offset)
      let piece = pieces[index]
      if (!piece || piece.length < offset + count) {
        // Grow by doubling (small files stay small), up to a whole piece.
        const size = Math.min(PIECE, Math.max(offset + count, 2 * (piece?.length ?? 0), 4096))
        const grown = Buffer.alloc(size)
        piece?.copy(grown)
        pieces[index] = piece = grown
      }
      src.copy(piece, offset, done, done + count)
      done += count
    }
    n.size = Math.max(n.size, position + src.length)
  }

  function read(n: Inode, dst: Buffer, position: number): number {
    const end = Math.min(n.size, position + dst.length)
    let done = 0
    while (position + done < end) {
      const at = position + done
      const index = Math.floor(at / PIECE)
      const offset = at % PIECE
      const count = Math.min(end - at, PIECE - offset)
      const piece = n.pieces?.[index]
      const have = piece ? Math.max(0, Math.min(count, piece.length - offset)) : 0
      if (have > 0) piece!.copy(dst, done, offset, offset + have)
      if (have < count) dst.fill(0, done + have, done + count)
      done += count
    }
    return done
  }

  function truncate(n: Inode, size: number): number {
    if (n.children) return EISDIR
    if (size < 0) return EINVAL
    const pieces = (n.pieces ??= [])
    if (size < n.size) {
      const keep = Math.ceil(size / PIECE)
      pieces.length = Math.min(pieces.length, keep)
      // What is cut off the last piece must read as zeros if the file grows again.
      const last = pieces[keep - 1]
      if (last && size % PIECE) last.fill(0, Math.min(last.length, size % PIECE))
    }
    n.size = size
    n.mtime = n.ctime = Date.now()
    return 0
  }

  const remove = (path: string, n: Inode) => {
    const [dir, name] = split(path)
    byPath.get(dir)?.children?.delete(name)
    byPath.delete(path)
    n.nlink = 0
  }

  /**
   * The bytes of a file no name and no handle reaches any more, given back to the system now rather
   * than at the garbage collector's leisure: an idle memfs would hold a deleted 1 GiB file for
   * minutes, and on a VM memory held elsewhere makes the next writer's fresh memory dear (the dfs
   * write measured after it ran at less than half its speed). With --expose-gc (the bench starts it
   * so), a large file's deletion collects at once, after the answer.
   */
  const letGo = (n: Inode) => {
    if (n.nlink > 0 || !n.pieces || [...handles.values()].includes(n)) return
    const bytes = n.pieces.reduce((sum, piece) => sum + (piece?.length ?? 0), 0)
    n.pieces = undefined
    const collect = (globalThis as { gc?: () => void }).gc
    if (collect && bytes >= RELEASE_AT_ONCE_BYTES) setImmediate(collect)
  }

  const ops: Record<string, (...args: any[]) => void> = {
    init: (cb: Callback) => cb(0),
    access: (_path: string, _mode: number, cb: Callback) => cb(0),
    statfs: (_path: string, cb: Callback) =>
      cb(0, { bsize: 4096, frsize: 4096, blocks: 2 ** 30, bfree: 2 ** 30, bavail: 2 ** 30, files: 2 ** 24, ffree: 2 ** 24, favail: 2 ** 24, fsid: 0, flag: 0, namemax: 255 }),
    // Remembered by the binding until the next request that may change something (every change
    // here is made by one), as dfs's committed answers are (src/fuse/bindingAnswers.ts).
    getattr: (path: string, cb: Callback) => {
      const n = byPath.get(path)
      return n ? cb(0, stat(n), true) : cb(ENOENT, undefined, true)
    },
    readdir: (path: string, cb: Callback) => {
      const n = byPath.get(path)
      if (!n) return cb(ENOENT)
      if (!n.children) return cb(ENOTDIR)
      const names = [...n.children]
      // Its entries may be remembered as their getattr answers, as dfs's committed ones are.
      return cb(0, ['.', '..', ...names], [stat(n), stat(n), ...names.map(name => stat(byPath.get(join(path, name))!))],
        [false, false, ...names.map(() => true)], opts.generation?.())
    },
    mkdir: (path: string, mode: number, cb: Callback) => {
      const parent = parentFor(path)
      if (typeof parent === 'number') return cb(parent)
      byPath.set(path, newInode(S_IFDIR | (mode & 0o7777), { children: new Set(), nlink: 2 }))
      parent.children!.add(split(path)[1])
      parent.nlink++
      parent.mtime = parent.ctime = Date.now()
      return cb(0)
    },
    rmdir: (path: string, cb: Callback) => {
      const n = byPath.get(path)
      if (!n) return cb(ENOENT)
      if (!n.children) return cb(ENOTDIR)
      if (n.children.size) return cb(ENOTEMPTY)
      remove(path, n)
      byPath.get(split(path)[0])!.nlink--
      return cb(0)
    },
    create: (path: string, mode: number, cb: Callback) => {
      const parent = parentFor(path)
      if (typeof parent === 'number') return cb(parent)
      const n = newInode(S_IFREG | (mode & 0o7777), { pieces: [] })
      byPath.set(path, n)
      parent.children!.add(split(path)[1])
      parent.mtime = parent.ctime = n.mtime
      return cb(0, open(n))
    },
    open: (path: string, _flags: number, cb: Callback) => {
      const n = byPath.get(path)
      return n ? cb(0, open(n)) : cb(ENOENT)
    },
    read: (_path: string, fd: number, buf: Buffer, len: number, position: number, cb: Callback) => {
      const n = handles.get(fd)
      if (!n) return cb(EBADF)
      if (n.children) return cb(EISDIR)
      return cb(read(n, buf.subarray(0, len), position))
    },
    write: (_path: string, fd: number, buf: Buffer, len: number, position: number, cb: Callback) => {
      const n = handles.get(fd)
      if (!n) return cb(EBADF)
      if (n.children) return cb(EISDIR)
      write(n, buf.subarray(0, len), position) // copies out of the kernel's buffer before answering
      n.mtime = n.ctime = Date.now()
      return cb(len)
    },
    truncate: (path: string, size: number, cb: Callback) => {
      const n = byPath.get(path)
      return n ? cb(truncate(n, size)) : cb(ENOENT)
    },
    ftruncate: (_path: string, fd: number, size: number, cb: Callback) => {
      const n = handles.get(fd)
      return n ? cb(truncate(n, size)) : cb(EBADF)
    },
    flush: (_path: string, _fd: number, cb: Callback) => cb(0),
    fsync: (_path: string, _datasync: number, _fd: number, cb: Callback) => cb(0),
    fsyncdir: (_path: string, _datasync: number, _fd: number, cb: Callback) => cb(0),
    release: (_path: string, fd: number, cb: Callback) => {
      const n = handles.get(fd)
      handles.delete(fd)
      cb(0)
      if (n) letGo(n)
    },
    unlink: (path: string, cb: Callback) => {
      const n = byPath.get(path)
      if (!n) return cb(ENOENT)
      if (n.children) return cb(EISDIR)
      remove(path, n) // an open handle keeps the inode (and its bytes) until release
      byPath.get(split(path)[0])!.mtime = Date.now()
      cb(0)
      letGo(n)
    },
    rename: (from: string, to: string, cb: Callback) => {
      const n = byPath.get(from)
      if (!n) return cb(ENOENT)
      const target = byPath.get(to)
      if (target?.children && target.children.size) return cb(ENOTEMPTY)
      if (target) remove(to, target)
      const parent = parentFor(to)
      if (typeof parent === 'number') return cb(parent)
      const [fromDir, fromName] = split(from)
      byPath.get(fromDir)!.children!.delete(fromName)
      parent.children!.add(split(to)[1])
      // A folder takes everything below it along.
      for (const [path, inode] of [...byPath]) {
        if (path === from || path.startsWith(`${from}/`)) {
          byPath.delete(path)
          byPath.set(to + path.slice(from.length), inode)
        }
      }
      cb(0)
      if (target && target !== n) letGo(target)
    },
    chmod: (path: string, mode: number, cb: Callback) => {
      const n = byPath.get(path)
      if (!n) return cb(ENOENT)
      n.mode = (n.mode & ~0o7777) | (mode & 0o7777)
      n.ctime = Date.now()
      return cb(0)
    },
    chown: (path: string, uid: number, gid: number, cb: Callback) => {
      const n = byPath.get(path)
      if (!n) return cb(ENOENT)
      if (uid !== -1 && uid !== 0xffffffff) n.uid = uid
      if (gid !== -1 && gid !== 0xffffffff) n.gid = gid
      n.ctime = Date.now()
      return cb(0)
    },
    utimens: (path: string, atime: number | undefined, mtime: number | undefined, cb: Callback) => {
      const n = byPath.get(path)
      if (!n) return cb(ENOENT)
      if (atime !== undefined) n.atime = atime
      if (mtime !== undefined) n.mtime = mtime
      n.ctime = Date.now()
      return cb(0)
    },
    // As dfs (src/fs/FileSystem.ts): names in the user., trusted. and security. namespaces have no
    // value (ENODATA); any other, system.posix_acl_* included, is not supported. ls -l then stops
    // asking for ACLs after the first EOPNOTSUPP on a file system, as it does on dfs.
    getxattr: (path: string, name: string, _position: number, cb: Callback) =>
      cb(!byPath.has(path) ? ENOENT : XATTR_NAMESPACES.some(ns => name.startsWith(ns)) ? ENODATA : ENOTSUP),
    listxattr: (path: string, cb: Callback) => (byPath.has(path) ? cb(0, []) : cb(ENOENT)),
    setxattr: (_path: string, _name: string, _value: Buffer, _position: number, _flags: number, cb: Callback) => cb(ENOTSUP),
  }

  const stats = (): MemFsStats => {
    let files = 0
    let folders = 0
    let bytes = 0
    for (const n of byPath.values()) {
      if (n.children) folders++
      else {
        files++
        for (const piece of n.pieces ?? []) bytes += piece?.length ?? 0
      }
    }
    return { files, folders, bytes }
  }
  return { ops, stats }
}

// ---- the process ---------------------------------------------------------------------------------

async function main(mountpoint: string): Promise<void> {
  let fuse: DfsFuse | undefined
  // dfs's patched binding says who asks (new files belong to them); otherwise this process's user.
  const owner = () => fuse?.caller ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
  const { ops, stats } = memFsOperations(owner, { bytePaths: Fuse.dfsFeatures?.bytePaths === true, generation: () => fuse?.answers.generation() })
  // MEMFS_COUNT=1: count the calls; each SIGUSR2 prints the counts since the last one, and what memfs
  // holds, to stderr (how many calls a tool makes that reach JavaScript: the kernel asks `ls -l` for 6
  // getattr and 1 getxattr per file, which the binding answers itself from the listing, so a warm
  // `ls -l` makes one readdir; native-notes/README.md has the counts).
  if (process.env.MEMFS_COUNT) {
    const counts: Record<string, number> = {}
    for (const [name, op] of Object.entries(ops)) {
      ops[name] = (...args: any[]) => {
        counts[name] = (counts[name] ?? 0) + 1
        op(...args)
      }
    }
    process.on('SIGUSR2', () => {
      process.stderr.write(`memfs: calls ${JSON.stringify(counts)}; holding ${JSON.stringify(stats())}\n`)
      for (const name of Object.keys(counts)) delete counts[name]
    })
  }
  fuse = new DfsFuse(mountpoint, ops, fuseOptions({ name: 'memfs', debug: process.env.MEMFS_DEBUG === '1' }))
  await new Promise<void>((resolve, reject) => fuse!.mount(err => (err ? reject(err) : resolve())))
  // The binding answers what it answers for dfs's embedded mount (src/fuse/mount.ts answerInBinding):
  // ACL and security.* probes (memfs holds no xattrs) and remembered attributes.
  fuse.answers.set({ aclProbes: true, securityXattrs: false, attrCache: true })

  let stopping = false
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1)
    stopping = true
    // fuse-native's unmount runs fusermount -uz (lazy: a process still inside keeps its files).
    fuse!.unmount(err => {
      if (err) process.stderr.write(`memfs: unmounting ${mountpoint} after ${signal}: ${err.message}\n`)
      process.exit(err ? 1 : 0)
    })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.on('SIGHUP', stop)
  process.stdout.write(`memfs: mounted ${mountpoint} (pid ${process.pid})\n`)
}

const args = process.argv.slice(2)
if (process.argv[1]?.endsWith('memFs.js')) {
  if (args.length !== 1) {
    process.stderr.write('usage: node dist/bench/memFs.js <mountpoint>\n')
    process.exit(2)
  }
  main(args[0]).catch(err => {
    process.stderr.write(`memfs: cannot mount ${args[0]}: ${(err as Error).message}\n`)
    process.exit(1)
  })
}
