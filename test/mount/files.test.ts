// Files on a mounted dfs, reached the way users reach them: cp, cat, cmp, dd, truncate, mv, ln,
// stat, python3. One cluster with 64 KiB chunks (chunk boundaries are cheap to cross) serves most
// tests; a second one with the default 4 MiB chunks takes a file over 50 MiB. The last test unmounts
// and mounts again, and expects everything the earlier tests left behind to be there unchanged.

import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { stopAllAfterAll } from '../helpers/mount.js'
import { run, runBuffer } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'
import {
  KiB, MiB, type MountedCluster, PY_MANIFEST, PY_RANDOM_IO, expectOk, mountFresh, mustRun, mustSh, py, pyJson, remount,
  sha256, testSeed, writeRandomNative,
} from './fixtures.js'

stopAllAfterAll()

const CHUNK = 64 * KiB

/** Copy in with cp, compare with cmp, copy out with cat, and compare sha256 of all three. */
async function roundTrip(m: MountedCluster, native: string, size: number, name: string): Promise<void> {
  const src = join(native, `${name}.src`)
  const out = join(native, `${name}.out`)
  const dst = join(m.mnt, name)
  await writeRandomNative(src, size)
  await mustRun('cp', [src, dst], { dfs: m.dfs })
  expectOk(await run('cmp', [src, dst]), `cmp ${name} (${size} bytes)`, m.dfs)
  expect((await mustRun('stat', ['-c', '%s', dst])).trim()).toBe(String(size))
  await mustSh(`cat '${dst}' > '${out}'`, { dfs: m.dfs })
  const [a, b, c] = await Promise.all([sha256(src), sha256(dst), sha256(out)])
  expect(b, `sha256 of ${dst}`).toBe(a)
  expect(c, `sha256 of the copy cat made of ${dst}`).toBe(a)
}

/** The bytes of a file on the mount, read by cat. */
async function catBytes(path: string): Promise<Buffer> {
  const r = await runBuffer('cat', [path])
  expect(r.code, `cat ${path}: ${r.stderr}`).toBe(0)
  return r.stdout
}

async function statOf(path: string, format: string): Promise<string> {
  return (await mustRun('stat', ['-c', format, path])).trim()
}

describe('files on a mount with 64 KiB chunks', () => {
  let m: MountedCluster
  let native: string

  beforeAll(async () => {
    // A small dirty budget too, so writers also hit the store-under-memory-pressure path.
    m = await mountFresh({ chunkSize: '64k', replicas: 2, extraArgs: ['--cache', '8M', '--dirty', '1M'] })
    native = makeTempDir('dfs-files-native-').path
  })

  it('copies files of sizes around chunk boundaries in and out unchanged', async () => {
    await mkdir(join(native, 'sizes'))
    await mustRun('mkdir', [join(m.mnt, 'sizes')])
    const sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 37 * CHUNK + 12_345]
    for (const size of sizes) await roundTrip(m, native, size, `sizes/f${size}`)
    // All of them still there, with their sizes, as a directory listing shows them.
    const listed = (await mustRun('find', [join(m.mnt, 'sizes'), '-type', 'f', '-printf', '%f %s\n'])).trim().split('\n').sort()
    expect(listed).toEqual(sizes.map(s => `f${s} ${s}`).sort())
  })

  it('matches a native file through ~2,000 seeded random pwrite/pread/ftruncate/append operations', async () => {
    // Two files at once, each with its own seed: the daemon interleaves their chunk buffers and stores.
    const base = testSeed()
    const seeds = [base, base + 1]
    await mustRun('mkdir', [join(m.mnt, 'random')])
    const files = seeds.map((seed, i) => ({ seed, native: join(native, `random${i}.bin`), mounted: join(m.mnt, 'random', `random${i}.bin`) }))
    const results = await Promise.all(
      files.map(f => py(PY_RANDOM_IO, [f.native, f.mounted, String(f.seed), '2000', String(CHUNK)], { timeout: 120_000 })),
    )
    for (const [i, f] of files.entries()) {
      expectOk(results[i]!, `random I/O with seed ${f.seed} (DFS_TEST_SEED=${base} repeats this test)`, m.dfs)
      expectOk(await run('cmp', [f.native, f.mounted]), `cmp after random I/O with seed ${f.seed}`, m.dfs)
    }
  })

  it('overwrites the middle of a file in place with dd conv=notrunc', async () => {
    const src = join(native, 'dd.src')
    const patch = join(native, 'dd.patch')
    const f = join(m.mnt, 'dd.bin')
    const expected = await writeRandomNative(src, 5 * CHUNK + 100)
    const patchBytes = await writeRandomNative(patch, 3 * KiB)
    await mustRun('cp', [src, f])
    // Straddles the boundary between chunks 1 and 2.
    const at = 2 * CHUNK - 1000
    await mustRun('dd', [`if=${patch}`, `of=${f}`, 'bs=4096', `seek=${at}`, 'oflag=seek_bytes', 'conv=notrunc', 'status=none'])
    patchBytes.copy(expected, at)
    // And one byte at the very end, which must not move the end of the file.
    await mustSh(`printf 'Z' | dd of='${f}' bs=1 seek=${expected.length - 1} conv=notrunc status=none`)
    expected[expected.length - 1] = 'Z'.charCodeAt(0)
    const got = await catBytes(f)
    expect(got.length).toBe(expected.length)
    expect(got.equals(expected)).toBe(true)
  })

  it('truncate grows a file with zeros and shrinks it, and old bytes never come back', async () => {
    const src = join(native, 'tr.src')
    const f = join(m.mnt, 'tr.bin')
    const data = await writeRandomNative(src, 3 * CHUNK + 500)
    await mustRun('cp', [src, f])

    await mustRun('truncate', ['-s', String(6 * CHUNK + 7), f])
    expect(await statOf(f, '%s')).toBe(String(6 * CHUNK + 7))
    let got = await catBytes(f)
    expect(got.subarray(0, data.length).equals(data)).toBe(true)
    expect(got.subarray(data.length).every(b => b === 0), 'the grown part reads as zeros').toBe(true)

    // Shrink into the middle of chunk 1, then grow again: the cut-off bytes must read as zeros.
    const cut = CHUNK + 1234
    await mustRun('truncate', ['-s', String(cut), f])
    expect(await statOf(f, '%s')).toBe(String(cut))
    got = await catBytes(f)
    expect(got.equals(data.subarray(0, cut))).toBe(true)
    await mustRun('truncate', ['-s', String(3 * CHUNK), f])
    got = await catBytes(f)
    expect(got.length).toBe(3 * CHUNK)
    expect(got.subarray(0, cut).equals(data.subarray(0, cut))).toBe(true)
    expect(got.subarray(cut).every(b => b === 0), 'bytes cut off by a shrink must not come back').toBe(true)

    await mustRun('truncate', ['-s', '0', f])
    expect(await statOf(f, '%s')).toBe('0')
    expect((await catBytes(f)).length).toBe(0)
  })

  it('keeps a 1 GiB sparse file sparse: du is small and the hole reads as zeros', async () => {
    const f = join(m.mnt, 'sparse.bin')
    const G = 1024 * MiB
    await mustRun('truncate', ['-s', '1G', f])
    // Write at the very end, through a separate open with seek.
    await mustSh(`printf 'tail' | dd of='${f}' bs=1 seek=${G} conv=notrunc status=none`)
    expect(await statOf(f, '%s')).toBe(String(G + 4))
    const du = Number((await mustRun('du', ['-k', f])).split('\t')[0])
    expect(du, 'du -k of a 1 GiB file with 4 bytes written').toBeLessThan(1024)
    // The whole hole is zeros (cmp against /dev/zero), and the tail is what was written.
    expectOk(await run('cmp', ['-n', String(G), f, '/dev/zero'], { timeout: 120_000 }), 'cmp hole with /dev/zero', m.dfs)
    const end = await runBuffer('tail', ['-c', '4', f])
    expect(end.stdout.toString()).toBe('tail')
    // A few reads from inside the hole, across chunk boundaries.
    for (const at of [0, CHUNK - 10, 777 * CHUNK + 3, G - 10]) {
      const r = await runBuffer('dd', [`if=${f}`, 'bs=100', `skip=${at}`, 'iflag=skip_bytes', 'count=1', 'status=none'])
      expect(r.code).toBe(0)
      const expected = Buffer.alloc(100)
      if (at + 100 > G) Buffer.from('tail').copy(expected, G - at)
      expect(r.stdout.equals(expected.subarray(0, Math.min(100, G + 4 - at))), `read at ${at}`).toBe(true)
    }
  })

  it('appends with >> across chunk boundaries', async () => {
    const f = join(m.mnt, 'append.bin')
    const pieces: Buffer[] = []
    for (const [i, size] of [1, CHUNK - 1, 2, 100_000, 7, 3 * CHUNK].entries()) {
      const p = join(native, `append.${i}`)
      pieces.push(await writeRandomNative(p, size))
      await mustSh(`cat '${p}' >> '${f}'`)
    }
    await mustSh(`echo 'a line' >> '${f}'`)
    pieces.push(Buffer.from('a line\n'))
    expect((await catBytes(f)).equals(Buffer.concat(pieces))).toBe(true)
  })

  it('mkdir -p, rmdir of a non-empty directory, mv, rename over a file and into its own subtree, rm -r', async () => {
    const d = join(m.mnt, 'dirs')
    const deep = join(d, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h')
    await mustRun('mkdir', ['-p', deep])
    await mustSh(`echo deep > '${deep}/file'`)
    expect((await run('cat', [join(deep, 'file')])).stdout).toBe('deep\n')
    expect(await statOf(join(d, 'a'), '%F %h')).toBe('directory 3')

    const rm = await run('rmdir', [join(d, 'a')])
    expect(rm.code, 'rmdir of a non-empty directory').not.toBe(0)
    expect(rm.stderr).toMatch(/Directory not empty/)
    expect(await pyJson('emit(errno_of(os.rmdir, sys.argv[1]))', [join(d, 'a', 'b')])).toBe('ENOTEMPTY')
    expect(await pyJson('emit(errno_of(os.rmdir, sys.argv[1]))', [join(d, 'nonexistent')])).toBe('ENOENT')
    expect(await pyJson('emit(errno_of(os.rmdir, sys.argv[1]))', [join(deep, 'file')])).toBe('ENOTDIR')

    // mv of a file to another directory, and of a directory with its contents.
    await mustSh(`echo moved > '${d}/m1'`)
    await mustRun('mv', [join(d, 'm1'), join(d, 'a', 'b', 'm2')])
    expect((await run('test', ['-e', join(d, 'm1')])).code, 'the old name is gone').toBe(1)
    expect((await run('cat', [join(d, 'a', 'b', 'm2')])).stdout).toBe('moved\n')
    await mustRun('mv', [join(d, 'a', 'b', 'c'), join(d, 'c2')])
    expect((await run('cat', [join(d, 'c2', 'd', 'e', 'f', 'g', 'h', 'file')])).stdout).toBe('deep\n')
    expect((await run('test', ['-e', join(d, 'a', 'b', 'c')])).code).toBe(1)
    expect(await statOf(join(d, 'a', 'b'), '%h'), 'b lost its subdirectory c').toBe('2')

    // Rename over an existing file (atomic replace), and a file still open under the old name.
    const result = await pyJson(
      `
d = sys.argv[1]
open(d + '/target', 'w').write('old content')
open(d + '/new', 'w').write('new content')
reader = open(d + '/target')
os.rename(d + '/new', d + '/target')
emit({'through_open_fd': reader.read(), 'now': open(d + '/target').read(), 'new_exists': os.path.exists(d + '/new'),
      'names': sorted(n for n in os.listdir(d) if n in ('new', 'target'))})
`,
      [d],
    )
    expect(result).toEqual({ through_open_fd: 'old content', now: 'new content', new_exists: false, names: ['target'] })

    // A directory cannot move into its own subtree; other rename rules.
    const rules = await pyJson(
      `
d = sys.argv[1]
os.makedirs(d + '/full/x')
os.makedirs(d + '/empty')
open(d + '/plain', 'w').close()
emit({
  'into_subtree': errno_of(os.rename, d + '/a', d + '/a/b/inside'),
  'into_itself': errno_of(os.rename, d + '/a', d + '/a/inside'),
  'dir_over_nonempty_dir': errno_of(os.rename, d + '/empty', d + '/full'),
  'dir_over_file': errno_of(os.rename, d + '/empty', d + '/plain'),
  'file_over_dir': errno_of(os.rename, d + '/plain', d + '/empty'),
  'missing_source': errno_of(os.rename, d + '/nothing', d + '/other'),
  'dir_over_empty_dir': errno_of(os.rename, d + '/full/x', d + '/empty'),
  'after': sorted(os.listdir(d + '/full')),
})
`,
      [d],
    )
    expect(rules).toEqual({
      into_subtree: 'EINVAL', into_itself: 'EINVAL', dir_over_nonempty_dir: 'ENOTEMPTY', dir_over_file: 'ENOTDIR',
      file_over_dir: 'EISDIR', missing_source: 'ENOENT', dir_over_empty_dir: 'ok', after: [],
    })
    expect((await run('cat', [join(d, 'a', 'b', 'm2')])).stdout, 'the failed renames changed nothing').toBe('moved\n')

    // rm -r of a tree with files in it.
    await mustSh(`for i in $(seq 1 30); do echo $i > '${d}/c2/d/file'$i; done`)
    await mustRun('rm', ['-r', join(d, 'c2')])
    expect((await run('test', ['-e', join(d, 'c2')])).code).toBe(1)
    expect((await mustRun('ls', ['-A', d])).trim().split('\n').sort()).toEqual(['a', 'empty', 'full', 'plain', 'target'])
  })

  it('symlinks and hard links', async () => {
    const d = join(m.mnt, 'links')
    await mustRun('mkdir', [d])
    await mustSh(`echo content > '${d}/file'`)
    await mustRun('ln', ['-s', 'file', join(d, 'sym')])
    await mustRun('ln', ['-s', '../links/missing', join(d, 'dangling')])
    expect((await mustRun('readlink', [join(d, 'sym')])).trim()).toBe('file')
    expect(await statOf(join(d, 'sym'), '%F')).toBe('symbolic link')
    expect((await run('cat', [join(d, 'sym')])).stdout, 'reading through the symlink').toBe('content\n')
    expect((await mustRun('readlink', [join(d, 'dangling')])).trim()).toBe('../links/missing')
    const dangling = await run('cat', [join(d, 'dangling')])
    expect(dangling.code).not.toBe(0)
    expect(dangling.stderr).toMatch(/No such file or directory/)

    // Hard link: one inode, two names.
    const a = join(d, 'hard-a')
    const b = join(d, 'hard-b')
    await mustSh(`printf 'first\\n' > '${a}'`)
    await mustRun('ln', [a, b])
    expect(await statOf(a, '%i')).toBe(await statOf(b, '%i'))
    expect(await statOf(a, '%h')).toBe('2')
    expect(await statOf(b, '%h')).toBe('2')
    // Content is shared both ways.
    await mustSh(`printf 'second\\n' >> '${a}'`)
    expect((await run('cat', [b])).stdout).toBe('first\nsecond\n')
    await mustSh(`printf 'FIRST' | dd of='${b}' conv=notrunc status=none`)
    expect((await run('cat', [a])).stdout).toBe('FIRST\nsecond\n')
    // Appends through either name land at the real end (the other name's view of the size is not stale).
    await mustSh(`printf 'third\\n' >> '${a}'; printf 'fourth\\n' >> '${b}'; printf 'fifth\\n' >> '${a}'`)
    expect((await run('cat', [b])).stdout).toBe('FIRST\nsecond\nthird\nfourth\nfifth\n')
    expect(await statOf(a, '%s %h')).toBe(await statOf(b, '%s %h'))
    await mustRun('chmod', ['0604', a])
    expect(await statOf(b, '%a')).toBe('604')
    // Remove one name: the other keeps the content, with one link left.
    await mustRun('rm', [a])
    expect((await run('test', ['-e', a])).code).toBe(1)
    expect(await statOf(b, '%h')).toBe('1')
    expect((await run('cat', [b])).stdout).toBe('FIRST\nsecond\nthird\nfourth\nfifth\n')
    // Hard links to a directory are refused.
    const dirLink = await run('ln', [join(m.mnt, 'dirs'), join(d, 'dirlink')])
    expect(dirLink.code).not.toBe(0)
  })

  it('chmod, chown and touch -d show in stat', async () => {
    const f = join(m.mnt, 'attrs.txt')
    await mustSh(`echo attrs > '${f}'`)
    await mustRun('chmod', ['0741', f])
    await mustRun('chown', ['1234:5678', f])
    await mustRun('touch', ['-d', '2001-02-03 04:05:06', f])
    const expectedTime = String(Math.floor(new Date('2001-02-03T04:05:06').getTime() / 1000))
    expect(await statOf(f, '%a %u %g %X %Y')).toBe(`741 1234 5678 ${expectedTime} ${expectedTime}`)
    await mustRun('chmod', ['u+s,o-x', f])
    expect(await statOf(f, '%a')).toBe('4740')
    const dir = join(m.mnt, 'attrs-dir')
    await mustRun('mkdir', ['-m', '0750', dir])
    expect(await statOf(dir, '%a %F')).toBe('750 directory')
    await mustRun('chmod', ['0705', dir])
    await mustRun('touch', ['-d', '1999-12-31 23:59:59', dir])
    expect(await statOf(dir, '%a %Y')).toBe(`705 ${Math.floor(new Date('1999-12-31T23:59:59').getTime() / 1000)}`)
  })

  it('extended attributes in the user namespace', async () => {
    const f = join(m.mnt, 'xattr.txt')
    await mustSh(`echo x > '${f}'`)
    const r = await pyJson(
      `
f = sys.argv[1]
value = bytes(range(256)) * 16
os.setxattr(f, 'user.one', b'1')
os.setxattr(f, 'user.bin', value)
got = {'one': os.getxattr(f, 'user.one').decode(), 'bin_ok': os.getxattr(f, 'user.bin') == value,
       'list': sorted(os.listxattr(f))}
got['create_existing'] = errno_of(os.setxattr, f, 'user.one', b'2', os.XATTR_CREATE)
got['replace_missing'] = errno_of(os.setxattr, f, 'user.none', b'2', os.XATTR_REPLACE)
got['replace'] = errno_of(os.setxattr, f, 'user.one', b'22', os.XATTR_REPLACE)
got['one_after'] = os.getxattr(f, 'user.one').decode()
got['get_missing'] = errno_of(os.getxattr, f, 'user.none')
os.removexattr(f, 'user.bin')
got['remove_missing'] = errno_of(os.removexattr, f, 'user.bin')
got['list_after'] = sorted(os.listxattr(f))
# A name list longer than the first buffer a caller tries.
many = ['user.a-rather-long-attribute-name-%02d' % i for i in range(40)]
for n in many:
    os.setxattr(f, n, n.encode())
got['many'] = sorted(os.listxattr(f)) == sorted(many + ['user.one']) and all(os.getxattr(f, n) == n.encode() for n in many)
for n in many:
    os.removexattr(f, n)
emit(got)
`,
      [f],
      m.dfs,
    )
    expect(r).toEqual({
      one: '1', bin_ok: true, list: ['user.bin', 'user.one'], create_existing: 'EEXIST', replace_missing: 'ENODATA',
      replace: 'ok', one_after: '22', get_missing: 'ENODATA', remove_missing: 'ENODATA', list_after: ['user.one'], many: true,
    })
  })

  it('statfs: df and stat -f show a file system with a size', async () => {
    const df = await mustRun('df', ['-B1', '--output=size,avail,target', m.mnt])
    const [size, avail, target] = df.trim().split('\n')[1]!.trim().split(/\s+/)
    expect(Number(size)).toBeGreaterThan(0)
    expect(Number(avail)).toBeGreaterThan(0)
    expect(Number(avail)).toBeLessThanOrEqual(Number(size))
    expect(target).toBe(m.mnt)
    const [blocks, frsize, namemax] = (await mustRun('stat', ['-f', '-c', '%b %S %l', m.mnt])).trim().split(' ').map(Number)
    expect(blocks).toBeGreaterThan(0)
    expect(frsize).toBeGreaterThan(0)
    expect(namemax).toBe(255)
  })

  it('names of 255 bytes work and 256 bytes give ENAMETOOLONG', async () => {
    const r = await pyJson(
      `
d = sys.argv[1]
os.mkdir(d)
ok = 'n' * 255
def create(name):
    with open(os.path.join(d, name), 'w') as f:
        f.write(name[:3])
emit({
  'create_255': errno_of(create, ok),
  'read_255': open(os.path.join(d, ok)).read(),
  'listed': os.listdir(d) == [ok],
  'create_256': errno_of(create, 'n' * 256),
  'mkdir_256': errno_of(os.mkdir, os.path.join(d, 'm' * 256)),
  'rename_256': errno_of(os.rename, os.path.join(d, ok), os.path.join(d, 'r' * 256)),
  'symlink_256': errno_of(os.symlink, 'x', os.path.join(d, 's' * 256)),
  'stat_256': errno_of(os.stat, os.path.join(d, 'n' * 256)),
  'multibyte_255': errno_of(create, 'e' + '\\u00e9' * 127),
  'multibyte_256': errno_of(create, '\\u00e9' * 128),
})
`,
      [join(m.mnt, 'names')],
      m.dfs,
    )
    expect(r).toEqual({
      create_255: 'ok', read_255: 'nnn', listed: true, create_256: 'ENAMETOOLONG', mkdir_256: 'ENAMETOOLONG',
      rename_256: 'ENAMETOOLONG', symlink_256: 'ENAMETOOLONG', stat_256: 'ENAMETOOLONG', multibyte_255: 'ok',
      multibyte_256: 'ENAMETOOLONG',
    })
  })

  it('an unlinked file stays readable and writable until it is closed', async () => {
    const d = join(m.mnt, 'unlinked')
    await mustRun('mkdir', [d])
    // libfuse 2 (without hard_remove, which would break I/O on the open file) keeps an unlinked open
    // file under a hidden name (.fuse_hidden*) until its last close; the name itself is gone at once.
    const r = await pyJson(
      `
import time
d = sys.argv[1]
data = os.urandom(5 * 65536 + 321)
with open(d + '/victim', 'wb') as f:
    f.write(data)
f = open(d + '/victim', 'r+b')
os.unlink(d + '/victim')
gone = errno_of(os.stat, d + '/victim') == 'ENOENT' and 'victim' not in os.listdir(d)
same = f.read() == data
f.seek(65536 - 2)
f.write(b'XYZW')
f.flush()
os.fsync(f.fileno())
f.seek(0)
after = f.read()
expected = data[:65536 - 2] + b'XYZW' + data[65536 + 2:]
f.close()
# The hidden name goes with the last close (release is asynchronous: wait for it).
deadline = time.time() + 20
while os.listdir(d) and time.time() < deadline:
    time.sleep(0.05)
emit({'gone': gone, 'read_after_unlink': same, 'write_after_unlink': after == expected,
      'left_after_close': os.listdir(d), 'rmdir': errno_of(os.rmdir, d)})
`,
      [d],
      m.dfs,
    )
    expect(r).toEqual({ gone: true, read_after_unlink: true, write_after_unlink: true, left_after_close: [], rmdir: 'ok' })
  })

  it('keeps every file and directory, with its bytes, modes and times, across unmount and mount', async () => {
    // Some more state of its own, so this test means something when run alone.
    const p = join(m.mnt, 'persist')
    await mustSh(`
      mkdir -p '${p}/dir/sub' '${p}/empty'
      head -c ${5 * CHUNK + 99} /dev/urandom > '${p}/dir/multi.bin'
      printf 'small' > '${p}/dir/sub/small.txt'
      : > '${p}/zero'
      ln -s dir/sub/small.txt '${p}/link'
      ln '${p}/dir/multi.bin' '${p}/hard'
      chmod 0600 '${p}/dir/multi.bin'; chmod 0755 '${p}/dir/sub'
      chown 4321:8765 '${p}/zero'
      truncate -s ${40 * CHUNK} '${p}/holey'; printf 'x' | dd of='${p}/holey' bs=1 seek=${20 * CHUNK} conv=notrunc status=none
      touch -d '2010-10-10 10:10:10' '${p}/dir/sub/small.txt' '${p}/dir/sub' '${p}/empty'
    `)
    await py("import os, sys; os.setxattr(sys.argv[1], 'user.kept', b'across mounts')", [join(p, 'zero')]).then(r => expectOk(r, 'setxattr'))
    const manifest = async () => JSON.parse(await mustRun('python3', ['-c', PY_MANIFEST, m.mnt], { timeout: 120_000 })) as Record<string, unknown>
    // Taken twice, the second kept: if reading a file ever moves its atime, the first read has done so.
    await manifest()
    const before = await manifest()
    // Everything the earlier tests left is part of it.
    expect(Object.keys(before).length).toBeGreaterThan(20)
    expect(before['persist/zero']).toMatchObject({ uid: 4321, gid: 8765, xattrs: { 'user.kept': Buffer.from('across mounts').toString('hex') } })

    await m.dfs.stop()
    expect(m.dfs.exitStatus(), `the daemon's exit; output: ${m.dfs.output()}`).toEqual({ code: 0, signal: null })
    m = await remount(m)
    const after = await manifest()
    expect(after).toEqual(before)
    // And what was written is readable by plain tools after the remount.
    expect((await run('cat', [join(p, 'link')])).stdout).toBe('small')
    expect(await statOf(join(p, 'hard'), '%h %a')).toBe('2 600')
  })
})

describe('a large file on a mount with the default 4 MiB chunks', () => {
  let m: MountedCluster
  let native: string

  beforeAll(async () => {
    m = await mountFresh({ replicas: 2 })
    native = makeTempDir('dfs-large-native-').path
  })

  it('copies a 64 MiB file in and out unchanged', async () => {
    const size = 64 * MiB + 4097
    const src = join(native, 'large.src')
    const out = join(native, 'large.out')
    const dst = join(m.mnt, 'large.bin')
    // head from /dev/urandom rather than a Buffer in this process: 64 MiB is cheap either way.
    await mustSh(`head -c ${size} /dev/urandom > '${src}'`)
    await mustRun('cp', [src, dst], { dfs: m.dfs, timeout: 120_000 })
    expectOk(await run('cmp', [src, dst], { timeout: 120_000 }), 'cmp of the large file', m.dfs)
    await mustSh(`cat '${dst}' > '${out}'`, { timeout: 120_000 })
    const [a, b, c] = await Promise.all([sha256(src), sha256(dst), sha256(out)])
    expect(b).toBe(a)
    expect(c).toBe(a)
    expect(await statOf(dst, '%s')).toBe(String(size))
    // Read again after a remount, from the nodes rather than anything the daemon held.
    await m.dfs.stop()
    m = await remount(m)
    expect(await sha256(dst)).toBe(a)
    const head = (await readFile(src)).subarray(0, 16)
    const r = await runBuffer('head', ['-c', '16', dst])
    expect(r.stdout.equals(head)).toBe(true)
  })
})
