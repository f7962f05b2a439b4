// Where dfs cannot behave as the native disk does, because the kernel's FUSE layer, libfuse 2 or
// the Node binding stands in the way. Every entry names the cases it covers, says why, and says
// exactly what dfs does instead: the conformance suite then asserts that behaviour for those cases
// (and that it really differs from native, so a stale entry fails). Nothing is skipped.

import { createRequire } from 'node:module'
import { REPO_ROOT } from '../helpers/mount.js'
import type { Case, CaseResult } from './runner.js'

/** What the fuse-native binding the daemon loads can do (dfs's patch sets this; see native-notes/). */
export interface BindingFeatures {
  bytePaths?: boolean
  utimeOmit?: boolean
  signedTimes?: boolean
}

export const BINDING_FEATURES: BindingFeatures =
  createRequire(`${REPO_ROOT}/package.json`)('fuse-native').dfsFeatures ?? {}

export interface KnownDifference {
  name: string
  /** Case ids this covers. */
  match: RegExp
  /** Only with a binding like this (a difference a newer binding removes). */
  when?: (binding: BindingFeatures) => boolean
  reason: string
  /**
   * What dfs is documented to give, said as "dfs behaves as this other case does on the native
   * disk": the twin runs natively and its result, with its watched names renamed back by `keys`
   * (twin name -> the case's names), is the expectation.
   */
  twin?: (c: Case) => { twin: Case; keys: Record<string, string[]> }
  /** Or: from the native result, what dfs is documented to give. */
  dfs?: (native: CaseResult, c: Case) => CaseResult
}

/** Set one stat field of the watched names in every round (the documented dfs value). */
function setStat(r: CaseResult, names: string[], field: string, value: unknown, rounds?: number[]): CaseResult {
  r.rounds.forEach((round, i) => {
    if (rounds && !rounds.includes(i)) return
    for (const name of names) {
      const entry = round.stat[name]
      if (entry && typeof entry === 'object') (entry as Record<string, unknown>)[field] = value
    }
  })
  return r
}

/** A twin in which the case's first operation is refused with this errno and changes nothing. */
function refused(errno: string): NonNullable<KnownDifference['twin']> {
  return c => {
    const keys = Object.fromEntries((c.watch ?? []).map(w => [w, [w]]))
    const rounds = c.rounds.map((r, i) => (i === 0 ? { ...r, ops: [`fail('${errno}')`, ...r.ops.slice(1)] } : r))
    return { twin: { ...c, id: `twin:${c.id}`, rounds }, keys }
  }
}

export const KNOWN_DIFFERENCES: KnownDifference[] = [
  {
    name: 'chown without ids leaves ctime',
    match: /^ownership\/chown\/.*\/-1:-1$|^ownership\/chown-clears\/(dir\/.*|reg\/0o27(45|00))\/(root|owner)-none$/,
    reason:
      'chown(path, -1, -1) moves ctime on Linux. The kernel passes FUSE a SETATTR with nothing in it (it only ' +
      'carries a mode when setuid/setgid must be cleared), and libfuse 2\'s high-level API answers that without ' +
      'calling any handler, so dfs never hears of the call: ctime stays.',
    dfs: r => setStat(r, ['x'], 'c', 'same'),
  },
  {
    name: 'write and truncate keep setgid without group execute',
    match: /^permissions\/write-clears-suid\/0o2767\/nobody\/(write|append|truncate|o_trunc)$/,
    reason:
      'A write or truncate by a user outside the file\'s group drops setgid on Linux even without group execute ' +
      '(setattr_should_drop_sgid). The kernel\'s FUSE layer applies its own, older rule (only when group-executable) ' +
      'and sends no mode change; dfs cannot apply the rule itself, since FUSE tells it the caller\'s fsgid but not ' +
      'its supplementary groups. dfs keeps the setgid bit there (setuid, and setgid with group execute, are cleared).',
    dfs: r => setStat(r, ['x'], 'mode', '0o2767'),
  },
  {
    name: 'utimensat with one time omitted does nothing',
    match: /^times\/utimensat-(omit-atime|omit-mtime|now-omit|omit-now)\//,
    when: binding => !binding.utimeOmit,
    reason:
      'utimensat(2) setting one time and passing UTIME_OMIT for the other (touch -m, touch -a, tar x) reaches ' +
      'FUSE as a SETATTR with only that time, and libfuse 2\'s high-level API calls utimens only when both times ' +
      'are given, unless the file system declares flag_utime_omit_ok, which fuse-native does not. So dfs never ' +
      'hears of the call: both times and ctime stay as they were. dfs handles UTIME_OMIT already (mount.ts); a ' +
      'binding that sets flag_utime_omit_ok and passes UTIME_OMIT through (Fuse.dfsFeatures.utimeOmit) removes this.',
    dfs: (r, c) => {
      setStat(r, ['x'], 'a', 'same')
      setStat(r, ['x'], 'm', 'same')
      setStat(r, ['x'], 'c', 'same')
      // secs('x') reads back the times the case set first, untouched.
      if (/omit-(atime|mtime)\//.test(c.id)) r.rounds[0]!.results[1] = [1000000000, 1100000000]
      return r
    },
  },
  {
    name: 'times kept to the millisecond',
    match: /^times\/utime-ns\//,
    reason:
      'fuse-native carries times between the kernel and JavaScript as milliseconds, both ways, so the ' +
      'nanoseconds below a millisecond are lost: dfs keeps 1000000000.123456789 s as 1000000000.123 s.',
    dfs: r => {
      r.rounds[0]!.results[1] = (r.rounds[0]!.results[1] as number[]).map(ns => Math.floor(ns / 1e6) * 1e6)
      return r
    },
  },
  {
    name: 'times before 1970 become the epoch',
    match: /^times\/utime-explicit-negative\//,
    when: binding => !binding.signedTimes,
    reason:
      'fuse-native carries times as unsigned milliseconds in both directions (utimens and stat), so a time ' +
      'before 1970 cannot reach dfs or be reported back; dfs stores such a time as 0 (1970-01-01T00:00:00Z). A ' +
      'binding that reads stat times as signed (Fuse.dfsFeatures.signedTimes) removes this; dfs is ready for it.',
    dfs: r => {
      r.rounds[0]!.results[1] = [0, 0]
      return r
    },
  },
  {
    name: 'reading an empty file leaves atime',
    match: /^times\/read-empty\//,
    reason:
      'dfs moves atime on reads as relatime does, but only for reads that reach it: the kernel answers a read ' +
      'at or past the end of file (so any read of an empty file) from the size it already has, without asking ' +
      'the file system. Linux moves atime there; dfs cannot see it happen.',
    dfs: r => setStat(r, ['x'], 'a', 'same', [1]),
  },
  {
    name: 'FIFO reads and writes leave its times',
    match: /^special\/fifo-roundtrip\//,
    reason:
      'Data through a FIFO never reaches the file system: the kernel moves it, and moves the FIFO\'s atime, mtime and ' +
      'ctime in its own copy of the inode. On ext4 that copy is the inode; on FUSE it is a cache that the next stat ' +
      'replaces with what dfs says (attr_timeout=0), and dfs was never told. So the FIFO\'s times stay.',
    dfs: r => {
      for (const t of ['a', 'm', 'c']) setStat(r, ['p'], t, 'same')
      return r
    },
  },
  {
    name: 'device nodes do not open devices (nodev)',
    match: /^special\/device-open\//,
    reason:
      'dfs mounts with nodev, libfuse\'s default for a FUSE mount and the safe choice for a file system shared ' +
      'across machines: device nodes are kept (type, mode, owner, rdev, links, renames all exact) but opening one ' +
      'is refused with EACCES, as on any nodev mount, instead of opening the device it names.',
    dfs: r => {
      r.rounds[0]!.results = ['EACCES', 'EACCES']
      r.rounds[1]!.results = ['EACCES']
      return r
    },
  },
  {
    name: 'setuid programs run as their caller (nosuid)',
    match: /^special\/setuid-exec\//,
    reason:
      'dfs mounts with nosuid, libfuse\'s default: the setuid and setgid bits are stored and shown exactly, but ' +
      'executing such a program does not change its user or group, as on any nosuid mount.',
    dfs: r => {
      r.rounds[0]!.results = ['65534']
      return r
    },
  },
  {
    name: 'an open file whose folder is gone cannot be reached',
    match: /^links\/(unlinked-while-open-leaves-no-name|opened-name-and-its-folder-removed)$/,
    reason:
      'libfuse 2 reaches an open file by the path it was opened by. When that name is unlinked or renamed over, ' +
      'libfuse renames the file to a hidden name in the same folder (dfs takes that as the unlink it stands for: ' +
      'no name in listings, nlink exact, the folder can be removed); but once that folder is removed libfuse has ' +
      'no path left for the file, and reads and fstat through the descriptor fail with ENOENT before dfs is ' +
      'asked, even if the file has other names (flag_nullpath_ok in the binding was tried: it does not help). ' +
      'Closing works, and the file is intact under any other name.',
    dfs: (r, c) => {
      const [read, fstat] = c.id.endsWith('opened-name-and-its-folder-removed') ? [3, 4] : [4, 5]
      r.rounds[0]!.results[read] = 'ENOENT'
      r.rounds[0]!.results[fstat] = 'ENOENT'
      return r
    },
  },
  {
    name: 'each name of a hard link has its own page cache',
    match: /^links\/page-cache-per-name$/,
    reason:
      'libfuse 2\'s high-level API gives every name of a hard link its own kernel inode, and so its own page ' +
      'cache. A descriptor open through one name keeps reading the pages it has cached after a write through ' +
      'another name changed them (until it is reopened: every open drops the cache, so cp, cat and any fresh ' +
      'read see the new bytes). dfs itself holds one copy; nlink, mode and size stay coherent (attr_timeout=0).',
    dfs: r => {
      r.rounds[0]!.results[3] = r.rounds[0]!.results[1]
      return r
    },
  },
  {
    name: 'names that are not UTF-8 are decoded lossily',
    match: /^names\/(bytes\/(byte-ff|bytes-fe-ff|byte-80|latin1-cafe|invalid-utf8-c328|truncated-utf8|surrogate-utf8|overlong-slash|distinct-invalid)|length\/bytes-255\/.*|length\/bytes-256\/symlink-target)$/,
    when: binding => !binding.bytePaths,
    reason:
      'fuse-native hands paths to JavaScript with napi_create_string_utf8, which replaces every byte sequence ' +
      'that is not UTF-8 with U+FFFD before dfs sees it. So dfs behaves as if each such sequence had been U+FFFD ' +
      '(3 bytes): names that differ only there are one name, listings show the replacement, long names of such ' +
      'bytes exceed 255 bytes. dfs stores any byte exactly (src/meta/namespace/names.ts); a binding that passes ' +
      'paths byte for byte (latin1, Fuse.dfsFeatures.bytePaths) removes this.',
    twin: c => {
      const keys: Record<string, string[]> = {}
      // Everything the case does with the bytes replaced: python sees U+FFFD's UTF-8 where dfs got it.
      const lossy = (hexBytes: string) => Buffer.from(Buffer.from(hexBytes, 'hex').toString('utf8'), 'utf8')
      const rewrite = (s: string) => s.replace(/N\('([0-9a-f]*)'\)/g, (_m, h: string) => `N('${lossy(h).toString('hex')}')`)
      const watch = (c.watch ?? []).map(w => {
        const b = w.startsWith('hex:') ? Buffer.from(w.slice(4), 'hex') : Buffer.from(w, 'utf8')
        const shown = lossy(b.toString('hex')).toString('utf8')
        ;(keys[shown] ??= []).push(w)
        return shown
      })
      return {
        twin: { ...c, id: `twin:${c.id}`, setup: c.setup?.map(rewrite), rounds: c.rounds.map(r => ({ ...r, ops: r.ops.map(rewrite) })), watch },
        keys,
      }
    },
  },
  {
    name: 'renameat2 flags are refused',
    match: /^misc\/rename-(noreplace-free|exchange|exchange-dirs)$/,
    reason:
      'libfuse 2\'s high-level API has no rename flags: the kernel\'s RENAME2 request (RENAME_NOREPLACE, ' +
      'RENAME_EXCHANGE) is answered ENOSYS, and the kernel then returns EINVAL for any flag. RENAME_NOREPLACE onto ' +
      'an existing name still fails EEXIST as on Linux (the kernel checks that itself). Tools fall back to rename(2) ' +
      '(mv, for one).',
    twin: refused('EINVAL'),
  },
  {
    name: 'fallocate is refused',
    match: /^misc\/fallocate(-keep-size)?$/,
    reason:
      'fuse-native has no fallocate handler, so fallocate(2) gets EOPNOTSUPP. posix_fallocate(3), what most programs ' +
      'call, then writes zeros instead and behaves as on Linux (misc/posix-fallocate matches).',
    twin: refused('ENOTSUP'),
  },
  {
    name: 'O_TMPFILE is refused',
    match: /^misc\/o-tmpfile(-linkat)?$/,
    reason:
      'An unnamed temporary file (open with O_TMPFILE) needs FUSE\'s TMPFILE request, which libfuse 2 does not ' +
      'have: the open fails with EOPNOTSUPP, and programs fall back to a named temporary file.',
    twin: refused('ENOTSUP'),
  },
  {
    name: 'SEEK_DATA/SEEK_HOLE see no holes',
    match: /^misc\/seek-data-hole$/,
    reason:
      'fuse-native has no lseek handler, so the kernel answers SEEK_DATA and SEEK_HOLE itself as if the whole file ' +
      'were data: data at 0, the only hole at the end. Sparse files still read back zeros and take no space ' +
      '(st_blocks counts stored chunks); only tools that look for holes this way copy them as data.',
    dfs: r => {
      r.rounds[0]!.results[2] = [0, 1048577]
      return r
    },
  },
  {
    name: 'a directory is always 4096 bytes',
    match: /^misc\/big-directory-size$/,
    reason:
      'A directory\'s st_size is the file system\'s own business (ext4: the blocks its entries take, tmpfs and ' +
      'btrfs count otherwise). dfs reports one block, 4096, as ext4 does for small directories; ext4 grows past ' +
      'that when its entries fill the first block.',
    dfs: r => {
      r.rounds[0]!.results[1] = 4096
      return setStat(r, ['d'], 'size', 4096)
    },
  },
]

/** A twin's result with its watched names renamed back to the case's (several may stand for one). */
export function renamedBack(twin: CaseResult, keys: Record<string, string[]>): CaseResult {
      const r = structuredClone(twin)
  for (const round of r.rounds) {
    const stat: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(round.stat)) {
      for (const name of keys[k] ?? [k]) {
        const entry = structuredClone(v) as { ino?: string } | string
        if (typeof entry === 'object' && entry.ino !== undefined) entry.ino = keys[entry.ino]?.[0] ?? entry.ino
        stat[name] = entry
      }
    }
    round.stat = stat
  }
  return r
}

export function knownDifferenceFor(id: string): KnownDifference | undefined {
  const found = KNOWN_DIFFERENCES.filter(k => k.match.test(id) && (k.when?.(BINDING_FEATURES) ?? true))
  if (found.length > 1) throw new Error(`case ${id} matches several known differences: ${found.map(k => k.name).join(', ')}`)
  return found[0]
}
