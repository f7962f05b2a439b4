// fuse-native callbacks -> FileSystem calls. Thin on purpose: argument order, result shape and errno
// are all this file does. fuse-native kills the process on a null/Error callback value or a throw, so
// every handler answers with a number, whatever happens.

import type { Caller, FileSystem } from '../fs/FileSystem.js'
import { toErrno } from './errno.js'

type Callback = (code: number, ...results: unknown[]) => void

const EIO = toErrno({ code: 'EIO' })
type Operation = (...args: any[]) => void

/**
 * `caller` says who made the request being answered: read it synchronously at the start of an
 * operation (the patched binding sets it just before calling the operation).
 */
export function fuseOperations(fs: FileSystem, log: (message: string) => void, caller: () => Caller | undefined): Record<string, Operation> {
  /** Run an operation; answer with the arguments `reply` derives from its result, or a negative errno. */
  function answer<T>(name: string, cb: Callback, run: () => Promise<T>, reply: (result: T) => [number, ...unknown[]] = () => [0]): void {
    let promise: Promise<T>
    try {
      promise = run()
    } catch (err) {
      promise = Promise.reject(err)
    }
    promise.then(
      result => cb(...reply(result)),
      err => {
        const errno = toErrno(err)
        if (errno === EIO) log(`${name}: ${(err as Error)?.stack ?? err}`)
        cb(errno)
      },
    )
  }

  return {
    init: (cb: Callback) => cb(0),
    access: (path: string, _mode: number, cb: Callback) => answer('access', cb, () => fs.access(path)),
    statfs: (_path: string, cb: Callback) => answer('statfs', cb, () => fs.statfs(), s => [0, s]),
    getattr: (path: string, cb: Callback) => answer('getattr', cb, () => fs.getattr(path), s => [0, s]),
    readdir: (path: string, cb: Callback) => answer('readdir', cb, () => fs.readdir(path), r => [0, r.names, r.stats]),
    readlink: (path: string, cb: Callback) => answer('readlink', cb, () => fs.readlink(path), t => [0, t]),

    mkdir: (path: string, mode: number, cb: Callback) => answer('mkdir', cb, () => fs.mkdir(path, mode, caller())),
    mknod: (path: string, mode: number, dev: number, cb: Callback) => answer('mknod', cb, () => fs.mknod(path, mode, dev, caller())),
    symlink: (target: string, path: string, cb: Callback) => answer('symlink', cb, () => fs.symlink(target, path, caller())),
    link: (existing: string, path: string, cb: Callback) => answer('link', cb, () => fs.link(existing, path)),
    unlink: (path: string, cb: Callback) => answer('unlink', cb, () => fs.unlink(path)),
    rmdir: (path: string, cb: Callback) => answer('rmdir', cb, () => fs.rmdir(path)),
    rename: (from: string, to: string, cb: Callback) => answer('rename', cb, () => fs.rename(from, to)),

    chmod: (path: string, mode: number, cb: Callback) => answer('chmod', cb, () => fs.chmod(path, mode)),
    chown: (path: string, uid: number, gid: number, cb: Callback) => answer('chown', cb, () => fs.chown(path, uid, gid)),
    utimens: (path: string, atime: number, mtime: number, cb: Callback) => answer('utimens', cb, () => fs.utimens(path, atime, mtime)),
    truncate: (path: string, size: number, cb: Callback) => answer('truncate', cb, () => fs.truncate(path, size)),
    ftruncate: (_path: string, fh: number, size: number, cb: Callback) => answer('ftruncate', cb, () => fs.ftruncate(fh, size)),

    setxattr: (path: string, name: string, value: Buffer, _position: number, flags: number, cb: Callback) =>
      answer('setxattr', cb, () => fs.setxattr(path, name, Buffer.from(value), flags)),
    getxattr: (path: string, name: string, _position: number, cb: Callback) => answer('getxattr', cb, () => fs.getxattr(path, name), v => [0, v]),
    listxattr: (path: string, cb: Callback) => answer('listxattr', cb, () => fs.listxattr(path), names => [0, names]),
    removexattr: (path: string, name: string, cb: Callback) => answer('removexattr', cb, () => fs.removexattr(path, name)),

    create: (path: string, mode: number, cb: Callback) => answer('create', cb, () => fs.create(path, mode, caller()), fh => [0, fh]),
    open: (path: string, _flags: number, cb: Callback) => answer('open', cb, () => fs.open(path), fh => [0, fh]),
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
