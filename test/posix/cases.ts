// The conformance cases, generated from tables: operation x file type x caller x precondition.
// Each case is a few python statements (see driver.py for the helpers: mk, new, wr, rd, opn, ls,
// st, secs, utimensat, run, ...) run in the case's own directory; a bare expression's value (or the
// errno name it raised) is recorded, and a stat snapshot of the watched names follows every round.

import type { Case, Caller } from './runner.js'

/** A python string literal (JSON's escapes are python's too). */
const q = (s: string) => JSON.stringify(s)
/** A python octal literal. */
const o = (n: number) => `0o${n.toString(8)}`
/** A name that is not valid UTF-8, in the driver's "hex:" spelling. */
const hex = (b: Buffer) => `hex:${b.toString('hex')}`

const ROOT = 0
const NOBODY = 65534
const OTHER = 4242
const USERS = 100

const CALLERS: Caller[] = ['root', 'nobody', 'member', 'other']

export type Area = 'ownership' | 'permissions' | 'sticky' | 'times' | 'special' | 'links' | 'names' | 'errors' | 'misc'

/** The kinds of object most tables run over (driver.py's mk() makes each, exactly as asked). */
const KINDS = ['reg', 'dir', 'symlink', 'fifo', 'sock'] as const
type Kind = (typeof KINDS)[number] | 'chr' | 'blk'

const mk = (kind: Kind, name: string, extra: { mode?: number; uid?: number; gid?: number; data?: string } = {}) => {
  const args = [q(kind), q(name)]
  if (extra.mode !== undefined) args.push(`mode=${o(extra.mode)}`)
  if (extra.uid !== undefined) args.push(`uid=${extra.uid}`)
  if (extra.gid !== undefined) args.push(`gid=${extra.gid}`)
  if (extra.data !== undefined) args.push(`data=${extra.data}`)
  return `mk(${args.join(', ')})`
}

// ---- ownership ---------------------------------------------------------------------------------------

function ownership(): Case[] {
  const cases: Case[] = []
  // Who owns what a caller creates, in a plain folder and in setgid folders (one whose group the
  // member is in, one whose group nobody is in), with modes that ask for setuid/setgid.
  const created = ['reg', 'mknod-reg', 'dir', 'symlink', 'fifo', 'sock', 'bound-sock', 'chr', 'blk']
  const parents = [
    { tag: 'plain', dir: { mode: 0o777 } },
    { tag: 'setgid-users', dir: { mode: 0o2777, gid: USERS } },
    { tag: 'setgid-4242', dir: { mode: 0o2777, gid: OTHER } },
  ]
  for (const kind of created) {
    const modes = kind === 'symlink' || kind === 'bound-sock' ? [0] : [0o644, 0o2755, 0o4755, 0o777]
    for (const caller of ['root', 'nobody', 'member'] as Caller[]) {
      for (const parent of parents) {
        for (const mode of modes) {
          const ops = [`new(${q(kind)}, 'x'${mode ? `, ${o(mode)}` : ''})`]
          const watch = ['x']
          // A new folder's own new entries: the setgid bit it inherited passes the group on again.
          if (kind === 'dir') {
            ops.push(`new('reg', 'x/f', 0o644)`, `new('dir', 'x/d', 0o755)`)
            watch.push('x/f', 'x/d')
          }
          cases.push({
            id: `ownership/create/${kind}/${caller}/${parent.tag}${mode ? `/${o(mode)}` : ''}`,
            dir: parent.dir,
            rounds: [{ as: caller, ops }],
            watch,
          })
        }
      }
    }
  }

  // chown/chgrp rules: only root changes the owner; an owner may change the group to one it is in.
  const owners = [
    { tag: 'root', uid: ROOT, gid: ROOT },
    { tag: 'nobody', uid: NOBODY, gid: NOBODY },
    { tag: 'nobody-users', uid: NOBODY, gid: USERS },
  ]
  const changes: [number, number][] = [
    [NOBODY, -1], [ROOT, -1], [OTHER, -1], [-1, USERS], [-1, NOBODY], [-1, ROOT], [-1, -1], [NOBODY, NOBODY], [NOBODY, USERS],
  ]
  for (const kind of ['reg', 'dir', 'symlink', 'fifo'] as Kind[]) {
    for (const own of owners) {
      for (const caller of CALLERS) {
        for (const [uid, gid] of changes) {
          cases.push({
            id: `ownership/chown/${kind}/owner-${own.tag}/${caller}/${uid}:${gid}`,
            setup: [mk(kind, 'x', { mode: kind === 'dir' ? 0o755 : 0o644, uid: own.uid, gid: own.gid })],
            rounds: [{ as: caller, ops: [`os.chown('x', ${uid}, ${gid}, follow_symlinks=False)`] }],
            watch: ['x'],
          })
        }
      }
    }
  }

  // chown clears setuid, and setgid when group-executable, on everything but folders; compare which.
  const special = [0o4755, 0o2755, 0o6755, 0o2745, 0o6711, 0o4700, 0o2700, 0o6777]
  const chowns: { tag: string; caller: Caller; owner: [number, number]; change: [number, number] }[] = [
    { tag: 'root-chown', caller: 'root', owner: [ROOT, ROOT], change: [OTHER, -1] },
    { tag: 'root-chgrp', caller: 'root', owner: [ROOT, ROOT], change: [-1, USERS] },
    { tag: 'root-same', caller: 'root', owner: [ROOT, ROOT], change: [ROOT, ROOT] },
    { tag: 'root-none', caller: 'root', owner: [ROOT, ROOT], change: [-1, -1] },
    { tag: 'member-chgrp', caller: 'member', owner: [NOBODY, NOBODY], change: [-1, USERS] },
    { tag: 'owner-same', caller: 'nobody', owner: [NOBODY, NOBODY], change: [NOBODY, NOBODY] },
    { tag: 'owner-none', caller: 'nobody', owner: [NOBODY, NOBODY], change: [-1, -1] },
  ]
  for (const kind of ['reg', 'dir'] as Kind[]) {
    for (const mode of special) {
      for (const c of chowns) {
        cases.push({
          id: `ownership/chown-clears/${kind}/${o(mode)}/${c.tag}`,
          setup: [mk(kind, 'x', { mode, uid: c.owner[0], gid: c.owner[1] })],
          rounds: [{ as: c.caller, ops: [`os.chown('x', ${c.change[0]}, ${c.change[1]})`] }],
          watch: ['x'],
        })
      }
    }
  }

  // chmod rules: only the owner (or root); setgid dropped when the owner is not in the file's group.
  for (const kind of ['reg', 'dir', 'fifo'] as Kind[]) {
    for (const own of owners) {
      for (const caller of CALLERS) {
        for (const mode of [0o640, 0o2755, 0o4755, 0o1777]) {
          cases.push({
            id: `ownership/chmod/${kind}/owner-${own.tag}/${caller}/${o(mode)}`,
            setup: [mk(kind, 'x', { mode: 0o644, uid: own.uid, gid: own.gid })],
            rounds: [{ as: caller, ops: [`os.chmod('x', ${o(mode)})`] }],
            watch: ['x'],
          })
        }
      }
    }
  }
  // chmod through a symlink changes its target; the link itself keeps 0777.
  cases.push({
    id: 'ownership/chmod/through-symlink',
    setup: [mk('reg', 'x', { mode: 0o644 }), `os.symlink('x', 'l')`],
    rounds: [{ ops: [`os.chmod('l', 0o600)`] }],
    watch: ['x', 'l'],
  })
  return cases
}

// ---- permissions -------------------------------------------------------------------------------------

const SCRIPT = `b'#!/bin/sh\\nexit 7\\n'`

function permissions(): Case[] {
  const cases: Case[] = []
  // A file's mode against each class of caller: read, write, execute, and what needs write (O_TRUNC,
  // truncate, append), all checked by the kernel (default_permissions) from mode, owner and group.
  const owners = [
    { tag: 'root', uid: ROOT, gid: ROOT },
    { tag: 'nobody', uid: NOBODY, gid: NOBODY },
    { tag: 'root-users', uid: ROOT, gid: USERS },
  ]
  const fileModes = [0o000, 0o400, 0o200, 0o100, 0o040, 0o020, 0o010, 0o004, 0o002, 0o001, 0o644, 0o755, 0o070, 0o007, 0o500, 0o4755]
  for (const mode of fileModes) {
    for (const own of owners) {
      for (const caller of CALLERS) {
        cases.push({
          id: `permissions/file/${o(mode)}/owner-${own.tag}/${caller}`,
          setup: [mk('reg', 'x', { mode, uid: own.uid, gid: own.gid, data: SCRIPT }), mk('reg', 'y', { mode, uid: own.uid, gid: own.gid, data: SCRIPT })],
          rounds: [{
            as: caller,
            ops: [
              `rd('x')`, `opn('x', os.O_WRONLY)`, `opn('x', os.O_RDWR)`,
              `os.access('x', os.R_OK)`, `os.access('x', os.W_OK)`, `os.access('x', os.X_OK)`,
              `run('./x')`, `wr('x', b'#!', None, os.O_APPEND)`, `os.truncate('y', 3)`, `opn('y', os.O_WRONLY | os.O_TRUNC)`,
            ],
          }],
          watch: ['x', 'y'],
        })
      }
    }
  }

  // A folder's mode: list (r), reach and use entries (x), add and remove entries (w + x).
  const dirModes = [0o000, 0o100, 0o200, 0o300, 0o400, 0o500, 0o600, 0o700, 0o755, 0o777, 0o070, 0o007, 0o003, 0o005, 0o050]
  for (const mode of dirModes) {
    for (const own of owners) {
      for (const caller of ['nobody', 'member', 'other', 'root'] as Caller[]) {
        cases.push({
          id: `permissions/dir/${o(mode)}/owner-${own.tag}/${caller}`,
          setup: [
            mk('dir', 'd', { uid: own.uid, gid: own.gid }),
            mk('reg', 'd/f', { mode: 0o666, data: "b'data'" }),
            mk('reg', 'd/g', { mode: 0o666 }),
            mk('reg', 'd/h', { mode: 0o666 }),
            mk('dir', 'd/e', { mode: 0o777 }),
            mk('dir', 'd/e2', { mode: 0o777 }),
            mk('dir', 'out', { mode: 0o777 }),
            `os.chmod('d', ${o(mode)})`,
          ],
          rounds: [{
            as: caller,
            ops: [
              `ls('d')`, `st('d/f')`, `rd('d/f')`, `opn('d/new', os.O_CREAT | os.O_WRONLY)`, `os.mkdir('d/newdir')`,
              `os.symlink('f', 'd/sl')`, `os.mkfifo('d/p')`, `os.unlink('d/g')`, `os.rmdir('d/e')`,
              `os.rename('d/h', 'd/h2')`, `os.rename('d/e2', 'out/e2')`, `os.link('d/f', 'out/f')`,
              `os.rename('out', 'd/out')`, `os.chdir('d')`,
            ],
          }],
          watch: ['d', 'd/f', 'd/g', 'd/h', 'd/h2', 'd/e', 'd/e2', 'd/new', 'd/newdir', 'd/sl', 'd/p', 'd/out', 'out', 'out/e2', 'out/f'],
        })
      }
    }
  }

  // Search permission on a folder in the middle of a path.
  for (const mode of [0o000, 0o100, 0o400, 0o600, 0o711]) {
    for (const caller of ['nobody', 'root'] as Caller[]) {
      cases.push({
        id: `permissions/path-search/${o(mode)}/${caller}`,
        setup: [mk('dir', 'a'), mk('dir', 'a/b', { mode: 0o777 }), mk('reg', 'a/b/f', { mode: 0o666, data: "b'x'" }), `os.chmod('a', ${o(mode)})`],
        rounds: [{ as: caller, ops: [`st('a/b/f')`, `rd('a/b/f')`, `wr('a/b/f', b'y', 0)`, `opn('a/b/n', os.O_CREAT | os.O_WRONLY)`, `os.unlink('a/b/f')`] }],
        watch: ['a', 'a/b', 'a/b/f', 'a/b/n'],
      })
    }
  }

  // Write clears setuid and setgid (group-executable) when the writer is not root, as truncate does.
  for (const mode of [0o4777, 0o2777, 0o6777, 0o2767, 0o4766]) {
    for (const caller of ['nobody', 'root'] as Caller[]) {
      for (const [tag, op] of [['write', `wr('x', b'more', 1)`], ['append', `wr('x', b'more', None, os.O_APPEND)`], ['truncate', `os.truncate('x', 1)`], ['o_trunc', `opn('x', os.O_WRONLY | os.O_TRUNC)`], ['open-only', `opn('x', os.O_WRONLY)`]] as const) {
        cases.push({
          id: `permissions/write-clears-suid/${o(mode)}/${caller}/${tag}`,
          setup: [mk('reg', 'x', { mode, data: "b'content'" })],
          rounds: [{ as: caller, ops: [op] }],
          watch: ['x'],
        })
      }
    }
  }
  return cases
}

// ---- sticky folders ----------------------------------------------------------------------------------

function sticky(): Case[] {
  const cases: Case[] = []
  const users = [{ tag: 'root', id: ROOT }, { tag: 'nobody', id: NOBODY }, { tag: 'other', id: OTHER }]
  for (const dirOwner of users) {
    for (const victim of users) {
      for (const caller of ['nobody', 'other', 'root'] as Caller[]) {
        for (const mode of [0o1777, 0o777]) {
          cases.push({
            id: `sticky/${o(mode)}/dir-${dirOwner.tag}/entry-${victim.tag}/${caller}`,
            dir: { mode, uid: dirOwner.id, gid: dirOwner.id },
            setup: [
              ...['f1', 'f2', 'f3', 'f4'].map(n => mk('reg', n, { mode: 0o666, uid: victim.id, gid: victim.id })),
              mk('dir', 'e', { mode: 0o777, uid: victim.id, gid: victim.id }),
              mk('dir', 'e2', { mode: 0o777, uid: victim.id, gid: victim.id }),
              mk('symlink', 'l', { uid: victim.id, gid: victim.id }),
              mk('reg', 'mine', { mode: 0o666, uid: caller === 'root' ? ROOT : caller === 'nobody' ? NOBODY : OTHER, gid: 0 }),
              mk('dir', 'sub', { mode: 0o777 }),
            ],
            rounds: [{
              as: caller,
              ops: [
                `os.unlink('f1')`, `os.rename('f2', 'f2b')`, `os.rename('f3', 'sub/f3')`, `os.rename('mine', 'f4')`,
                `os.rmdir('e')`, `os.rename('e2', 'sub/e2')`, `os.unlink('l')`, `wr('f4', b'w', 0)`,
              ],
            }],
            watch: ['f1', 'f2', 'f2b', 'f3', 'f4', 'e', 'e2', 'l', 'mine', 'sub', 'sub/f3', 'sub/e2'],
          })
        }
      }
    }
  }
  return cases
}

// ---- times -------------------------------------------------------------------------------------------

/** Everything a times case starts from; `x` is the object under test. */
function timesSetup(kind: Kind): string[] {
  return [
    mk('dir', 'd'), mk('reg', 'd/y', { data: "b'why'" }), mk('dir', 'd2'), mk('dir', 'e'),
    kind === 'symlink' ? `os.symlink('d/y', 'x')` : mk(kind, 'x', { mode: kind === 'dir' ? 0o755 : 0o644, data: kind === 'reg' ? "b'hello'" : undefined }),
  ]
}
const TIMES_WATCH = ['x', 'd', 'd/y', 'd2', 'e']

function times(): Case[] {
  const cases: Case[] = []
  const add = (id: string, kind: Kind, rounds: Case['rounds'], extra: { setup?: string[]; watch?: string[] } = {}) =>
    cases.push({ id: `times/${id}/${kind}`, setup: [...timesSetup(kind), ...(extra.setup ?? [])], rounds, watch: [...TIMES_WATCH, ...(extra.watch ?? [])] })
  const nofollow = (kind: Kind) => (kind === 'symlink' ? ', follow_symlinks=False' : '')

  // Attribute changes and time setting, on every kind of object.
  for (const kind of KINDS) {
    const nf = nofollow(kind)
    const f = kind === 'symlink' ? ', follow=False' : ''
    if (kind !== 'symlink') {
      add('chmod', kind, [{ ops: [`os.chmod('x', 0o640)`] }])
      add('chmod-same', kind, [{ ops: [`os.chmod('x', ${kind === 'dir' ? '0o755' : '0o644'})`] }])
    }
    add('chown-same', kind, [{ ops: [`os.chown('x', 0, 0${nf})`] }])
    add('chown-new', kind, [{ ops: [`os.chown('x', 4242, -1${nf})`] }])
    add('chgrp-new', kind, [{ ops: [`os.chown('x', -1, 100${nf})`] }])
    add('utime-explicit', kind, [{ ops: [`os.utime('x', (1000000000, 1200000000)${nf})`, `secs('x')`] }])
    add('utime-explicit-old', kind, [{ ops: [`os.utime('x', (86400, 0)${nf})`, `secs('x')`] }])
    add('utime-explicit-2100', kind, [{ ops: [`os.utime('x', (4102444800, 4102444801)${nf})`, `secs('x')`] }])
    add('utime-explicit-negative', kind, [{ ops: [`os.utime('x', (-1000000000, -1)${nf})`, `secs('x')`] }])
    add('utime-now', kind, [{ ops: [`os.utime('x'${nf})`] }])
    add('utime-now-twice', kind, [{ ops: [`os.utime('x', (1000000000, 1200000000)${nf})`] }, { ops: [`os.utime('x'${nf})`, `secs('x')[0] > 1600000000`] }])
    add('utime-ns', kind, [{ ops: [`os.utime('x', ns=(1000000000123456789, 1200000000987654321)${nf})`, `nsecs('x')`] }])
    add('utime-ms', kind, [{ ops: [`os.utime('x', ns=(1000000000123000000, 1200000000987000000)${nf})`, `nsecs('x')`] }])
    // utimensat(2) setting one time and leaving (UTIME_OMIT) the other, from known times.
    const known = { setup: [`os.utime('x', (1000000000, 1100000000)${nf})`] }
    add('utimensat-omit-atime', kind, [{ ops: [`utimensat('x', 'omit', 1200000000${f})`, `secs('x')`] }], known)
    add('utimensat-omit-mtime', kind, [{ ops: [`utimensat('x', 1200000000, 'omit'${f})`, `secs('x')`] }], known)
    add('utimensat-now-omit', kind, [{ ops: [`utimensat('x', 'now', 'omit'${f})`, `secs('x')[1]`] }], known)
    add('utimensat-omit-now', kind, [{ ops: [`utimensat('x', 'omit', 'now'${f})`, `secs('x')[0]`] }], known)
    add('utimensat-omit-omit', kind, [{ ops: [`utimensat('x', 'omit', 'omit'${f})`, `secs('x')`] }], known)
    add('utimensat-explicit-now', kind, [{ ops: [`utimensat('x', 1200000000, 'now'${f})`, `secs('x')[0]`] }], known)
    add('utimensat-now-now', kind, [{ ops: [`utimensat('x', 'now', 'now'${f})`] }])
    add('stat-access', kind, [{ ops: [`st('x')`, `os.access('x', os.F_OK${kind === 'symlink' ? ', follow_symlinks=False' : ''})`] }])
    if (kind === 'reg' || kind === 'dir') {
      add('setxattr', kind, [{ ops: [`os.setxattr('x', 'user.a', b'1')`, `os.getxattr('x', 'user.a')`] }])
      add('removexattr', kind, [{ ops: [`os.removexattr('x', 'user.b')`, `os.listxattr('x')`] }], { setup: [`os.setxattr('x', 'user.b', b'2')`] })
    } else {
      add('setxattr-refused', kind, [{ ops: [`os.setxattr('x', 'user.a', b'1', follow_symlinks=False)`] }])
    }

    // Names: the object itself (ctime) and the folders around it (mtime, ctime, nlink).
    add('rename-same-dir', kind, [{ ops: [`os.rename('x', 'x2')`] }], { watch: ['x2'] })
    add('rename-cross-dir', kind, [{ ops: [`os.rename('x', 'd2/x')`] }], { watch: ['d2/x'] })
    add('rename-to-itself', kind, [{ ops: [`os.rename('x', 'x')`] }])
    if (kind === 'dir') {
      add('rename-over-empty-dir', kind, [{ ops: [`os.rename('x', 'e')`] }])
      add('rename-dir-up-and-back', kind, [{ ops: [`os.rename('x', 'd/x')`] }, { ops: [`os.rename('d/x', 'x')`] }], { watch: ['d/x'] })
      add('rename-nonempty-dir', kind, [{ ops: [`os.rename('d', 'd2/d')`] }], { watch: ['d2/d', 'd2/d/y'] })
    } else {
      // The file renamed over keeps a second name, so what happens to it stays visible.
      add('rename-over-file', kind, [{ ops: [`os.rename('x', 'd/y')`] }], { setup: [`os.link('d/y', 'keep')`], watch: ['keep'] })
      add('link', kind, [{ ops: [`os.link('x', 'd2/x')`] }], { watch: ['d2/x'] })
      add('link-then-unlink', kind, [{ ops: [`os.link('x', 'd2/x')`] }, { ops: [`os.unlink('x')`] }], { watch: ['d2/x'] })
      add('unlink-one-of-two', kind, [{ ops: [`os.unlink('x')`] }], { setup: [`os.link('x', 'd2/l')`], watch: ['d2/l'] })
    }
  }

  // Contents of a regular file.
  const reg: [string, string[]][] = [
    ['write', [`wr('x', b'abc', 0)`]],
    ['write-append', [`wr('x', b'abc', None, os.O_APPEND)`]],
    ['write-nothing', [`wr('x', b'', 0)`]],
    ['write-extend-hole', [`wr('x', b'z', 200000)`]],
    ['write-then-read', [`wr('x', b'abc', 0)`, `rd('x')`]],
    ['truncate-shrink', [`os.truncate('x', 2)`]],
    ['truncate-same', [`os.truncate('x', 5)`]],
    ['truncate-grow', [`os.truncate('x', 100000)`]],
    ['ftruncate-same', [`fd = os.open('x', os.O_RDWR)`, `os.ftruncate(fd, 5)`, `os.close(fd)`]],
    ['ftruncate-shrink', [`fd = os.open('x', os.O_RDWR)`, `os.ftruncate(fd, 1)`, `os.fstat(fd).st_size`, `os.close(fd)`]],
    ['open-trunc', [`opn('x', os.O_WRONLY | os.O_TRUNC)`]],
    ['open-trunc-empty', [`opn('x', os.O_WRONLY | os.O_TRUNC)`, `opn('x', os.O_WRONLY | os.O_TRUNC)`]],
    ['open-readonly', [`opn('x', os.O_RDONLY)`]],
    ['open-write-no-write', [`opn('x', os.O_WRONLY)`]],
    ['open-creat-existing', [`opn('x', os.O_WRONLY | os.O_CREAT)`]],
    ['fsync', [`fd = os.open('x', os.O_RDWR)`, `os.fsync(fd)`, `os.close(fd)`]],
    ['read', [`rd('x')`]],
    ['read-noatime', [`fd = os.open('x', os.O_RDONLY | os.O_NOATIME)`, `os.read(fd, 100)`, `os.close(fd)`]],
    ['write-via-fd-then-fstat', [`fd = os.open('x', os.O_RDWR)`, `os.write(fd, b'0123456789')`, `os.fstat(fd).st_size`, `os.close(fd)`]],
  ]
  for (const [id, ops] of reg) add(id, 'reg', [{ ops }])
  add('read-twice', 'reg', [{ ops: [`rd('x')`] }, { ops: [`rd('x')`] }])
  add('read-after-utime-past', 'reg', [{ ops: [`os.utime('x', (1000000000, 900000000))`] }, { ops: [`rd('x')`] }])
  add('read-after-utime-future', 'reg', [{ ops: [`os.utime('x', (4102444800, 900000000))`] }, { ops: [`rd('x')`, `secs('x')`] }])
  add('read-empty', 'reg', [{ ops: [`opn('x', os.O_WRONLY | os.O_TRUNC)`] }, { ops: [`rd('x')`] }])
  add('exec', 'reg', [{ ops: [`wr('x', b'#!/bin/sh\\nexit 3\\n', 0)`, `os.chmod('x', 0o755)`] }, { ops: [`run('./x')`] }])

  // The same changes while the file is open (dfs keeps an open file's size and times apart).
  const whileOpen: [string, string[]][] = [
    ['link', [`os.link('x', 'd2/x')`]],
    ['unlink-other-name', [`os.unlink('d2/l')`]],
    ['rename', [`os.rename('x', 'd2/x')`]],
    ['rename-over-other', [`os.rename('d/y', 'x')`]],
    ['chmod', [`os.chmod('x', 0o600)`]],
    ['setxattr', [`os.setxattr('x', 'user.o', b'1')`]],
    ['write-then-link', [`os.write(fd, b'w')`, `os.link('x', 'd2/x')`]],
    ['link-then-write', [`os.link('x', 'd2/x')`, `os.write(fd, b'w')`]],
    ['utime', [`os.utime('x', (1000000000, 1100000000))`, `secs('x')`]],
  ]
  for (const [id, ops] of whileOpen) {
    add(`while-open-${id}`, 'reg', [
      { ops: [`fd = os.open('x', os.O_RDWR)`, ...ops, `os.close(fd)`] },
      { ops: [`fd = os.open('x' if os.path.exists('x') else 'd2/x', os.O_RDWR)`, `os.fsync(fd)`, `os.close(fd)`] },
    ], { setup: [`os.link('x', 'd2/l')`], watch: ['d2/x', 'd2/l'] })
  }

  // Folders: what their entries changing does to them.
  const dir: [string, string[], string[]][] = [
    ['mkdir', [`os.mkdir('d/new')`], ['d/new']],
    ['rmdir', [`os.rmdir('e')`], []],
    ['create', [`opn('d/new', os.O_CREAT | os.O_WRONLY)`], ['d/new']],
    ['mknod-fifo', [`os.mkfifo('d/p')`], ['d/p']],
    ['symlink', [`os.symlink('y', 'd/s')`], ['d/s']],
    ['unlink', [`os.unlink('d/y')`], []],
    ['rename-between-dirs', [`os.rename('d/y', 'd2/y')`], ['d2/y']],
    ['rename-within-dir', [`os.rename('d/y', 'd/z')`], ['d/z']],
    ['link-between-dirs', [`os.link('d/y', 'd2/y')`], ['d2/y']],
    ['readdir', [`ls('d')`], []],
    ['open-dir', [`os.close(os.open('d', os.O_RDONLY | os.O_DIRECTORY))`], []],
    ['write-in-dir-file', [`wr('d/y', b'more', None, os.O_APPEND)`], []],
  ]
  for (const [id, ops, watch] of dir) add(`dir-${id}`, 'dir', [{ ops }], { watch })
  add('dir-readdir-twice', 'dir', [{ ops: [`ls('d')`] }, { ops: [`ls('d')`] }])
  add('dir-readdir-after-create', 'dir', [{ ops: [`ls('d')`] }, { ops: [`opn('d/n', os.O_CREAT | os.O_WRONLY)`] }, { ops: [`ls('d')`] }], { watch: ['d/n'] })

  // Symlinks: reading one, and following it.
  add('symlink-readlink', 'symlink', [{ ops: [`os.readlink('x')`] }])
  add('symlink-follow', 'symlink', [{ ops: [`st('x', True)`] }])
  add('symlink-follow-twice', 'symlink', [{ ops: [`st('x', True)`] }, { ops: [`os.readlink('x')`] }])
  return cases
}

// ---- special files -------------------------------------------------------------------------------------

function special(): Case[] {
  const cases: Case[] = []
  // Device numbers round the edges of the encoding: major 12 bits, minor 20 bits.
  const rdevs: [number, number][] = [[0, 0], [1, 3], [8, 1], [255, 255], [256, 0], [259, 65536], [4095, 1048575]]
  for (const type of ['chr', 'blk']) {
    for (const [major, minor] of rdevs) {
      cases.push({
        id: `special/mknod/${type}/${major},${minor}`,
        rounds: [{ ops: [
          `os.mknod('n', 0o640 | stat.S_IF${type.toUpperCase()}, os.makedev(${major}, ${minor}))`,
          `[os.major(os.lstat('n').st_rdev), os.minor(os.lstat('n').st_rdev)]`,
        ] }],
        watch: ['n'],
      })
    }
    // Only root makes device nodes.
    cases.push({ id: `special/mknod/${type}/as-nobody`, rounds: [{ as: 'nobody', ops: [`os.mknod('n', 0o640 | stat.S_IF${type.toUpperCase()}, os.makedev(1, 3))`] }], watch: ['n'] })
  }
  // Every special kind, made by root and by a user, then renamed, linked, chmod'ed and removed.
  const kinds: [string, string][] = [
    ['fifo', `os.mkfifo('n', 0o666)`],
    ['sock-mknod', `os.mknod('n', 0o666 | stat.S_IFSOCK)`],
    ['sock-bind', `new('bound-sock', 'n')`],
    ['chr', `os.mknod('n', 0o666 | stat.S_IFCHR, os.makedev(1, 7))`],
    ['blk', `os.mknod('n', 0o666 | stat.S_IFBLK, os.makedev(7, 1))`],
  ]
  for (const [kind, make] of kinds) {
    for (const caller of ['root', 'nobody'] as Caller[]) {
      if ((kind === 'chr' || kind === 'blk') && caller !== 'root') continue
      cases.push({
        id: `special/lifecycle/${kind}/${caller}`,
        setup: [mk('dir', 'd', { mode: 0o777 })],
        rounds: [
          { as: caller, ops: [make] },
          { as: caller, ops: [`os.rename('n', 'd/n2')`] },
          { as: caller, ops: [`os.link('d/n2', 'n3')`, `os.chmod('n3', 0o600)`] },
          { as: caller, ops: [`os.unlink('d/n2')`, `os.rename('n3', 'n4')`] },
          { as: caller, ops: [`os.unlink('n4')`] },
        ],
        watch: ['n', 'd', 'd/n2', 'n3', 'n4'],
      })
    }
  }
  // They work as what they are: a FIFO passes bytes, a socket accepts a connection.
  for (const caller of ['root', 'nobody'] as Caller[]) {
    cases.push({ id: `special/fifo-roundtrip/${caller}`, setup: [`os.mkfifo('p'); os.chmod('p', 0o666)`], rounds: [{ as: caller, ops: [`fifo_roundtrip('p')`] }], watch: ['p'] })
    cases.push({ id: `special/socket-roundtrip/${caller}`, rounds: [{ as: caller, ops: [`sock_roundtrip('s')`] }], watch: ['s'] })
    cases.push({ id: `special/fifo-open-only/${caller}`, setup: [`os.mkfifo('p'); os.chmod('p', 0o666)`], rounds: [{ as: caller, ops: [`os.close(os.open('p', os.O_RDONLY | os.O_NONBLOCK))`] }], watch: ['p'] })
    cases.push({ id: `special/socket-bind-existing/${caller}`, setup: [`os.mkfifo('s', 0o666)`], rounds: [{ as: caller, ops: [`new('bound-sock', 's')`] }], watch: ['s'] })
  }
  // What is not a regular file cannot be truncated, read as a link, or hold user xattrs.
  for (const [kind, make] of kinds) {
    cases.push({
      id: `special/misuse/${kind}`,
      setup: [make],
      rounds: [{ ops: [`os.truncate('n', 0)`, `os.readlink('n')`, `os.setxattr('n', 'user.a', b'1')`, `os.listdir('n')`, `os.rmdir('n')`] }],
      watch: ['n'],
    })
  }
  // A device node opens the device it names (native), or not at all (dfs: nodev, see knownDifferences).
  cases.push({
    id: 'special/device-open/chr-null',
    setup: [`os.mknod('null', 0o666 | stat.S_IFCHR, os.makedev(1, 3))`],
    rounds: [{ ops: [`rd('null', 10)`, `wr('null', b'x')`] }, { as: 'nobody', ops: [`rd('null', 10)`] }],
    watch: ['null'],
  })
  // A setuid program runs as its owner (native), or as its caller (dfs: nosuid, see knownDifferences).
  cases.push({
    id: 'special/setuid-exec/id',
    setup: [`mk('reg', 'id', mode=0o4755, data=open('/usr/bin/id', 'rb').read())`],
    rounds: [{ as: 'nobody', ops: [`out('./id', '-u')`] }],
    watch: ['id'],
  })
  return cases
}

// ---- hard links ----------------------------------------------------------------------------------------

function links(): Case[] {
  const cases: Case[] = []
  const kinds: Kind[] = ['reg', 'fifo', 'sock', 'symlink', 'chr']
  const w = ['x', 'l1', 'l2', 'd', 'd/l3']
  for (const kind of kinds) {
    const setup = [mk(kind, 'x', { mode: kind === 'symlink' ? undefined : 0o644, data: kind === 'reg' ? "b'content'" : undefined }), mk('dir', 'd')]
    const link = (from: string, to: string) => `os.link('${from}', '${to}', follow_symlinks=False)`
    const add = (id: string, rounds: Case['rounds']) => cases.push({ id: `links/${kind}/${id}`, setup, rounds, watch: w })
    add('three-names', [{ ops: [link('x', 'l1'), link('l1', 'l2'), link('x', 'd/l3')] }])
    add('chmod-through-another', [{ ops: [link('x', 'l1')] }, { ops: kind === 'symlink' ? [`os.chown('l1', 4242, 100, follow_symlinks=False)`] : [`os.chmod('l1', 0o600)`] }])
    add('chown-through-another', [{ ops: [link('x', 'l1')] }, { ops: [`os.chown('l1', 4242, 100, follow_symlinks=False)`] }])
    add('utime-through-another', [{ ops: [link('x', 'l1')] }, { ops: [`os.utime('l1', (1000000000, 1100000000), follow_symlinks=False)`, `secs('x')`] }])
    add('unlink-first-name', [{ ops: [link('x', 'l1'), link('x', 'd/l3')] }, { ops: [`os.unlink('x')`] }, { ops: [`os.unlink('d/l3')`] }])
    add('rename-name-over-same-inode', [{ ops: [link('x', 'l1')] }, { ops: [`os.rename('l1', 'x')`] }])
    add('rename-other-name-away', [{ ops: [link('x', 'l1')] }, { ops: [`os.rename('l1', 'd/l3')`] }])
    add('link-to-existing-name', [{ ops: [link('x', 'l1'), link('x', 'l1'), link('x', 'd')] }])
    add('link-as-nobody', [{ as: 'nobody', ops: [link('x', 'l1')] }])
  }
  // Hard links of directories are refused, and bad names give their usual errors.
  cases.push({
    id: 'links/errors',
    setup: [mk('dir', 'd'), mk('reg', 'f')],
    rounds: [{ ops: [`os.link('d', 'l1')`, `os.link('missing', 'l1')`, `os.link('f', 'missing/l1')`, `os.link('f', 'f/l1')`, `os.link('f', 'd/')`, `os.link('f/', 'l2')`] }],
    watch: ['l1', 'l2'],
  })
  // link(2) to a symlink links the symlink itself; linkat with AT_SYMLINK_FOLLOW links its target.
  cases.push({
    id: 'links/symlink-follow-or-not',
    setup: [mk('reg', 'f'), `os.symlink('f', 's')`],
    rounds: [{ ops: [`os.link('s', 'nofollow', follow_symlinks=False)`, `os.link('s', 'follow', follow_symlinks=True)`] }],
    watch: ['f', 's', 'nofollow', 'follow'],
  })
  // protected_hardlinks: a user may link only files it owns or could read and write.
  for (const [tag, mode, owner] of [['own', 0o644, NOBODY], ['root-0644', 0o644, ROOT], ['root-0666', 0o666, ROOT], ['root-4755', 0o4755, ROOT], ['root-2775', 0o2775, ROOT], ['root-0600', 0o600, ROOT]] as const) {
    cases.push({ id: `links/protected/${tag}`, setup: [mk('reg', 'f', { mode, uid: owner, gid: owner })], rounds: [{ as: 'nobody', ops: [`os.link('f', 'l')`] }], watch: ['f', 'l'] })
  }
  // Content through one name, seen through the other: write, append, truncate.
  cases.push({
    id: 'links/content-through-names',
    setup: [mk('reg', 'x', { data: "b'0123456789'" }), `os.link('x', 'l')`],
    rounds: [
      { ops: [`wr('l', b'abc', 2)`, `rd('x')`] },
      { ops: [`wr('l', b'END', None, os.O_APPEND)`, `wr('x', b'!', None, os.O_APPEND)`, `rd('l')`] },
      { ops: [`os.truncate('x', 4)`, `rd('l')`, `os.stat('l').st_size`] },
    ],
    watch: ['x', 'l'],
  })
  // An open file outlives its names; fstat shows nlink 0.
  cases.push({
    id: 'links/open-after-last-unlink',
    setup: [mk('reg', 'x', { data: "b'kept'" }), `os.link('x', 'l')`],
    rounds: [{ ops: [`fd = os.open('x', os.O_RDWR)`, `os.unlink('x')`, `os.fstat(fd).st_nlink`, `os.unlink('l')`, `os.fstat(fd).st_nlink`, `os.pread(fd, 10, 0)`, `os.pwrite(fd, b'more', 4)`, `os.pread(fd, 10, 0)`, `os.close(fd)`] }],
    watch: ['x', 'l'],
  })
  // A file removed while open leaves no trace in its folder: it can be removed, and lists empty.
  cases.push({
    id: 'links/unlinked-while-open-leaves-no-name',
    setup: [mk('dir', 'd'), mk('reg', 'd/f', { data: "b'open'" })],
    rounds: [{ ops: [`fd = os.open('d/f', os.O_RDONLY)`, `os.unlink('d/f')`, `ls('d')`, `os.rmdir('d')`, `os.read(fd, 10)`, `os.fstat(fd).st_nlink`, `os.close(fd)`] }],
    watch: ['d', 'd/f'],
  })
  cases.push({
    id: 'links/opened-name-and-its-folder-removed',
    setup: [mk('dir', 'd'), mk('reg', 'd/f', { data: "b'open'" }), `os.link('d/f', 'keep')`],
    rounds: [{ ops: [`fd = os.open('d/f', os.O_RDONLY)`, `os.unlink('d/f')`, `os.rmdir('d')`, `os.read(fd, 10)`, `os.fstat(fd).st_nlink`, `os.close(fd)`, `rd('keep')`] }],
    watch: ['d', 'keep'],
  })
  cases.push({
    id: 'links/renamed-over-while-open-leaves-no-name',
    setup: [mk('dir', 'd'), mk('reg', 'd/f', { data: "b'old'" }), mk('reg', 'g', { data: "b'new'" })],
    rounds: [{ ops: [`fd = os.open('d/f', os.O_RDONLY)`, `os.rename('g', 'd/f')`, `ls('d')`, `os.read(fd, 10)`, `rd('d/f')`, `os.close(fd)`] }],
    watch: ['d', 'd/f', 'g'],
  })
  // rename(a, b) onto another name of the same file does nothing, even while b is open; after
  // unlink(b), the same rename moves a.
  cases.push({
    id: 'links/rename-onto-open-other-name',
    setup: [mk('reg', 'a', { data: "b'same'" }), `os.link('a', 'b')`],
    rounds: [{ ops: [`fd = os.open('b', os.O_RDONLY)`, `os.rename('a', 'b')`, `ls('.')`, `os.fstat(fd).st_nlink`, `os.close(fd)`] }, { ops: [`ls('.')`] }],
    watch: ['a', 'b'],
  })
  cases.push({
    id: 'links/unlink-open-then-rename-other-name-onto-it',
    setup: [mk('reg', 'a', { data: "b'same'" }), `os.link('a', 'b')`],
    rounds: [{ ops: [`fd = os.open('b', os.O_RDONLY)`, `os.unlink('b')`, `os.rename('a', 'b')`, `ls('.')`, `os.fstat(fd).st_nlink`, `os.close(fd)`] }, { ops: [`ls('.')`] }],
    watch: ['a', 'b'],
  })
  cases.push({
    id: 'links/rename-over-open-file',
    setup: [mk('reg', 'a', { data: "b'new'" }), mk('reg', 'b', { data: "b'old'" })],
    rounds: [{ ops: [`fd = os.open('b', os.O_RDONLY)`, `os.rename('a', 'b')`, `ls('.')`, `os.read(fd, 10)`, `os.fstat(fd).st_nlink`, `rd('b')`, `os.close(fd)`] }, { ops: [`ls('.')`] }],
    watch: ['a', 'b'],
  })
  // A descriptor open through one name reads what was written through another.
  cases.push({
    id: 'links/page-cache-per-name',
    setup: [mk('reg', 'x', { data: "b'a' * 8192" }), `os.link('x', 'l')`],
    rounds: [{ ops: [`fd = os.open('l', os.O_RDONLY)`, `os.pread(fd, 4, 0)`, `wr('x', b'bbbb', 0)`, `os.pread(fd, 4, 0)`, `os.close(fd)`, `rd('l', 4)`] }],
    watch: ['x', 'l'],
  })
  // Many names, and a name in every folder.
  cases.push({
    id: 'links/hundred-names',
    setup: [mk('reg', 'x')],
    rounds: [{ ops: [`[os.link('x', 'l%d' % i) for i in range(100)] and None`, `os.stat('x').st_nlink`] }, { ops: [`[os.unlink('l%d' % i) for i in range(0, 100, 2)] and None`] }],
    watch: ['x', 'l0', 'l1', 'l99'],
  })
  return cases
}

// ---- names and paths --------------------------------------------------------------------------------

/** A name as a python bytes expression and as the driver's watch spelling. */
function nm(b: Buffer): { py: string; watch: string } {
  const text = b.toString('utf8')
  const utf8 = Buffer.from(text, 'utf8').equals(b) && !text.startsWith('hex:')
  return { py: `N('${b.toString('hex')}')`, watch: utf8 ? text : hex(b) }
}

function names(): Case[] {
  const cases: Case[] = []
  // NAME_MAX is 255 bytes, counted in bytes whatever the characters.
  const lengths: [string, Buffer][] = [
    ['ascii-255', Buffer.from('a'.repeat(255))],
    ['ascii-256', Buffer.from('a'.repeat(256))],
    ['utf8-2byte-255', Buffer.from('é'.repeat(127) + 'a')],
    ['utf8-2byte-256', Buffer.from('é'.repeat(128))],
    ['utf8-3byte-255', Buffer.from('€'.repeat(85))],
    ['utf8-4byte-256', Buffer.from('🎉'.repeat(64))],
    ['utf8-4byte-252', Buffer.from('🎉'.repeat(63))],
    ['bytes-255', Buffer.alloc(255, 0xff)],
    ['bytes-256', Buffer.alloc(256, 0xfe)],
  ]
  for (const [tag, name] of lengths) {
    const n = nm(name)
    const ops: [string, string[]][] = [
      ['create', [`opn(${n.py}, os.O_CREAT | os.O_WRONLY)`, `os.stat(${n.py}).st_size`]],
      ['mkdir', [`os.mkdir(${n.py})`, `os.rmdir(${n.py})`]],
      ['symlink', [`os.symlink(b'target', ${n.py})`, `os.readlink(${n.py})`]],
      ['mkfifo', [`os.mkfifo(${n.py})`]],
      ['rename-to', [`os.rename(b'f', ${n.py})`]],
      ['link-to', [`os.link(b'f', ${n.py})`]],
      ['lookup', [`os.stat(${n.py})`, `os.unlink(${n.py})`, `os.access(${n.py}, os.F_OK)`]],
      ['symlink-target', [`os.symlink(${n.py}, b's')`, `os.readlink(b's')`]],
    ]
    for (const [op, list] of ops) {
      cases.push({ id: `names/length/${tag}/${op}`, setup: [mk('reg', 'f')], rounds: [{ ops: list }], watch: ['f', n.watch, 's'] })
    }
  }
  // A symlink's target may be up to 4095 bytes (PATH_MAX with its NUL).
  for (const len of [1, 255, 256, 1024, 4095, 4096]) {
    cases.push({
      id: `names/symlink-target-length/${len}`,
      rounds: [{ ops: [`os.symlink('t' * ${len}, 's')`, `len(os.readlink('s'))`, `os.lstat('s').st_size`] }],
      watch: ['s'],
    })
  }
  // Long paths: deep nesting well past 1024 bytes, up to PATH_MAX.
  for (const [levels, width] of [[30, 40], [100, 10], [15, 255], [16, 255]]) {
    cases.push({
      id: `names/long-path/${levels}x${width}`,
      rounds: [
        { ops: [`p = deep(${levels}, ${width})`, `len(p)`] },
        { ops: [`p = deep_path(${levels}, ${width})`, `wr_new(p + '/file', b'deep')`, `rd(p + '/file')`, `os.rename(p + '/file', p + '/moved')`, `st(p + '/moved')`, `len(p + '/moved')`] },
        // Removed again by the case: paths past PATH_MAX are beyond rm -rf by path.
        { ops: [`rmtree(deep_path(1, ${width}))`] },
      ],
      watch: [],
    })
  }
  // Any byte but '/' and NUL: spaces, control characters, quotes, UTF-8, and bytes that are not UTF-8.
  const odd: [string, Buffer][] = [
    ['space', Buffer.from(' ')],
    ['spaces-around', Buffer.from(' a b ')],
    ['newline', Buffer.from('\n')],
    ['embedded-newline', Buffer.from('a\nb')],
    ['tab-cr', Buffer.from('\t\r')],
    ['controls', Buffer.from([1, 2, 0x1b, 0x1f, 0x7f])],
    ['shell', Buffer.from('*?[]{}$`!&;|<>()\\\'"#~')],
    ['dots', Buffer.from('...')],
    ['dash', Buffer.from('-rf')],
    ['percent-colon', Buffer.from('%s:%d=@,')],
    ['latin1-nfc', Buffer.from('café')],
    ['nfd', Buffer.from('cafe\u0301')],
    ['cjk', Buffer.from('中文名字')],
    ['emoji', Buffer.from('🎉👍🏽')],
    ['rtl', Buffer.from('\u202eabc')],
    ['bom-zwj', Buffer.from('\ufeff\u200d')],
    ['byte-ff', Buffer.from([0xff])],
    ['bytes-fe-ff', Buffer.from([0x66, 0xfe, 0xff, 0x67])],
    ['byte-80', Buffer.from([0x80])],
    ['latin1-cafe', Buffer.from([0x63, 0x61, 0x66, 0xe9])],
    ['invalid-utf8-c328', Buffer.from([0xc3, 0x28])],
    ['truncated-utf8', Buffer.from([0xe2, 0x82])],
    ['surrogate-utf8', Buffer.from([0xed, 0xa0, 0x80])],
    ['overlong-slash', Buffer.from([0xc0, 0xaf])],
    ['replacement-char', Buffer.from('\ufffd')],
  ]
  for (const [tag, name] of odd) {
    const n = nm(name)
    const n2 = nm(Buffer.concat([name, Buffer.from('.2')]))
    cases.push({
      id: `names/bytes/${tag}`,
      rounds: [
        { ops: [`wr_new(${n.py}, bytes.fromhex('${name.toString('hex')}'))`, `rd(${n.py})`, `os.mkdir(${n.py} + b'.d')`, `os.symlink(${n.py}, ${n.py} + b'.s')`, `os.readlink(${n.py} + b'.s')`] },
        { ops: [`os.rename(${n.py}, ${n2.py})`, `rd(${n2.py})`, `os.link(${n2.py}, ${n.py})`, `sorted(os.listdir(b'.'))`, `os.path.exists(${n.py} + b'.d')`] },
        { ops: [`os.unlink(${n2.py})`, `os.rmdir(${n.py} + b'.d')`, `sorted(os.listdir(b'.'))`] },
      ],
      watch: [n.watch, n2.watch],
    })
  }
  // Names that are not UTF-8 but would look alike if decoded lossily stay distinct.
  cases.push({
    id: 'names/bytes/distinct-invalid',
    rounds: [{ ops: [
      ...['80', 'fe', 'ff'].map(h => `wr_new(N('${h}'), bytes.fromhex('${h}'))`),
      ...['80', 'fe', 'ff'].map(h => `rd(N('${h}'))`),
      `sorted(os.listdir(b'.'))`,
    ] }],
    watch: [hex(Buffer.from([0x80])), hex(Buffer.from([0xfe])), hex(Buffer.from([0xff]))],
  })
  // "." and ".." are not names one can make or remove.
  cases.push({
    id: 'names/dot-and-dotdot',
    setup: [mk('dir', 'd'), mk('dir', 'd/e')],
    rounds: [{ ops: [
      `os.mkdir('.')`, `os.mkdir('d/..')`, `os.rmdir('d/.')`, `os.rmdir('d/e/..')`, `os.unlink('.')`, `os.unlink('d/..')`,
      `os.rename('d/.', 'x')`, `os.rename('d/e', 'd/.')`, `os.rename('d/e', '..')`, `opn('.', os.O_CREAT | os.O_WRONLY)`,
      `os.symlink('x', 'd/.')`, `os.link('d', '..')`, `os.mknod('.')`,
    ] }],
    watch: ['d', 'd/e', 'x'],
  })
  // Trailing slashes: only folders (and links to them) take one.
  cases.push({
    id: 'names/trailing-slash',
    setup: [mk('dir', 'd'), mk('reg', 'f'), `os.symlink('d', 'sd')`, `os.symlink('f', 'sf')`],
    rounds: [{ ops: [
      `st('d/')`, `st('f/')`, `st('sd/')`, `st('sf/')`, `opn('f/', os.O_RDONLY)`, `os.mkdir('n/')`, `os.rmdir('n/')`,
      `opn('g/', os.O_CREAT | os.O_WRONLY)`, `os.rename('f', 'f2/')`, `os.rename('f/', 'f2')`, `os.unlink('f/')`, `os.rename('d/', 'd2/')`,
    ] }],
    watch: ['d', 'f', 'n', 'g', 'f2', 'd2'],
  })
  return cases
}

// ---- errors ---------------------------------------------------------------------------------------------

function errors(): Case[] {
  const cases: Case[] = []
  const setup = [
    mk('dir', 'd'), mk('reg', 'd/f', { data: "b'f'" }), mk('dir', 'e'), mk('reg', 'f', { data: "b'file'" }),
    mk('dir', 'd/sub'), mk('reg', 'd/sub/g'), `os.symlink('d', 'sd')`, `os.symlink('f', 'sf')`, `os.symlink('missing', 'dangling')`,
    `os.symlink('loop2', 'loop1')`, `os.symlink('loop1', 'loop2')`, `os.symlink('self', 'self')`,
  ]
  const watch = ['d', 'd/f', 'e', 'f', 'd/sub', 'd/sub/g', 'sd', 'sf', 'dangling', 'new', 'e/moved']
  const table: [string, string][] = [
    // EEXIST
    ['mkdir-over-file', `os.mkdir('f')`], ['mkdir-over-dir', `os.mkdir('d')`], ['mkdir-over-symlink', `os.mkdir('sd')`],
    ['mkdir-over-dangling', `os.mkdir('dangling')`], ['create-excl-existing', `opn('f', os.O_CREAT | os.O_EXCL | os.O_WRONLY)`],
    ['create-excl-dangling', `opn('dangling', os.O_CREAT | os.O_EXCL | os.O_WRONLY)`], ['create-through-dangling', `opn('dangling', os.O_CREAT | os.O_WRONLY)`],
    ['symlink-over-existing', `os.symlink('x', 'f')`], ['mknod-over-existing', `os.mkfifo('d')`], ['link-over-existing', `os.link('f', 'd/f')`],
    // ENOENT
    ['open-missing', `opn('new', os.O_RDONLY)`], ['mkdir-in-missing', `os.mkdir('missing/new')`], ['unlink-missing', `os.unlink('new')`],
    ['rmdir-missing', `os.rmdir('new')`], ['rename-missing', `os.rename('new', 'x')`], ['rename-into-missing', `os.rename('f', 'missing/x')`],
    ['stat-dangling', `os.stat('dangling')`], ['lstat-dangling', `st('dangling')`], ['chmod-missing', `os.chmod('new', 0o644)`],
    ['create-in-missing', `opn('missing/new', os.O_CREAT | os.O_WRONLY)`], ['readlink-missing', `os.readlink('new')`], ['empty-path', `os.stat('')`],
    // ENOTDIR
    ['mkdir-under-file', `os.mkdir('f/new')`], ['open-under-file', `opn('f/x', os.O_RDONLY)`], ['rmdir-file', `os.rmdir('f')`],
    ['rmdir-symlink-to-dir', `os.rmdir('sd')`], ['open-directory-flag-on-file', `opn('f', os.O_RDONLY | os.O_DIRECTORY)`],
    ['rename-dir-over-file', `os.rename('e', 'f')`], ['listdir-file', `os.listdir('f')`], ['chdir-file', `os.chdir('f')`],
    ['stat-through-symlink-to-file', `os.stat('sf/x')`],
    // EISDIR
    ['unlink-dir', `os.unlink('d')`], ['open-dir-for-write', `opn('d', os.O_WRONLY)`], ['open-dir-rdwr', `opn('d', os.O_RDWR)`],
    ['rename-file-over-dir', `os.rename('f', 'e')`], ['truncate-dir', `os.truncate('d', 0)`], ['create-dir-name', `opn('d', os.O_CREAT | os.O_WRONLY)`],
    // ENOTEMPTY
    ['rmdir-nonempty', `os.rmdir('d')`], ['rename-dir-over-nonempty', `os.rename('e', 'd')`], ['rename-over-ancestor', `os.rename('d/sub', 'd')`],
    // EINVAL
    ['rename-dir-into-itself', `os.rename('d', 'd/sub/inside')`], ['rename-dir-into-child', `os.rename('d', 'd/new')`],
    ['rename-dir-onto-own-child', `os.rename('d', 'd/sub')`], ['readlink-file', `os.readlink('f')`], ['readlink-dir', `os.readlink('d')`],
    ['truncate-negative', `os.truncate('f', -1)`], ['rmdir-dot', `os.rmdir('d/sub/.')`],
    // no EXDEV within one file system: renames and links across folders just work
    ['rename-across-dirs', `os.rename('d/f', 'e/moved')`], ['rename-dir-across', `os.rename('d/sub', 'e/moved')`], ['link-across-dirs', `os.link('d/f', 'e/moved')`],
    ['rename-onto-itself', `os.rename('f', 'f')`], ['rename-dir-onto-empty-dir', `os.rename('d/sub', 'e')`], ['rename-symlink-over-dir', `os.rename('sd', 'e')`],
    // ELOOP
    ['open-loop', `opn('loop1', os.O_RDONLY)`], ['stat-loop', `os.stat('loop1')`], ['open-self-loop', `opn('self', os.O_RDONLY)`],
    ['create-through-loop', `opn('loop2', os.O_CREAT | os.O_WRONLY)`], ['nofollow-on-symlink', `opn('sf', os.O_RDONLY | os.O_NOFOLLOW)`],
    ['mkdir-under-loop', `os.mkdir('loop1/x')`], ['chdir-loop', `os.chdir('self')`],
    // EBADF, E2BIG/ERANGE-ish, and others reached through file descriptors
    ['write-readonly-fd', `fd = os.open('f', os.O_RDONLY); os.write(fd, b'x')`], ['read-writeonly-fd', `fd = os.open('f', os.O_WRONLY); os.read(fd, 1)`],
    ['ftruncate-readonly-fd', `fd = os.open('f', os.O_RDONLY); os.ftruncate(fd, 0)`], ['read-dir-fd', `fd = os.open('d', os.O_RDONLY); os.read(fd, 1)`],
    ['getxattr-missing', `os.getxattr('f', 'user.none')`], ['removexattr-missing', `os.removexattr('f', 'user.none')`],
    ['setxattr-create-existing', `os.setxattr('f', 'user.a', b'1'); os.setxattr('f', 'user.a', b'2', os.XATTR_CREATE)`],
    ['setxattr-replace-missing', `os.setxattr('f', 'user.none', b'1', os.XATTR_REPLACE)`],
    ['setxattr-bad-namespace', `os.setxattr('f', 'bogus.a', b'1')`], ['getxattr-bad-namespace', `os.getxattr('f', 'bogus.a')`],
    ['removexattr-bad-namespace', `os.removexattr('f', 'bogus.a')`], ['setxattr-no-namespace', `os.setxattr('f', 'plain', b'1')`],
    ['setxattr-empty-name', `os.setxattr('f', '', b'1')`], ['setxattr-user-empty', `os.setxattr('f', 'user.', b'1')`],
    ['setxattr-name-too-long', `os.setxattr('f', 'user.' + 'n' * 251, b'1')`], ['setxattr-name-max', `os.setxattr('f', 'user.' + 'n' * 250, b'1'); len(os.listxattr('f')[0])`],
    ['setxattr-value-2000', `os.setxattr('f', 'user.big', b'v' * 2000); len(os.getxattr('f', 'user.big'))`],
    ['setxattr-system-other', `os.setxattr('f', 'system.other', b'1')`], ['getxattr-system-other', `os.getxattr('f', 'system.other')`],
    ['setxattr-value-too-big', `os.setxattr('f', 'user.big', b'v' * 65537)`],
    ['trusted-and-user', `os.setxattr('f', 'trusted.t', b'1'); os.setxattr('f', 'user.u', b'2'); sorted(os.listxattr('f'))`],
    ['security-xattr', `os.setxattr('f', 'security.s', b'1'); os.getxattr('f', 'security.s')`],
    ['getxattr-small-buffer', `os.setxattr('f', 'user.big', b'v' * 1000); len(os.getxattr('f', 'user.big'))`],
  ]
  for (const [id, op] of table) cases.push({ id: `errors/${id}`, setup, rounds: [{ ops: [op] }], watch })
  // The same misuses by an unprivileged user (ownership changes nothing about these errors).
  for (const [id, op] of table.slice(0, 30)) cases.push({ id: `errors/as-nobody/${id}`, dir: { mode: 0o777 }, setup: [...setup, `[os.chown(p, 65534, 65534, follow_symlinks=False) for p in ['d', 'd/f', 'e', 'f', 'd/sub', 'd/sub/g']] and None`], rounds: [{ as: 'nobody', ops: [op] }], watch })
  // EACCES versus EPERM: mode bits refuse with EACCES, ownership rules with EPERM.
  const perm: [string, string][] = [
    ['chmod-not-owner', `os.chmod('f', 0o777)`], ['chown-not-root', `os.chown('mine', 0, -1)`], ['chgrp-not-member', `os.chown('mine', -1, 0)`],
    ['utime-explicit-not-owner', `os.utime('f', (1, 2))`], ['utime-now-not-owner-no-write', `os.utime('f')`], ['utime-now-not-owner-writable', `os.utime('w')`],
    ['write-no-permission', `wr('f', b'x', 0)`], ['create-in-unwritable', `opn('ro/x', os.O_CREAT | os.O_WRONLY)`], ['unlink-in-unwritable', `os.unlink('ro/g')`],
    ['mknod-device', `os.mknod('dev', 0o644 | stat.S_IFCHR, os.makedev(1, 3))`], ['setxattr-trusted', `os.setxattr('mine', 'trusted.a', b'1')`],
    ['setxattr-not-owner', `os.setxattr('w', 'user.a', b'1')`], ['setxattr-owner-no-write', `os.setxattr('minero', 'user.a', b'1')`],
    ['chmod-setgid-other-group', `os.chmod('mine-root-group', 0o2755); oct(os.stat('mine-root-group').st_mode)`],
    ['unlink-sticky-not-owner', `os.unlink('sticky/g')`], ['rmdir-root-owned-in-sticky', `os.rmdir('sticky/e')`],
    ['listxattr-hides-trusted', `sorted(os.listxattr('w'))`], ['getxattr-trusted', `os.getxattr('w', 'trusted.t')`],
    ['getxattr-user-no-read', `os.getxattr('noread', 'user.u')`], ['listxattr-no-read', `sorted(os.listxattr('noread'))`],
  ]
  for (const [id, op] of perm) {
    cases.push({
      id: `errors/permission/${id}`,
      setup: [
        mk('reg', 'f', { mode: 0o644 }), mk('reg', 'w', { mode: 0o666 }), mk('reg', 'mine', { uid: NOBODY, gid: NOBODY }),
        mk('reg', 'minero', { mode: 0o444, uid: NOBODY, gid: NOBODY }), mk('reg', 'mine-root-group', { uid: NOBODY, gid: ROOT }),
        mk('dir', 'ro', { mode: 0o755 }), mk('reg', 'ro/g'), mk('dir', 'sticky', { mode: 0o1777 }), mk('reg', 'sticky/g', { mode: 0o666 }), mk('dir', 'sticky/e', { mode: 0o777 }),
        `os.setxattr('w', 'trusted.t', b'1'); os.setxattr('w', 'user.u', b'2')`, mk('reg', 'noread', { mode: 0o600 }), `os.setxattr('noread', 'user.u', b'2')`,
      ],
      rounds: [{ as: 'nobody', ops: [op] }],
      watch: ['f', 'w', 'mine', 'minero', 'mine-root-group', 'ro', 'ro/g', 'sticky', 'sticky/g', 'sticky/e', 'dev'],
    })
  }
  return cases
}

// ---- everything else programs do to files ---------------------------------------------------------------

function misc(): Case[] {
  const base = [mk('reg', 'f', { data: "b'0123456789'" }), mk('reg', 'g', { data: "b'gg'" }), mk('dir', 'd'), mk('dir', 'e')]
  const watch = ['f', 'g', 'd', 'e', 'n', 't']
  const table: [string, string[]][] = [
    // renameat2 flags
    ['rename-noreplace-free', [`renameat2('f', 'n', 1)`]],
    ['rename-noreplace-taken', [`renameat2('f', 'g', 1)`]],
    ['rename-exchange', [`renameat2('f', 'g', 2)`, `rd('f')`]],
    ['rename-exchange-dirs', [`renameat2('d', 'e', 2)`]],
    // preallocation, holes, copies
    ['fallocate', [`fallocate('f', 0, 0, 100000)`, `os.stat('f').st_size`]],
    ['fallocate-keep-size', [`fallocate('f', 1, 0, 100000)`, `os.stat('f').st_size`]],
    ['posix-fallocate', [`fd = os.open('f', os.O_RDWR); os.posix_fallocate(fd, 0, 100000); os.close(fd)`, `os.stat('f').st_size`, `rd('f', 20)`]],
    ['seek-data-hole', [`wr_new('n', b'')`, `wr('n', b'x', 1 << 20)`, `holes('n')`]],
    ['copy-file-range', [`a = os.open('f', os.O_RDONLY); b = os.open('n', os.O_WRONLY | os.O_CREAT, 0o644)`, `os.copy_file_range(a, b, 10)`, `os.close(a); os.close(b)`, `rd('n')`]],
    ['sendfile', [`a = os.open('f', os.O_RDONLY); b = os.open('n', os.O_WRONLY | os.O_CREAT, 0o644)`, `os.sendfile(b, a, 0, 10)`, `os.close(a); os.close(b)`, `rd('n')`]],
    // temporary files
    ['o-tmpfile', [`(lambda fd: (os.write(fd, b'tmp'), os.fstat(fd).st_nlink, os.close(fd))[:2])(os.open('.', os.O_TMPFILE | os.O_RDWR, 0o600))`]],
    ['o-tmpfile-linkat', [`fd = os.open('d', os.O_TMPFILE | os.O_WRONLY, 0o640)`, `os.write(fd, b'made whole')`, `os.link('/proc/self/fd/%d' % fd, 'n', follow_symlinks=True)`, `os.close(fd)`, `rd('n')`]],
    // I/O paths other than read and write
    ['mmap-write', [`mmap_write('f', 2, b'MM')`, `rd('f')`]],
    ['o-direct', [`fd = os.open('f', os.O_RDONLY | os.O_DIRECT); os.close(fd)`]],
    ['o-append-two-fds', [`a = os.open('f', os.O_WRONLY | os.O_APPEND); b = os.open('f', os.O_WRONLY | os.O_APPEND)`, `os.write(a, b'A')`, `os.write(b, b'B')`, `os.close(a); os.close(b)`, `rd('f')`]],
    ['pwrite-past-end', [`wr('f', b'Z', 20)`, `rd('f')`]],
    ['read-at-offsets', [`rd('f', 3, 0)`, `rd('f', 3, 8)`, `rd('f', 3, 10)`, `rd('f', 3, 100)`]],
    ['o-excl-create', [`opn('n', os.O_CREAT | os.O_EXCL | os.O_WRONLY)`, `opn('n', os.O_CREAT | os.O_EXCL | os.O_WRONLY)`]],
    ['o-creat-mode', [`opn('n', os.O_CREAT | os.O_WRONLY, 0o4777)`, `oct(os.stat('n').st_mode)`]],
    ['mkdir-mode', [`os.mkdir('n', 0o7777)`, `oct(os.stat('n').st_mode)`]],
    ['o-noctty-sync', [`fd = os.open('f', os.O_WRONLY | os.O_SYNC | os.O_DSYNC | os.O_NOCTTY); os.write(fd, b'S'); os.close(fd)`, `rd('f')`]],
    ['fdatasync', [`fd = os.open('f', os.O_RDWR); os.fdatasync(fd); os.close(fd)`]],
    ['fsync-dir', [`fd = os.open('d', os.O_RDONLY); os.fsync(fd); os.close(fd)`]],
    // locks are the kernel's on FUSE without lock handlers, as on a local disk
    ['flock', [`import fcntl`, `fd = os.open('f', os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); fcntl.flock(fd, fcntl.LOCK_UN); os.close(fd)`]],
    ['lockf', [`import fcntl`, `fd = os.open('f', os.O_RDWR); fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); os.close(fd)`]],
    // what statvfs says about names
    ['statvfs-namemax', [`os.statvfs('.').f_namemax`]],
    // a directory with many entries: its nlink, its listing
    ['many-entries', [`[os.mkdir('d/%03d' % i) for i in range(300)] and None`, `os.stat('d').st_nlink`, `len(os.listdir('d'))`]],
    ['big-directory-size', [`[wr_new('d/' + ('%03d' % i) * 40, b'') for i in range(200)] and None`, `os.stat('d').st_size`]],
  ]
  return table.map(([id, ops]) => ({ id: `misc/${id}`, setup: base, rounds: [{ ops }], watch }))
}

export function allCases(): Map<Area, Case[]> {
  return new Map<Area, Case[]>([
    ['ownership', ownership()],
    ['permissions', permissions()],
    ['sticky', sticky()],
    ['times', times()],
    ['special', special()],
    ['links', links()],
    ['names', names()],
    ['errors', errors()],
    ['misc', misc()],
  ])
}
