// fuse-native callbacks -> FileSystem calls. Thin on purpose: argument order, result shape and errno
// are all this file does. fuse-native kills the process on a null/Error callback value or a throw, so
// every handler answers with a number, whatever happens.

import type { Caller, FileSystem } from '../fs/FileSystem.js'
import { decodeName, encodeName } from '../meta/namespace/names.js'
import { toErrno } from './errno.js'
import { levelled } from '../log/Log.js'
import { LibfuseHiddenFiles } from './hiddenFiles.js'

type Callback = (code: number, ...results: unknown[]) => void

const EIO = toErrno({ code: 'EIO' })
const ENOTSUP = toErrno({ code: 'ENOTSUP' })
const ENOENT = toErrno({ code: 'ENOENT' })
type Operation = (...args: any[]) => void

/** Told how long each kernel request took (seconds), as it is answered: the mount's op latencies. */
export type OpTimer = (op: string, seconds: number) => void

/**
 * `caller` says who made the request being answered: read it synchronously at the start of an
 * operation (the patched binding sets it just before calling the operation).
 */
export function fuseOperations(
  fs: FileSystem, log: (message: string) => void, caller: () => Caller | undefined,
  opts: { bytePaths?: boolean; onOp?: OpTimer; generation?: () => number | undefined; rememberMissing?: boolean } = {},
): Record<string, Operation> {
  // POSIX fidelity: a binding that passes paths byte for byte (one latin1 char per byte, see
  // native-notes/) lets names that are not UTF-8 through; they are stored as names.ts says. Paths
  // and symlink targets come in that way; directory entries and symlink targets go out that way.
  const p = opts.bytePaths ? (s: string) => decodeName(Buffer.from(s, 'latin1')) : (s: string) => s
  const out = opts.bytePaths ? (s: string) => encodeName(s).toString('latin1') : (s: string) => s
  // libfuse 2's renames of open files to .fuse_hidden* names are unlinks (hiddenFiles.ts says why).
  const hidden = new LibfuseHiddenFiles(fs)
  const onOp = opts.onOp

  /** Run an operation; answer with the arguments `reply` derives from its result, or a negative errno. */
  function answer<T>(name: string, cb: Callback, run: () => Promise<T>, reply: (result: T) => [number, ...unknown[]] = () => [0]): void {
    const started = onOp ? performance.now() : 0
    // Timing is for the operator's view: a hook that throws must not keep the kernel from its answer.
    const timed = () => {
      try {
        onOp?.(name, (performance.now() - started) / 1000)
      } catch (err) {
        levelled(log).error(`timing ${name}: ${(err as Error)?.stack ?? err}`)
      }
    }
    let promise: Promise<T>
    try {
      promise = run()
    } catch (err) {
      promise = Promise.reject(err)
    }
    promise.then(
      result => {
        timed()
        cb(...reply(result))
      },
      err => {
        timed()
        const errno = toErrno(err)
        if (errno === EIO) levelled(log).error(`${name}: ${(err as Error)?.stack ?? err}`)
        cb(errno)
      },
    )
  }

  return {
    init: (cb: Callback) => cb(0),
    access: (path: string, _mode: number, cb: Callback) => answer('access', cb, () => fs.access(p(path))),
    statfs: (_path: string, cb: Callback) => answer('statfs', cb, () => fs.statfs(), s => [0, s]),
    // The third argument lets the binding remember an answer that follows from the committed
    // namespace alone, until the next change (bindingAnswers.ts); "no such file" too where that is
    // all it follows from (rememberMissing: not for a NameNode's client, whose ENOENT asks the
    // NameNode first).
    getattr: (path: string, cb: Callback) => answer('getattr',
      (code, ...rest) => (code === ENOENT && opts.rememberMissing ? cb(ENOENT, undefined, true) : cb(code, ...rest)),
      () => hidden.getattrCommitted(p(path)), r => [0, r.stat, r.committed]),
    // The binding may remember the listed entries' committed stats as their getattr answers if its
    // generation (bindingAnswers.ts) has not moved since it was read here, right after the listing
    // was made: whatever the listing saw (its own atime commit too) came before that reading.
    readdir: (path: string, cb: Callback) => answer('readdir', cb, () => {
      const listed = fs.readdir(p(path))
      const generation = opts.generation?.()
      return listed.then(r => ({ ...r, generation }))
    }, r => [0, r.names.map(out), r.stats, ...(r.generation === undefined ? [] : [r.committed, r.generation])]),
    readlink: (path: string, cb: Callback) => answer('readlink', cb, () => fs.readlink(p(path)), t => [0, out(t)]),

    mkdir: (path: string, mode: number, cb: Callback) => answer('mkdir', cb, () => fs.mkdir(p(path), mode, caller())),
    mknod: (path: string, mode: number, dev: number, cb: Callback) => answer('mknod', cb, () => fs.mknod(p(path), mode, dev, caller())),
    symlink: (target: string, path: string, cb: Callback) => answer('symlink', cb, () => fs.symlink(p(target), p(path), caller())),
    link: (existing: string, path: string, cb: Callback) => answer('link', cb, () => fs.link(p(existing), p(path))),
    unlink: (path: string, cb: Callback) => answer('unlink', cb, () => hidden.unlink(p(path))),
    rmdir: (path: string, cb: Callback) => answer('rmdir', cb, () => fs.rmdir(p(path))),
    rename: (from: string, to: string, cb: Callback) => answer('rename', cb, () => hidden.rename(p(from), p(to))),

    chmod: (path: string, mode: number, cb: Callback) => answer('chmod', cb, () => fs.chmod(p(path), mode)),
    chown: (path: string, uid: number, gid: number, cb: Callback) => answer('chown', cb, () => fs.chown(p(path), uid, gid)),
    // A time is undefined when the caller left it as it is (UTIME_OMIT; see mount.ts).
    utimens: (path: string, atime: number | undefined, mtime: number | undefined, cb: Callback) =>
      answer('utimens', cb, () => fs.utimens(p(path), atime, mtime)),
    truncate: (path: string, size: number, cb: Callback) => answer('truncate', cb, () => fs.truncate(p(path), size)),
    ftruncate: (_path: string, fh: number, size: number, cb: Callback) => answer('ftruncate', cb, () => fs.ftruncate(fh, size)),

    // POSIX ACLs are not supported: libfuse 2 cannot ask the kernel for FUSE_POSIX_ACL, so the kernel
    // hands system.posix_acl_* to us as plain xattrs and neither applies them to the mode nor
    // enforces them (default_permissions checks mode bits only). Stored as-is they were worse than
    // nothing: `cp -a`/`cp -p` set a file's permissions through this ACL instead of chmod, so the
    // mode stayed at the create mode (0600) while the copy out got the ACL's. EOPNOTSUPP, as from a
    // file system without ACLs (and as the kernel answers for a FUSE daemon in a user namespace),
    // makes those tools fall back to chmod.
    setxattr: (path: string, name: string, value: Buffer, _position: number, flags: number, cb: Callback) =>
      name.startsWith('system.posix_acl_')
        ? cb(ENOTSUP)
        : answer('setxattr', cb, () => fs.setxattr(p(path), name, Buffer.from(value), flags)),
    getxattr: (path: string, name: string, _position: number, cb: Callback) => answer('getxattr', cb, () => fs.getxattr(p(path), name), v => [0, v]),
    listxattr: (path: string, cb: Callback) => answer('listxattr', cb, () => fs.listxattr(p(path), caller()), names => [0, names]),
    removexattr: (path: string, name: string, cb: Callback) => answer('removexattr', cb, () => fs.removexattr(p(path), name)),

    create: (path: string, mode: number, cb: Callback) => answer('create', cb, () => fs.create(p(path), mode, caller()), fh => [0, fh]),
    open: (path: string, flags: number, cb: Callback) => answer('open', cb, () => fs.open(p(path), flags), fh => [0, fh]),
    // The kernel's buffer is only valid until we answer, so read fills it and write copies out of it
    // before the promise resolves. Both answer with the byte count in place of the code.
    read: (_path: string, fh: number, buf: Buffer, len: number, position: number, cb: Callback) =>
      answer('read', cb, () => fs.read(fh, buf.subarray(0, len), position), n => [n]),
    write: (_path: string, fh: number, buf: Buffer, len: number, position: number, cb: Callback) =>
      answer('write', cb, () => fs.write(fh, buf.subarray(0, len), position), n => [n]),
    flush: (_path: string, fh: number, cb: Callback) => answer('flush', cb, () => fs.flush(fh)),
    fsync: (_path: string, _datasync: number, fh: number, cb: Callback) => answer('fsync', cb, () => fs.fsync(fh)),
    fsyncdir: (_path: string, _datasync: number, _fh: number, cb: Callback) => answer('fsyncdir', cb, () => fs.fsyncdir()),
    release: (_path: string, fh: number, cb: Callback) => answer('release', cb, () => fs.release(fh)),
  }
}
