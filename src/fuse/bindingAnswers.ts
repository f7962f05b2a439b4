// Requests the patched binding answers itself, on libfuse's thread, without the hop to JavaScript
// (native-notes/README.md, "Answers on the libfuse thread"). Every JavaScript handler runs on the one
// Node thread; an answer given in C costs a small fraction of that. What may be answered there, and
// when a remembered answer must go, is decided here and in the file system; the C side only keeps
// what it is told.
//
// - ACL probes: getxattr of system.posix_acl_* is EOPNOTSUPP (libfuse 2 cannot do ACLs; operations.ts
//   says why dfs refuses them). `ls -l` and every `cp -a` ask.
// - security.* probes: while no security.* attribute exists anywhere in the file system, getxattr of
//   one is ENODATA. The kernel asks security.capability before every write and ls -l asks
//   security.selinux for every file. The file system says when the first one appears (before it is
//   set) and when the last one went (FileSystem.watchSecurityXattrs).
// - Attributes: a getattr answer marked cacheable (a function of the committed namespace alone; an
//   ENOENT too, in a namespace no other client changes), and each such entry of a directory listing,
//   is remembered by path until anything changes: every request that may change something forgets all
//   of them when it starts and when it is answered, and a change made outside a request (the
//   embedded NameNode's commits, the records a NameNode's client takes) is announced with invalidate(). The kernel still
//   asks every time (attr_timeout=0, see mount.ts: hard links and O_APPEND need it); only the trip
//   to JavaScript is saved.

import { createRequire } from 'node:module'
import { dirname } from 'node:path'

const ACL_PROBES = 1
const NO_SECURITY_XATTRS = 2
const ATTR_CACHE = 4

interface NativeAnswers {
  fuse_native_dfs_configure?(thread: Buffer, flags: number): void
  fuse_native_dfs_invalidate?(thread: Buffer): void
  fuse_native_dfs_counters?(thread: Buffer): number[]
  fuse_native_dfs_generation?(thread: Buffer): number
}

const fuseDir = dirname(createRequire(import.meta.url).resolve('fuse-native'))
/** The addon fuse-native loaded (the same instance: node caches it by path). */
const native = createRequire(`${fuseDir}/index.js`)('node-gyp-build')(fuseDir) as NativeAnswers

/** What the binding answered by itself, and how often remembered attributes were dropped (since mount). */
export interface BindingCounters {
  /** getattr answered from a remembered answer. */
  getattrAnswered: number
  /** getattr passed on to JavaScript while remembering was on. */
  getattrPassedOn: number
  /** getxattr answered (ACL and security.* probes). */
  xattrAnswered: number
  /** Times every remembered answer was dropped. */
  invalidations: number
  /** libfuse threads that made a request (libfuse 2 starts and ends them as the load comes and goes). */
  threads: number
  /** Per-thread states the binding made for them: a thread takes the state of one that ended, if any. */
  threadStatesMade: number
}

export interface BindingAnswerSettings {
  /** getxattr of system.posix_acl_*: EOPNOTSUPP. */
  aclProbes: boolean
  /** Some security.* attribute may exist (false: getxattr of one is ENODATA). */
  securityXattrs: boolean
  /** Remember cacheable getattr answers until something changes. */
  attrCache: boolean
}

/** One mount's settings for the binding's own answers. All off until set. */
export class BindingAnswers {
  private settings: BindingAnswerSettings = { aclProbes: false, securityXattrs: true, attrCache: false }

  /** `thread`: fuse-native's native state of the mount (Fuse#_thread), there once it is mounted. */
  constructor(private readonly thread: () => Buffer | null | undefined) {}

  /** Whether the loaded addon has dfs's answers at all (an older patch does not). */
  static get available(): boolean {
    return typeof native.fuse_native_dfs_configure === 'function'
  }

  set(change: Partial<BindingAnswerSettings>): void {
    this.settings = { ...this.settings, ...change }
    const thread = this.thread()
    if (!thread || !BindingAnswers.available) return
    const s = this.settings
    const flags = (s.aclProbes ? ACL_PROBES : 0) | (s.securityXattrs ? 0 : NO_SECURITY_XATTRS) | (s.attrCache ? ATTR_CACHE : 0)
    native.fuse_native_dfs_configure!(thread, flags)
  }

  /** Something changed outside a request: no remembered attribute may be answered from now on. */
  invalidate(): void {
    const thread = this.thread()
    if (thread && this.settings.attrCache) native.fuse_native_dfs_invalidate?.(thread)
  }

  /**
   * The count of changes so far, while attributes are remembered (else undefined). A directory
   * listing made before it is read may be remembered entry by entry if it has not moved by the time
   * the listing reaches the binding.
   */
  generation(): number | undefined {
    const thread = this.thread()
    return thread && this.settings.attrCache ? native.fuse_native_dfs_generation?.(thread) : undefined
  }

  counters(): BindingCounters {
    const thread = this.thread()
    const [getattrAnswered = 0, getattrPassedOn = 0, xattrAnswered = 0, invalidations = 0, threads = 0, threadStatesMade = 0] =
      thread && native.fuse_native_dfs_counters ? native.fuse_native_dfs_counters(thread) : []
    return { getattrAnswered, getattrPassedOn, xattrAnswered, invalidations, threads, threadStatesMade }
  }
}
