// Everyday tools on a mounted dfs: cp -r and diff -r of a real tree, tar in and out, git (init, add,
// commit, log, status, fsck, gc, clone) working inside the mount, and an editor's save (write a
// temp file, fsync, rename over the original).
//
// The tree is a snapshot of this checkout's node_modules (≈3,000 files, ≈120 MB, with symlinks and
// empty folders), taken to native disk first so a concurrent npm install cannot change it under us.
// date-fns is left out: 5,000 near-identical locale files (pino-roll's dependency) were two thirds
// of the tree, doubling the test's time without a kind of file the rest lacks.

import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, stopAllAfterAll } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'
import { type MountedCluster, expectOk, mountFresh, mustRun, mustSh, pyJson } from './fixtures.js'

stopAllAfterAll()

/** A listing that diff -r does not check: type, permission bits, size of files, symlink targets. */
function listing(dir: string): Promise<string> {
  return mustSh(`cd '${dir}' && find . \\( -type f -printf '%y %m %s %p\\n' \\) -o \\( ! -type f -printf '%y %m %p -> %l\\n' \\) | LC_ALL=C sort`)
}

/** git with an identity and no user or system configuration. */
function git(args: string[], cwd: string) {
  return run('git', ['-c', 'user.name=dfs test', '-c', 'user.email=dfs@example.invalid', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    env: { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    timeout: 120_000,
  })
}

async function mustGit(args: string[], cwd: string, m: MountedCluster): Promise<string> {
  const r = await git(args, cwd)
  expectOk(r, `git ${args.join(' ')} (in ${cwd})`, m.dfs)
  return r.stdout
}

describe('tools on a mount with 64 KiB chunks', () => {
  let m: MountedCluster
  let native: string
  let tree: string
  let fileCount: number

  beforeAll(async () => {
    m = await mountFresh({ chunkSize: '64k', replicas: 2 })
    native = makeTempDir('dfs-tools-native-').path
    tree = join(native, 'tree')
    await mustRun('cp', ['-a', join(REPO_ROOT, 'node_modules'), tree], { timeout: 120_000 })
    await mustRun('rm', ['-rf', join(tree, 'date-fns')])
    // An empty directory and an empty file too (node_modules may have neither).
    await mustSh(`mkdir -p '${tree}/.empty-dir/inner' && : > '${tree}/.empty-file'`)
    fileCount = Number((await mustSh(`find '${tree}' -type f | wc -l`)).trim())
    expect(fileCount, 'files in the node_modules snapshot').toBeGreaterThan(500)
  })

  it('cp -r a real tree into the mount and back out: diff -r finds no difference', async () => {
    const inMount = join(m.mnt, 'cp-tree')
    const out = join(native, 'cp-out')
    // What cp -r does on native disk (it drops setuid/setgid bits, for one) is the reference.
    const reference = join(native, 'cp-reference')
    await mustRun('cp', ['-r', tree, reference], { timeout: 120_000 })
    const expected = await listing(reference)

    await mustRun('cp', ['-r', tree, inMount], { dfs: m.dfs, timeout: 120_000 })
    expectOk(await run('diff', ['-r', '--no-dereference', tree, inMount], { timeout: 120_000 }), 'diff -r of the tree and its copy in the mount', m.dfs)
    expect(Number((await mustSh(`find '${inMount}' -type f | wc -l`)).trim())).toBe(fileCount)
    expect(await listing(inMount)).toBe(expected)

    await mustRun('cp', ['-r', inMount, out], { dfs: m.dfs, timeout: 120_000 })
    expectOk(await run('diff', ['-r', '--no-dereference', tree, out], { timeout: 120_000 }), 'diff -r of the tree and the copy out of the mount', m.dfs)
    expect(await listing(out)).toBe(expected)
  })

  it('tar x into the mount, and tar c of the mount piped into tar x elsewhere', async () => {
    const archive = join(native, 'tree.tar')
    const untarred = join(m.mnt, 'tar-tree')
    const back = join(native, 'tar-back')
    await mustRun('tar', ['-C', tree, '-cf', archive, '.'], { timeout: 120_000 })

    await mustRun('mkdir', [untarred])
    await mustRun('tar', ['-C', untarred, '-xf', archive], { dfs: m.dfs, timeout: 120_000 })
    expectOk(await run('diff', ['-r', '--no-dereference', tree, untarred], { timeout: 120_000 }), 'diff -r after tar x into the mount', m.dfs)
    // tar x as root restores permission bits exactly.
    expect(await listing(untarred)).toBe(await listing(tree))

    await mustRun('mkdir', [back])
    await mustSh(`tar -C '${untarred}' -cf - . | tar -C '${back}' -xf -`, { dfs: m.dfs, timeout: 120_000 })
    expectOk(await run('diff', ['-r', '--no-dereference', tree, back], { timeout: 120_000 }), 'diff -r after tar c of the mount | tar x', m.dfs)
    expect(await listing(back)).toBe(await listing(tree))
    // And the archive tar makes of the mount lists the same members as the original archive.
    const members = (file: string) => mustSh(`tar -tf '${file}' | LC_ALL=C sort`)
    await mustSh(`tar -C '${untarred}' -cf '${native}/from-mount.tar' .`)
    expect(await members(join(native, 'from-mount.tar'))).toBe(await members(archive))
  })

  it('git init, add, commit, log, status, fsck, gc and clone inside the mount', async () => {
    const repo = join(m.mnt, 'repo')
    await mustRun('mkdir', [repo])
    await mustRun('cp', ['-r', join(REPO_ROOT, 'src'), join(repo, 'src')])
    await mustRun('cp', [join(REPO_ROOT, 'package.json'), repo])
    await mustSh(`head -c 300000 /dev/urandom > '${repo}/blob.bin'`)
    await mustGit(['init', '-q'], repo, m)
    await mustGit(['add', '-A'], repo, m)
    await mustGit(['commit', '-q', '-m', 'first commit'], repo, m)

    // A second commit: an edit, a new file, a removal and a rename.
    const files = (await mustGit(['ls-files'], repo, m)).trim().split('\n')
    expect(files.length).toBeGreaterThan(10)
    await mustSh(`echo '// edited in the mount' >> '${repo}/${files[0]}'; echo new > '${repo}/NEW.txt'`)
    await mustGit(['rm', '-q', files[1]!], repo, m)
    await mustGit(['mv', files[2]!, 'renamed.ts'], repo, m)
    await mustGit(['add', '-A'], repo, m)
    await mustGit(['commit', '-q', '-m', 'second commit'], repo, m)

    expect((await mustGit(['log', '--format=%s'], repo, m)).trim().split('\n')).toEqual(['second commit', 'first commit'])
    expect(await mustGit(['status', '--porcelain', '--untracked-files=all'], repo, m), 'git status is clean').toBe('')
    await mustGit(['fsck', '--full', '--strict', '--no-progress'], repo, m)
    // gc packs every object and rewrites refs: many renames and fsyncs.
    await mustGit(['gc', '-q', '--aggressive', '--prune=now'], repo, m)
    await mustGit(['fsck', '--full', '--strict', '--no-progress'], repo, m)
    expect(await mustGit(['status', '--porcelain'], repo, m)).toBe('')
    const head = (await mustGit(['rev-parse', 'HEAD'], repo, m)).trim()

    // Clone within the mount (the default local clone hard-links objects), and with --no-local.
    for (const [name, extra] of [['clone', []], ['clone-copy', ['--no-local']]] as const) {
      const clone = join(m.mnt, name)
      await mustGit(['clone', '-q', ...extra, repo, clone], m.mnt, m)
      expect((await mustGit(['rev-parse', 'HEAD'], clone, m)).trim()).toBe(head)
      await mustGit(['fsck', '--full', '--strict', '--no-progress'], clone, m)
      expect(await mustGit(['status', '--porcelain'], clone, m)).toBe('')
      // Same tracked content as the original working tree.
      expect(await mustGit(['ls-files', '-s'], clone, m)).toBe(await mustGit(['ls-files', '-s'], repo, m))
      expectOk(await run('diff', ['-r', '-x', '.git', repo, clone]), `diff -r of the repository and ${name}`, m.dfs)
    }
  })

  it("saves like an editor: write a temp file, fsync, rename over the original", async () => {
    const d = join(m.mnt, 'editor')
    await mustRun('mkdir', [d])
    const r = await pyJson(
      `
d = sys.argv[1]
path = os.path.join(d, 'document.txt')
with open(path, 'w') as f:
    f.write('version 1\\n' * 10000)
os.chmod(path, 0o640)
ino_before = os.stat(path).st_ino
reader = open(path)              # someone still reading the old version
saved = []
for version in range(2, 6):
    tmp = os.path.join(d, '.document.txt.swp')
    content = ('version %d\\n' % version) * (10000 + version * 997)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, os.stat(path).st_mode & 0o7777)
    os.rename(tmp, path)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)
    with open(path) as f:
        saved.append(f.read() == content)
old_reader = reader.read() == 'version 1\\n' * 10000
reader.close()
# libfuse 2 keeps the replaced, still open file as .fuse_hidden* until that close is released.
import time
deadline = time.time() + 20
while len(os.listdir(d)) > 1 and time.time() < deadline:
    time.sleep(0.05)
emit({
  'saved': saved,
  'old_reader': old_reader,
  'listing': sorted(os.listdir(d)),
  'mode': oct(os.stat(path).st_mode & 0o7777),
  'new_inode': os.stat(path).st_ino != ino_before,
})
`,
      [d],
      m.dfs,
    )
    expect(r).toEqual({ saved: [true, true, true, true], old_reader: true, listing: ['document.txt'], mode: '0o640', new_inode: true })
    // Read back by another process too.
    const text = (await mustRun('cat', [join(d, 'document.txt')])).split('\n')
    expect(text.length).toBe(10000 + 5 * 997 + 1)
    expect(new Set(text.slice(0, -1))).toEqual(new Set(['version 5']))
  })
})
