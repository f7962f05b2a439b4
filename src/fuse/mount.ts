// Mounting and unmounting through fuse-native, with the options dfs needs.

import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { constants } from 'node:os'
import { dirname } from 'node:path'
import Fuse, { type FuseOptions } from 'fuse-native'
import type { Caller, FileSystem } from '../fs/FileSystem.js'
import type { NamespaceRecord } from '../meta/namespace/records.js'
import { dfsError } from '../errors.js'
import { canonicalMountpoint } from './mountpoint.js'
import { fuseOperations, type OpTimer } from './operations.js'
import { BindingAnswers, type BindingCounters } from './bindingAnswers.js'
import { ownMount } from './ownMount.js'
import { raiseReadahead } from './readahead.js'

/** The addon fuse-native loaded (the same instance: node caches it by path), for releasing a mount. */
const fuseDir = dirname(createRequire(import.meta.url).resolve('fuse-native'))
const binding = createRequire(`${fuseDir}/index.js`)('node-gyp-build')(fuseDir) as {
  fuse_native_unmount(mountpoint: string, thread: Buffer): void
}

/** How often the daemon looks whether its mount is still there (an unmount from outside dfs). */
const DETACH_CHECK_MS = 1000

/**
 * fuse-native names only some libfuse options; the rest are appended to the `-o` string it builds in
 * its private `_fuseOptions()` (stable in the pinned 2.2.6):
 * - big_writes: 128 KiB writes instead of 4 KiB ones (7x the sequential write throughput).
 * - use_ino: st_ino is ours, so hard links show one inode number.
 * - attr_timeout=0: libfuse 2's high-level API gives every name its own kernel inode, so with
 *   attributes cached (the default 1 s) the other names of a hard link keep a stale nlink, mode and
 *   size; an O_APPEND write through one of them then lands at the stale end and overwrites data.
 *   Costs a getattr request per stat; the binding answers most of them itself from attributes it
 *   remembers until the next change (bindingAnswers.ts), so only the trip to the kernel is left.
 *   fuse-native's attrTimeout option drops a 0.
 * - max_background=64: READs the kernel may have in flight for readahead (default 12), so the deeper
 *   readahead window set once mounted (readahead.ts) is sent at once, not queued.
 */
export class DfsFuse extends Fuse {
  /**
   * entry_timeout=0 for a client of a NameNode: other clients rename and unlink too, and a name the
   * kernel cached (1 s by default) would hide that from this client's next lookup. A mount that is
   * the only client (embedded) changes names only through this kernel, which keeps its cache right.
   */
  sharedNamespace = false

  /** What the binding answers itself, on libfuse's thread (bindingAnswers.ts); set once mounted. */
  readonly answers = new BindingAnswers(() => this._thread)

  override _fuseOptions(): string {
    const base = super._fuseOptions()
    const extra = ['big_writes', 'use_ino', 'attr_timeout=0', 'max_background=64', ...(this.sharedNamespace ? ['entry_timeout=0'] : [])].join(',')
    return base ? `${base},${extra}` : `-o${extra}`
  }

  /** Mounted, then the readahead window raised (readahead.ts) before anyone is told it is there. */
  override mount(cb: (err: Error | null) => void): void {
    super.mount(err => {
      if (err) return cb(err)
      raiseReadahead(this.mnt).then(() => cb(null), () => cb(null))
    })
  }

  // fuse-native answers getxattr/listxattr with the full length even when the caller's buffer is
  // smaller (it copies what fits); the kernel rejects a reply longer than it asked for and the caller
  // gets EIO. getxattr(2) says ERANGE, which is how callers (Python's os.getxattr starts with 128
  // bytes) learn to retry with a larger buffer. A zero-size buffer asks for the length only.
  override _op_getxattr(signal: FuseSignal, path: string, name: string, value: Buffer, position: number): void {
    super._op_getxattr((code, ...rest) => signal(value.length > 0 && code > value.length ? ERANGE : code, ...rest), path, name, value, position)
  }

  // POSIX fidelity: fuse-native turns utimens' times into numbers that cannot hold a time before
  // 1970; the raw 64-bit milliseconds are decoded here instead. A binding with dfs's later patch
  // (native-notes/; Fuse.dfsFeatures) also passes UTIME_OMIT (as -2^63: "leave this time alone",
  // from `touch -m`, `tar x`) and reports negative times back in stat. With an older one an omitted
  // time never arrives, and a time before 1970 is kept as 0, since it could not be reported back.
  override _op_utimens(signal: FuseSignal, path: string, atimeLow: number, atimeHigh: number, mtimeLow: number, mtimeHigh: number): void {
    const signed = Fuse.dfsFeatures?.signedTimes === true
    const time = (low: number, high: number): number | undefined => {
      const ms = BigInt.asIntN(64, (BigInt(high) << 32n) | BigInt(low))
      if (ms === OMITTED) return Fuse.dfsFeatures?.utimeOmit ? undefined : 0
      return ms < 0n && !signed ? 0 : Number(ms)
    }
    this.ops.utimens(path, time(atimeLow, atimeHigh), time(mtimeLow, mtimeHigh), (code: number) => signal(code))
  }

  override _op_listxattr(signal: FuseSignal, path: string, list: Buffer): void {
    this.ops.listxattr(path, (code: number, names?: string[]) => {
      if (code < 0 || !names) return signal(code, list.buffer)
      const bytes = Buffer.from(names.map(n => `${n}\0`).join(''))
      if (list.length === 0) return signal(bytes.length, list.buffer)
      if (bytes.length > list.length) return signal(ERANGE, list.buffer)
      bytes.copy(list)
      return signal(bytes.length, list.buffer)
    })
  }
}

type FuseSignal = (code: number, ...results: unknown[]) => void
const OMITTED = -(2n ** 63n)
const ERANGE = -constants.errno.ERANGE

/**
 * The fuse-native options dfs mounts with (DfsFuse adds big_writes, use_ino, attr_timeout=0). Also
 * used by the bench's in-memory file system (src/bench/memFs.ts), so both mount the same way.
 */
export function fuseOptions(opts: { name: string; opTimeoutMs?: number; debug?: boolean }): FuseOptions {
  const root = process.getuid?.() === 0
  return {
    fsname: opts.name,
    subtype: opts.name,
    // The kernel removes the mount if the daemon dies, so a crash never leaves a stale mount behind.
    autoUnmount: true,
    // Clears a stale mount (daemon killed before auto_unmount could act) before mounting again.
    force: true,
    // Other users may use the mount; the kernel checks permission bits for them.
    allowOther: root,
    defaultPermissions: root,
    timeout: opts.opTimeoutMs ?? 60_000,
    debug: opts.debug ?? false,
  }
}

export interface MountOptions {
  log: (message: string) => void
  /** Per-operation limit (ms) after which fuse-native answers ETIMEDOUT; above any failover time. */
  opTimeoutMs?: number
  debug?: boolean
  /** Other clients change the namespace too (a NameNode's client): no kernel name cache. */
  sharedNamespace?: boolean
  /** Told how long each kernel request took (the mount's op latencies, client/opStats.ts). */
  onOp?: OpTimer
  /**
   * Hear every change of the namespace the file system answers from, whoever makes it (the embedded
   * NameNode's commits; a NameNode client's copy taking a record), with the record (none: replaced
   * whole). Given, it lets the binding remember attributes between changes and answer security.*
   * probes (bindingAnswers.ts); returns the way to stop listening.
   */
  onNamespaceChange?: (listener: (record?: NamespaceRecord) => void) => () => void
}

export interface Mounted {
  readonly mountpoint: string
  /**
   * Resolves when the mount left the mount table without dfs unmounting it: `fusermount -u`, `umount`
   * or `umount -l` from outside. libfuse's loop then ends but tells no one, so this is watched.
   */
  readonly detached: Promise<void>
  /**
   * Detach the mount (lazily: processes holding files open keep them until the daemon exits), or with
   * `lazy: false` only if nothing uses it (MOUNT_BUSY otherwise, and the mount stays). Nothing to do
   * for a mount already gone; either way the binding lets go of it so the process can exit.
   */
  unmount(opts?: { lazy?: boolean }): Promise<void>
  /** What the binding answered by itself since the mount (bindingAnswers.ts). */
  bindingCounters(): BindingCounters
}

export async function mountFileSystem(mountpoint: string, fs: FileSystem, opts: MountOptions): Promise<Mounted> {
  // The patched binding (native-notes/) sets `caller` on the instance before each operation.
  const callerOf = (): Caller | undefined => fuse.caller
  const ops = fuseOperations(fs, opts.log, callerOf, {
    bytePaths: Fuse.dfsFeatures?.bytePaths === true, onOp: opts.onOp, generation: () => fuse.answers.generation(),
    // "No such file" follows from the namespace alone where no other client can make the name.
    rememberMissing: opts.sharedNamespace !== true,
  })
  const fuse: DfsFuse = new DfsFuse(mountpoint, ops, fuseOptions({ name: 'dfs', opTimeoutMs: opts.opTimeoutMs, debug: opts.debug }))
  fuse.sharedNamespace = opts.sharedNamespace === true
  await new Promise<void>((resolve, reject) => {
    fuse.mount(err => (err ? reject(dfsError('MOUNTPOINT_INVALID', `cannot mount ${mountpoint}: ${err.message}`, { mountpoint }, err)) : resolve()))
  })
  const stopAnswers = answerInBinding(fuse, fs, opts)
  const own = await ownMount(await canonicalMountpoint(mountpoint))
  const present = () => own.present()

  let released = false
  let unmounting = false
  let watch: NodeJS.Timeout | undefined
  const detached = new Promise<void>(resolve => {
    let looking = false
    watch = setInterval(() => {
      if (looking || unmounting || released) return
      looking = true
      present().then(there => {
        looking = false
        if (there || unmounting || released) return
        clearInterval(watch)
        resolve()
      }, () => { looking = false })
    }, DETACH_CHECK_MS)
    watch.unref()
  })
  const release = () => {
    if (released) return
    released = true
    clearInterval(watch)
    stopAnswers()
    binding.fuse_native_unmount(mountpoint, fuse._thread) // lets the event loop end
  }

  let queue: Promise<unknown> = Promise.resolve()
  return {
    mountpoint,
    detached,
    bindingCounters: () => fuse.answers.counters(),
    unmount({ lazy = true } = {}) {
      const attempt = queue.then(async () => {
        if (released) return
        unmounting = true
        try {
          if (await present()) await detach(mountpoint, lazy, present)
          release()
        } finally {
          unmounting = false
        }
      })
      queue = attempt.catch(() => {})
      return attempt
    },
  }
}

/**
 * Let the binding answer what it can by itself (bindingAnswers.ts): the ACL probes always; the
 * security.* probes and remembered attributes wherever every change of the namespace the file
 * system answers from is heard (onNamespaceChange). For a NameNode's client that is its copy of the
 * namespace: what the binding answers is then exactly what the file system would answer from that
 * copy. Returns the way to stop listening.
 */
function answerInBinding(fuse: DfsFuse, fs: FileSystem, opts: MountOptions): () => void {
  fuse.answers.set({ aclProbes: true })
  if (!opts.onNamespaceChange) return () => {}
  const stop = opts.onNamespaceChange(record => {
    fs.namespaceChanged(record)
    fuse.answers.invalidate()
  })
  fs.watchSecurityXattrs(present => fuse.answers.set({ securityXattrs: present }))
  fuse.answers.set({ attrCache: true })
  return stop
}

/** `fusermount -u[z]` (umount [-l] where there is no fusermount). A busy mount stays: MOUNT_BUSY. */
async function detach(mountpoint: string, lazy: boolean, present: () => Promise<boolean>): Promise<void> {
  const attempt = (cmd: string, args: string[]) => new Promise<{ code?: string | number; text: string } | null>(done => {
    execFile(cmd, args, { env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      done(err ? { code: (err as NodeJS.ErrnoException).code, text: `${stderr}`.trim() || err.message } : null)
    })
  })
  let failed = await attempt('fusermount', [lazy ? '-uz' : '-u', mountpoint])
  if (failed?.code === 'ENOENT') failed = await attempt('umount', lazy ? ['-l', mountpoint] : [mountpoint])
  if (!failed) return
  if (/busy/i.test(failed.text)) throw dfsError('MOUNT_BUSY', `${mountpoint} is in use`, { mountpoint })
  if (!(await present())) return // unmounted from outside meanwhile
  throw dfsError('EIO', `cannot unmount ${mountpoint}: ${failed.text}`, { mountpoint })
}
