// Real tools, end to end, on a mounted dfs (issue 4): rsync -aH twice (the second run transfers
// nothing), cp -a in and out keeping modes, owners, times and hard links, a tar round trip with
// owners, git clone/commit/checkout/gc/fsck, npm install of a local package, an editor's save
// (temp, fsync, os.replace) and sqlite3 building and updating a database.
//
// Source trees are made on native disk by PY_TREE (varied modes and owners, setuid/setgid/sticky,
// symlinks, hard links, a FIFO and a device node, sizes around the chunk size, times in the past
// with nanoseconds); PY_MANIFEST_TOOLS lists a tree as a tool would care about it. The mount is
// reached only from child processes.
//
// What the platform makes impossible, asserted as it is rather than skipped:
// - Times are kept to the millisecond (fuse-native hands dfs milliseconds): a copy's mtime is the
//   source's truncated to ms. Tools that compare times compare seconds, so this never shows there.
// - libfuse 2 drops a utimensat that sets only one of the two times (native-notes/README.md). GNU
//   tar restores times that way (atime UTIME_OMIT), so `tar x` into the mount leaves every mtime at
//   the time of extraction; the tar test asserts exactly that. cp -a, rsync and npm set both times.

import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { stopAllAfterAll } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'
import { KiB, type MountedCluster, expectOk, mountFresh, mustRun, mustSh, pyJson } from './fixtures.js'

stopAllAfterAll()

const CHUNK = 64 * KiB

/**
 * Build a tree under argv[1] (which may already hold files): argv seed, number of files, chunk size.
 * Then give every entry under it a time in the past (with nanoseconds), deepest first so setting a
 * folder's time is the last thing that happens to it. Prints {"entries": n}.
 */
const PY_TREE = String.raw`
import os, sys, json, random, stat
root, seed, nfiles, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
os.makedirs(root, exist_ok=True)
dirs = ['.']
for i in range(max(3, nfiles // 12)):
    parent = rng.choice(dirs)
    d = os.path.normpath(os.path.join(parent, 'dir%02d' % i))
    if d.count('/') < 4:
        os.mkdir(os.path.join(root, d))
        dirs.append(d)
sizes = [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 17]
file_modes = [0o644, 0o600, 0o755, 0o640, 0o444, 0o700, 0o664, 0o4755, 0o2755, 0o000]
owners = [(0, 0), (0, 0), (65534, 65534), (1234, 4321), (0, 100)]
files = []
for i in range(nfiles):
    name = os.path.join(rng.choice(dirs), 'with space \u00e9 %d.txt' % i if i % 50 == 7 else 'file%03d.%s' % (i, rng.choice(['txt', 'bin', 'c'])))
    size = sizes[i % len(sizes)] if i % 4 == 0 else rng.randrange(0, 5000)
    with open(os.path.join(root, name), 'wb') as f:
        f.write(rng.randbytes(size))
    os.chown(os.path.join(root, name), *rng.choice(owners))
    os.chmod(os.path.join(root, name), rng.choice(file_modes))  # after chown, which clears setuid
    files.append(name)
# hard links: two names in one folder, three across folders
a, b = files[1], files[2]
os.link(os.path.join(root, a), os.path.join(root, a + '.link'))
os.link(os.path.join(root, b), os.path.join(root, dirs[-1], 'hard-b'))
os.link(os.path.join(root, b), os.path.join(root, 'hard-b-top'))
# symlinks (one dangling, one to a folder), owned by someone else
os.symlink(os.path.relpath(files[3], '.'), os.path.join(root, 'link-file'))
os.symlink('../no/such/target', os.path.join(root, dirs[1], 'dangling'))
os.symlink(dirs[1], os.path.join(root, 'link-dir'))
os.lchown(os.path.join(root, 'link-file'), 65534, 65534)
# special files and empty things
os.mkfifo(os.path.join(root, 'fifo'), 0o640)
os.mknod(os.path.join(root, 'null-dev'), stat.S_IFCHR | 0o620, os.makedev(1, 3))
os.mkdir(os.path.join(root, 'empty-dir'))
open(os.path.join(root, dirs[1], 'empty-file'), 'w').close()
dir_modes = [0o755, 0o750, 0o2775, 0o1777, 0o700]
for d in dirs[1:]:
    os.chmod(os.path.join(root, d), rng.choice(dir_modes))
os.chown(os.path.join(root, dirs[2]), 65534, 65534)
# times, deepest first
entries = 0
for dirpath, dirnames, filenames in os.walk(root, topdown=False):
    for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))] + ['.']:
        p = os.path.normpath(os.path.join(dirpath, n))
        t = rng.randrange(978307200, 1600000000) * 10**9 + rng.randrange(0, 10**9)
        os.utime(p, ns=(t + 12345, t), follow_symlinks=False)
        entries += 1
print(json.dumps({'entries': entries}))
`

/**
 * A tree as tools see it: per relative path its type, permission bits, owner, link count, size (files),
 * mtime in ms, symlink target, device number and user.* xattrs; and the groups of names that share an
 * inode. argv: root. (Device numbers and hard links come from lstat, so this also checks that the
 * mount reports one inode number for every name of a file.)
 */
const PY_MANIFEST_TOOLS = String.raw`
import os, sys, json, stat
root = sys.argv[1]
entries, inodes = {}, {}
def entry(rel):
    p = os.path.join(root, rel)
    st = os.lstat(p)
    e = {'type': stat.filemode(st.st_mode)[0], 'mode': '%04o' % stat.S_IMODE(st.st_mode),
         'owner': '%d:%d' % (st.st_uid, st.st_gid), 'nlink': st.st_nlink, 'mtime_ms': st.st_mtime_ns // 10**6}
    if stat.S_ISREG(st.st_mode):
        e['size'] = st.st_size
        e['xattrs'] = {n: os.getxattr(p, n, follow_symlinks=False).hex() for n in sorted(os.listxattr(p, follow_symlinks=False)) if n.startswith('user.')}
        acl = [n for n in os.listxattr(p, follow_symlinks=False) if n.startswith('system.posix_acl')]
        if acl:
            e['acl'] = acl
        if st.st_nlink > 1:
            inodes.setdefault(st.st_ino, []).append(rel)
    if stat.S_ISLNK(st.st_mode):
        e['target'] = os.readlink(p)
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        e['rdev'] = '%d,%d' % (os.major(st.st_rdev), os.minor(st.st_rdev))
    entries[rel] = e
for dirpath, dirnames, filenames in os.walk(root):
    rel = os.path.relpath(dirpath, root)
    entry(rel)
    for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
        entry(os.path.normpath(os.path.join(rel, n)))
print(json.dumps({'entries': entries, 'links': sorted(sorted(g) for g in inodes.values())}))
`

interface Entry {
  type: string
  mode: string
  owner: string
  nlink: number
  mtime_ms: number
  size?: number
  target?: string
  rdev?: string
  xattrs?: Record<string, string>
  acl?: string[]
}
interface Manifest {
  entries: Record<string, Entry>
  links: string[][]
}

function manifest(root: string, m: MountedCluster): Promise<Manifest> {
  return pyJson<Manifest>(PY_MANIFEST_TOOLS, [root], m.dfs)
}

async function makeTree(root: string, seed: number, files: number): Promise<number> {
  return (await pyJson<{ entries: number }>(PY_TREE, [root, String(seed), String(files), String(CHUNK)])).entries
}

function withoutTimes(m: Manifest): Manifest {
  return { links: m.links, entries: Object.fromEntries(Object.entries(m.entries).map(([k, { mtime_ms: _, ...e }]) => [k, e as Entry])) }
}

/**
 * diff -r of two trees, symlinks compared as links. The FIFO and the device node are left out: diff
 * reports two FIFOs as a difference, and the mount is nodev (a device node there cannot be opened);
 * the manifests compare both.
 */
async function expectSameContent(a: string, b: string, m: MountedCluster): Promise<void> {
  expectOk(await run('diff', ['-r', '--no-dereference', '-x', 'fifo', '-x', 'null-dev', a, b], { timeout: 60_000 }), `diff -r ${a} ${b}`, m.dfs)
}

/** git with an identity and no user or system configuration. */
function git(args: string[], cwd: string) {
  return run('git', ['-c', 'user.name=dfs test', '-c', 'user.email=dfs@example.invalid', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    env: { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    timeout: 60_000,
  })
}

describe('real tools on a mount (64 KiB chunks, 2 replicas)', () => {
  let m: MountedCluster
  let native: string

  beforeAll(async () => {
    m = await mountFresh({ chunkSize: '64k', replicas: 2 })
    native = makeTempDir('dfs-realtools-').path
    // mkdtemp makes these 0700; the unprivileged user of the cp -a and git tests works below them.
    await mustRun('chmod', ['755', native, m.cluster.root])
    await mustRun('chmod', ['1777', m.mnt])
  })

  const mustGit = async (args: string[], cwd: string): Promise<string> => {
    const r = await git(args, cwd)
    expectOk(r, `git ${args.join(' ')} (in ${cwd})`, m.dfs)
    return r.stdout
  }

  it('rsync -aH copies a tree in; a second run transfers nothing; a delta run sends only the changes', async () => {
    const src = join(native, 'rsync-src')
    const dst = join(m.mnt, 'rsync')
    const entries = await makeTree(src, 1, 300)
    expect(entries).toBeGreaterThan(300)

    const first = await mustRun('rsync', ['-aH', '--itemize-changes', `${src}/`, `${dst}/`], { dfs: m.dfs, timeout: 60_000 })
    // every entry but hard-link second names shows up once
    expect(first.trim().split('\n').length).toBeGreaterThan(entries - 5)

    // The second run finds size and mtime equal everywhere (times survived) and changes nothing.
    const second = await mustRun('rsync', ['-aH', '--itemize-changes', '--stats', `${src}/`, `${dst}/`], { dfs: m.dfs })
    const itemized = second.split('\n').filter(line => /^[<>ch.*][fdLDS]/.test(line))
    expect(itemized, 'rsync -aH --itemize-changes on the second run').toEqual([])
    expect(second).toMatch(/^Number of regular files transferred: 0$/m)

    await expectSameContent(src, dst, m)
    const want = await manifest(src, m)
    expect(await manifest(dst, m)).toEqual(want)
    expect(want.links.length).toBe(2)

    // Change a few things at the source (content, a file of a hard-link group, a mode, a symlink,
    // a removal and a new file), with times set so the folders differ by whole seconds too.
    const changed = await pyJson<string[]>(
      String.raw`
import stat
src = sys.argv[1]
files = sorted(os.path.relpath(os.path.join(d, f), src) for d, _, fs in os.walk(src) for f in fs
               if stat.S_ISREG(os.lstat(os.path.join(d, f)).st_mode) and os.lstat(os.path.join(d, f)).st_nlink == 1
               and os.access(os.path.join(d, f), os.W_OK) and os.path.getsize(os.path.join(d, f)) > 10)
changed = []
t = 1700000000 * 10**9 + 123456789
for i, rel in enumerate(files[:3]):
    p = os.path.join(src, rel)
    with open(p, 'r+b') as f:      # rewrite the middle, append at the end
        f.seek(os.path.getsize(p) // 2)
        f.write(b'changed in the middle')
        f.seek(0, 2)
        f.write(os.urandom(70000))
    os.utime(p, ns=(t, t + i * 10**9))
    changed.append(rel)
linked = os.path.join(src, 'hard-b-top')
with open(linked, 'ab') as f:
    f.write(b'appended to a hard-linked file')
os.utime(linked, ns=(t, t + 5 * 10**9))
changed.append('hard-b-top')
os.chmod(os.path.join(src, files[4]), 0o751)
changed.append(files[4])
os.remove(os.path.join(src, files[5]))
changed.append(files[5])
with open(os.path.join(src, 'brand-new.txt'), 'w') as f:
    f.write('new\n' * 1000)
os.utime(os.path.join(src, 'brand-new.txt'), ns=(t, t))
changed.append('brand-new.txt')
os.remove(os.path.join(src, 'link-file'))
os.symlink('brand-new.txt', os.path.join(src, 'link-file'))
os.utime(os.path.join(src, 'link-file'), ns=(t, t), follow_symlinks=False)
changed.append('link-file')
for d in {os.path.dirname(os.path.join(src, c)) for c in changed} | {src}:
    os.utime(d, ns=(t, t + 7 * 10**9))
emit(changed)
`,
      [src],
    )
    // --no-whole-file: the delta algorithm reads the old copy in the mount and rebuilds it in a temp file
    const delta = await mustRun('rsync', ['-aH', '--delete', '--no-whole-file', '--itemize-changes', `${src}/`, `${dst}/`], { dfs: m.dfs })
    const paths = delta.trim().split('\n').map(line => line.slice(12).replace(/ -> .*$/, '').replace(/ => .*$/, ''))
    for (const c of changed) expect(paths, `rsync itemized ${c}`).toContain(c)
    const other = paths.filter(p => !changed.includes(p) && !p.endsWith('/'))
    // the other names of the hard-link group are re-linked, nothing else is touched
    expect(other.every(p => want.links.some(g => g.includes(p))), `unexpected changes: ${other.join(', ')}`).toBe(true)
    await expectSameContent(src, dst, m)
    expect(await manifest(dst, m)).toEqual(await manifest(src, m))
    const third = await mustRun('rsync', ['-aH', '--delete', '--itemize-changes', `${src}/`, `${dst}/`], { dfs: m.dfs })
    expect(third).toBe('')
  })

  it('cp -a into the mount and back out keeps modes, owners, mtimes, hard links and xattrs', async () => {
    const src = join(native, 'cp-src')
    await mustSh(`mkdir -m 1777 -p '${src}/public'`)
    // Files and a folder made by uid 65534 itself, beside the ones PY_TREE chowns.
    await mustSh(
      `setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'umask 022; cd ${src}/public && echo mine > by-nobody && mkdir nobody-dir && echo x > nobody-dir/inner && ln by-nobody by-nobody-2 && chmod 600 by-nobody'`,
    )
    await makeTree(src, 2, 60)
    await mustRun('python3', ['-c', `import os; os.setxattr('${src}/public/by-nobody', 'user.origin', b'made by 65534')`])
    const want = await manifest(src, m)
    expect(want.entries['public/by-nobody']).toMatchObject({ owner: '65534:65534', mode: '0600', nlink: 2 })

    const inMount = join(m.mnt, 'cp-a')
    await mustRun('cp', ['-a', src, inMount], { dfs: m.dfs, timeout: 60_000 })
    const mounted = await manifest(inMount, m)
    expect(mounted).toEqual(want)
    // Hard links are one inode in the mount: same st_ino through every name.
    const inos = await mustRun('stat', ['-c', '%i %h', join(inMount, 'public/by-nobody'), join(inMount, 'public/by-nobody-2')])
    const [one, two] = inos.trim().split('\n')
    expect(one).toBe(two)
    expect(one).toMatch(/ 2$/)
    await expectSameContent(src, inMount, m)

    // cp -a sets plain permission bits through a POSIX ACL xattr when it can; dfs refuses ACLs
    // (src/fuse/operations.ts says why), so cp falls back to chmod and the modes above are right.
    const minimalAcl = '0200000001000600ffffffff04000400ffffffff20000400ffffffff' // u::rw- g::r-- o::r--
    const aclErrno = await pyJson<string>(`emit(errno_of(os.setxattr, sys.argv[1], 'system.posix_acl_access', bytes.fromhex('${minimalAcl}')))`, [
      join(inMount, 'public/by-nobody'),
    ])
    expect(aclErrno).toBe('ENOTSUP') // 95, EOPNOTSUPP on Linux

    const out = join(native, 'cp-out')
    await mustRun('cp', ['-a', inMount, out], { dfs: m.dfs, timeout: 60_000 })
    expect(await manifest(out, m)).toEqual(want)
    await expectSameContent(src, out, m)
  })

  it('tar round trip with owners: --numeric-owner -cpf, extracted with -p --same-owner into the mount, tar c back out', async () => {
    const src = join(native, 'tar-src')
    await makeTree(src, 3, 80)
    const archive = join(native, 'tree.tar')
    await mustRun('tar', ['--numeric-owner', '-cpf', archive, '-C', src, '.'])
    const want = await manifest(src, m)
    expect(new Set(Object.values(want.entries).map(e => e.owner)).size, 'owners in the tree').toBeGreaterThan(2)

    const inMount = join(m.mnt, 'tar-x')
    await mustRun('mkdir', [inMount])
    const started = Date.now()
    await mustRun('tar', ['--numeric-owner', '-xpf', archive, '--same-owner', '-C', inMount], { dfs: m.dfs, timeout: 60_000 })
    await expectSameContent(src, inMount, m)
    const mounted = await manifest(inMount, m)
    expect(withoutTimes(mounted)).toEqual(withoutTimes(want))
    // libfuse 2 limitation (see the top of this file): tar sets the mtime alone (atime UTIME_OMIT),
    // libfuse 2 drops such a request, so every entry keeps the time it was made in the mount.
    for (const [name, e] of Object.entries(mounted.entries)) {
      expect(e.mtime_ms, `${name}: mtime is the extraction time (libfuse 2 drops tar's mtime-only utimensat)`).toBeGreaterThanOrEqual(started - 1000)
    }
    // The same request with both times (touch -d) does set it.
    await mustRun('touch', ['-d', '2001-02-03 04:05:06', join(inMount, 'hard-b-top')])
    expect((await mustRun('stat', ['-c', '%Y', join(inMount, 'hard-b-top')])).trim()).toBe('981173106')

    // tar of the mount lists the same members, owners, modes and sizes as the original archive.
    const fromMount = join(native, 'from-mount.tar')
    await mustRun('tar', ['--numeric-owner', '-cpf', fromMount, '-C', inMount, '.'], { dfs: m.dfs, timeout: 60_000 })
    expect(await tarListing(fromMount)).toEqual(await tarListing(archive))
    const back = join(native, 'tar-back')
    await mustRun('mkdir', [back])
    await mustRun('tar', ['--numeric-owner', '-xpf', fromMount, '--same-owner', '-C', back])
    await expectSameContent(src, back, m)
    const backManifest = await manifest(back, m)
    expect(withoutTimes(backManifest)).toEqual(withoutTimes(want))
    // and the times tar recorded from the mount are the ones the mount shows (to the second)
    expect(backManifest.entries['hard-b-top']?.mtime_ms).toBe(981173106000)
  })

  it('git clone of a local repository into the mount, commit, checkout a branch and back, gc, fsck, status clean', async () => {
    const origin = join(native, 'origin')
    await mustRun('mkdir', [origin])
    await mustGit(['init', '-q'], origin)
    await mustSh(
      `cd '${origin}' && mkdir -p src docs && seq 1 2000 > src/numbers.txt && printf '#!/bin/sh\\necho run\\n' > run.sh && chmod 755 run.sh && ln -s src/numbers.txt numbers && head -c 200000 /dev/urandom > docs/blob.bin && echo readme > README`,
    )
    await mustGit(['add', '-A'], origin)
    await mustGit(['commit', '-q', '-m', 'one'], origin)
    await mustSh(`cd '${origin}' && seq 1 3000 > src/numbers.txt && echo more > docs/more.txt`)
    await mustGit(['add', '-A'], origin)
    await mustGit(['commit', '-q', '-m', 'two'], origin)
    await mustGit(['checkout', '-q', '-b', 'feature'], origin)
    await mustSh(`cd '${origin}' && git rm -q README && chmod 644 run.sh && echo feature > src/feature.txt && head -c 100000 /dev/urandom > docs/blob.bin`)
    await mustGit(['add', '-A'], origin)
    await mustGit(['commit', '-q', '-m', 'feature work'], origin)
    await mustGit(['checkout', '-q', 'main'], origin)
    const originHead = (await mustGit(['rev-parse', 'main'], origin)).trim()

    const clone = join(m.mnt, 'clone')
    await mustGit(['clone', '-q', origin, clone], m.mnt)
    expect((await mustGit(['rev-parse', 'HEAD'], clone)).trim()).toBe(originHead)
    expect(await mustGit(['status', '--porcelain', '--untracked-files=all'], clone)).toBe('')
    expect((await mustRun('stat', ['-c', '%a', join(clone, 'run.sh')])).trim()).toBe('755')
    expect((await mustRun('readlink', [join(clone, 'numbers')])).trim()).toBe('src/numbers.txt')

    // Commit in the mount: an edit, a new file, a rename.
    await mustSh(`cd '${clone}' && echo local >> src/numbers.txt && echo new > new.txt && git mv docs/more.txt docs/renamed.txt`)
    await mustGit(['add', '-A'], clone)
    await mustGit(['commit', '-q', '-m', 'three, in the mount'], clone)
    const mainTree = await mustGit(['ls-files', '-s'], clone)

    await mustGit(['checkout', '-q', '-b', 'feature', 'origin/feature'], clone)
    expect(await mustGit(['status', '--porcelain', '--untracked-files=all'], clone)).toBe('')
    expect(await mustRun('cat', [join(clone, 'src/feature.txt')])).toBe('feature\n')
    expect((await run('test', ['-e', join(clone, 'README')])).code, 'README is gone on feature').toBe(1)
    expect((await mustRun('stat', ['-c', '%a', join(clone, 'run.sh')])).trim()).toBe('644')
    expect(await mustGit(['diff', '--stat', 'origin/feature'], clone)).toBe('')

    await mustGit(['checkout', '-q', 'main'], clone)
    expect(await mustGit(['ls-files', '-s'], clone)).toBe(mainTree)
    expect(await mustGit(['status', '--porcelain', '--untracked-files=all'], clone)).toBe('')
    expect((await mustRun('stat', ['-c', '%a', join(clone, 'run.sh')])).trim()).toBe('755')
    expect((await mustRun('tail', ['-n', '1', join(clone, 'src/numbers.txt')])).trim()).toBe('local')

    await mustGit(['gc', '-q', '--aggressive', '--prune=now'], clone)
    await mustGit(['fsck', '--full', '--strict', '--no-progress'], clone)
    expect(await mustGit(['count-objects', '-v'], clone)).toMatch(/^count: 0$/m)
    expect(await mustGit(['status', '--porcelain', '--untracked-files=all'], clone)).toBe('')
    expect((await mustGit(['log', '--format=%s', 'main'], clone)).trim().split('\n')).toEqual(['three, in the mount', 'two', 'one'])

    // The packed repository in the mount is readable by another git: push back to the origin.
    await mustGit(['push', '-q', 'origin', 'main:from-mount'], clone)
    expect((await mustGit(['rev-parse', 'from-mount'], origin)).trim()).toBe((await mustGit(['rev-parse', 'main'], clone)).trim())
    await mustGit(['fsck', '--full', '--strict', '--no-progress'], origin)

    // An unprivileged user's own repository: git refuses one owned by someone else ("dubious
    // ownership"), so this works only because what 65534 creates in the mount belongs to 65534.
    const mine = join(m.mnt, 'nobody-repo')
    const asNobody = await run(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', `set -e; mkdir '${mine}'; cd '${mine}'; git init -q; seq 1 500 > f; git add f; git commit -q -m mine; echo more >> f; git commit -q -am more; git gc -q --prune=now; git fsck --full --strict --no-progress; git status --porcelain; stat -c %u:%g .git/HEAD`],
      {
        env: { HOME: '/nonexistent', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 'nobody', GIT_AUTHOR_EMAIL: 'n@example.invalid', GIT_COMMITTER_NAME: 'nobody', GIT_COMMITTER_EMAIL: 'n@example.invalid' },
      },
    )
    expectOk(asNobody, 'git as uid 65534 in the mount', m.dfs)
    expect(asNobody.stdout).toBe('65534:65534\n')
  })

  it('npm install of a packed local package inside the mount, offline; node requires it; npm ci again', async () => {
    const pkg = join(native, 'dfs-tiny')
    await mustSh(`mkdir -p '${pkg}/lib' && cd '${pkg}' && cat > package.json <<'EOF'
{ "name": "dfs-tiny", "version": "1.2.3", "main": "index.js", "bin": { "dfs-tiny": "bin.js" }, "files": ["index.js", "bin.js", "lib"] }
EOF
echo "module.exports = { hello: () => 'hello from ' + require('./lib/name').name }" > index.js
echo "module.exports = { name: 'dfs-tiny' }" > lib/name.js
printf '#!/usr/bin/env node\\nconsole.log(require("./index.js").hello())\\n' > bin.js && chmod 755 bin.js`)
    const npmEnv = { npm_config_cache: join(native, 'npm-cache'), npm_config_update_notifier: 'false', npm_config_loglevel: 'error' }
    const tgz = (await mustRun('npm', ['pack', '--silent', '--pack-destination', native], { cwd: pkg, env: npmEnv })).trim()
    expect(tgz).toBe('dfs-tiny-1.2.3.tgz')

    const project = join(m.mnt, 'project')
    await mustSh(`mkdir '${project}' && echo '{ "name": "project", "version": "1.0.0", "private": true }' > '${project}/package.json'`)
    const npm = (args: string[]) => mustRun('npm', [...args, '--offline', '--no-audit', '--no-fund'], { cwd: project, env: npmEnv, dfs: m.dfs, timeout: 60_000 })
    await npm(['install', join(native, tgz)])
    const requireIt = ['-e', "process.stdout.write(require('dfs-tiny').hello())"]
    expect(await mustRun('node', requireIt, { cwd: project })).toBe('hello from dfs-tiny')
    expect(await mustRun(join(project, 'node_modules/.bin/dfs-tiny'), [], { cwd: project })).toBe('hello from dfs-tiny\n')
    expect((await mustRun('stat', ['-c', '%a', join(project, 'node_modules/dfs-tiny/bin.js')])).trim()).toBe('755')
    const lock = JSON.parse(await mustRun('cat', [join(project, 'package-lock.json')]))
    expect(lock.packages['node_modules/dfs-tiny'].version).toBe('1.2.3')
    await mustRun('npm', ['ls', 'dfs-tiny'], { cwd: project, env: npmEnv })

    // npm ci removes node_modules (rm -rf in the mount) and installs again from the lock file.
    await npm(['ci'])
    expect(await mustRun('node', requireIt, { cwd: project })).toBe('hello from dfs-tiny')
  })

  it('saves like an editor (temp, fsync, os.replace) 25 times: readers never see a torn file; owner, mode and xattr kept; no temp left', async () => {
    const d = join(m.mnt, 'editor')
    await mustRun('mkdir', [d])
    const r = await pyJson(
      String.raw`
import threading, time, stat
d, chunk = sys.argv[1], int(sys.argv[2])
path = os.path.join(d, 'notes.txt')
sizes = [100, chunk - 1, chunk, chunk + 1, 3 * chunk + 17, 5000, 2 * chunk]
def make(v):
    head = b'version %d\n' % v
    n = sizes[v % len(sizes)] - len(head)
    pattern = bytes((v * 31 + i) % 251 for i in range(251))
    return head + (pattern * (n // 251 + 1))[:n]
versions = [make(v) for v in range(26)]
def content(v):
    return versions[v]
with open(path, 'wb') as f:
    f.write(content(0))
os.chown(path, 65534, 65534)
os.chmod(path, 0o640)
os.setxattr(path, 'user.mime_type', b'text/plain')

done = threading.Event()
reads, torn = [0], []
def reader():
    while not done.is_set():
        with open(path, 'rb') as f:
            data = f.read()
        v = int(data.split(b'\n', 1)[0].split()[1])
        if data != content(v):
            torn.append((v, len(data)))
        reads[0] += 1
t = threading.Thread(target=reader)
t.start()
saved = []
for v in range(1, 26):
    st = os.stat(path)
    tmp = os.path.join(d, '.notes.txt.%d~' % v)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    data = content(v)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    # keep what the file was: owner, permission bits, extended attributes
    os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    for name in os.listxattr(path):
        os.setxattr(fd, name, os.getxattr(path, name))
    os.fsync(fd)
    os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)
    with open(path, 'rb') as f:
        saved.append(f.read() == data)
done.set()
t.join()
# libfuse 2 keeps a replaced file the reader still had open as .fuse_hidden* until it is released
deadline = time.time() + 20
while len(os.listdir(d)) > 1 and time.time() < deadline:
    time.sleep(0.05)
st = os.stat(path)
emit({'saved': saved.count(True), 'reads': reads[0] > 0, 'torn': torn, 'listing': sorted(os.listdir(d)),
      'mode': oct(stat.S_IMODE(st.st_mode)), 'owner': [st.st_uid, st.st_gid], 'xattr': os.getxattr(path, 'user.mime_type').decode(),
      'sha256': __import__('hashlib').sha256(content(25)).hexdigest()})
`,
      [d, String(CHUNK)],
      m.dfs,
    )
    const { sha256: expectedSha, ...rest } = r as { sha256: string }
    expect(rest).toEqual({ saved: 25, reads: true, torn: [], listing: ['notes.txt'], mode: '0o640', owner: [65534, 65534], xattr: 'text/plain' })
    // and another process reads the last version
    expect((await mustRun('sha256sum', [join(d, 'notes.txt')])).split(' ')[0]).toBe(expectedSha)
  })

  it.each(['delete', 'wal'])('sqlite3 (journal_mode=%s) builds and updates a database; integrity ok; the same as on native disk', async mode => {
    const script = sqliteScript(mode)
    const results: Record<string, { out: string; dump: string }> = {}
    for (const [where, dir] of [['native', native], ['mount', m.mnt]] as const) {
      const db = join(dir, `db-${mode}.sqlite`)
      const out = await mustRun('sqlite3', ['-bail', db], { input: script, dfs: m.dfs, timeout: 60_000 })
      // reopen in a new process: the committed state, intact
      const again = await mustRun('sqlite3', [db, 'PRAGMA integrity_check; SELECT count(*), sum(n), sum(length(payload)) FROM items;'], { dfs: m.dfs })
      const dump = await mustSh(`sqlite3 '${db}' .dump | sha256sum`, { dfs: m.dfs })
      results[where] = { out: out + again, dump }
      // no journal, WAL or shared-memory file left once the last connection has closed
      expect((await mustRun('ls', ['-a', dir])).split('\n').filter(n => n.startsWith(`db-${mode}.sqlite`))).toEqual([`db-${mode}.sqlite`])
    }
    expect(results.mount!.out).toMatch(new RegExp(`^${mode}\nok\n2400\\|`))
    expect(results.mount!.out.split('\n').filter(l => l === 'ok').length).toBe(2)
    expect(results.mount).toEqual(results.native)
  })
})

/**
 * sqlite3 input: 3,000 rows in 30 transactions (payloads from 50 B to 3 KB, so some rows spill into
 * overflow pages), an index, 200 single-row autocommit updates (each its own journal and fsyncs),
 * an UPDATE and a DELETE of many rows, VACUUM (rewrites the file through a temp database), then
 * integrity_check and totals.
 */
function sqliteScript(mode: string): string {
  const lines = [
    `PRAGMA journal_mode=${mode};`,
    'CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, payload TEXT, n INTEGER);',
    'CREATE INDEX items_name ON items(name);',
  ]
  for (let b = 0; b < 30; b++) {
    lines.push(
      'BEGIN;',
      `WITH RECURSIVE c(x) AS (SELECT ${b * 100 + 1} UNION ALL SELECT x + 1 FROM c WHERE x < ${(b + 1) * 100})`,
      `  INSERT INTO items(name, payload, n) SELECT printf('item-%05d', x), substr(replace(hex(zeroblob(1600)), '00', char(65 + x % 26, 97 + x % 7)), 1, 50 + (x * 37) % 3000), x FROM c;`,
      'COMMIT;',
    )
  }
  for (let i = 0; i < 200; i++) lines.push(`UPDATE items SET n = n + ${i} WHERE id = ${(i * 97) % 3000 + 1};`)
  lines.push(
    "BEGIN; UPDATE items SET payload = upper(payload) || '-updated', n = n * 2 WHERE id % 7 = 0; COMMIT;",
    'BEGIN; DELETE FROM items WHERE id % 5 = 0; COMMIT;',
    'VACUUM;',
    'PRAGMA integrity_check;',
    'SELECT count(*), sum(n), sum(length(payload)) FROM items;',
  )
  return lines.join('\n') + '\n'
}

/**
 * `tar -tvf` of an archive, order-free and with the times left out (see the top of this file): one
 * line per member `type+mode owner size name [-> target]`, where the names of a hard-link group
 * become one line listing them all (which name tar stores as the file depends on readdir order).
 */
async function tarListing(archive: string): Promise<string[]> {
  const out = await mustRun('tar', ['--numeric-owner', '-tvf', archive])
  const lines: string[] = []
  const linkOf = new Map<string, string>()
  const members = new Map<string, string>()
  for (const line of out.trim().split('\n')) {
    const m = /^(\S+) (\S+) +(\d+|\d+,\d+) \S+ \S+ (.*)$/.exec(line)
    if (!m) throw new Error(`unexpected tar -tv line: ${line}`)
    const [, perm, owner, size, rest] = m as unknown as [string, string, string, string, string]
    const hard = / link to (.*)$/.exec(rest)
    if (perm.startsWith('h') && hard) {
      linkOf.set(rest.slice(0, hard.index), hard[1]!)
      continue
    }
    members.set(rest.replace(/ -> .*$/, ''), `${perm} ${owner} ${size} ${rest}`)
  }
  const groups = new Map<string, string[]>()
  for (const [name, target] of linkOf) groups.set(target, [...(groups.get(target) ?? [target]), name])
  for (const [name, line] of members) {
    const group = groups.get(name)
    lines.push(group ? `${line.split(' ').slice(0, 3).join(' ')} hard links: ${group.sort().join(' ')}` : line)
  }
  return lines.sort()
}
