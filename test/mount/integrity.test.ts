// The bytes dfs stores are the bytes it hashed (issue 7, item 1). With a small chunk cache, mmap
// write-back (many 128 KiB writes to one chunk in flight at once), pwrite, reads and truncates from
// two processes (1000 operations each) make writes to one chunk wait on the same load and race the
// write that fills and seals it. Before the fix a chunk could be stored with the SHA-256 of other bytes: EIO on every
// later read, and `dfs fsck` called it lost.
//
// Each process drives its own file and a native copy with the same seeded operations. At the end the
// daemon stops (storing everything), a fresh daemon mounts the cluster, and the mounted files must
// equal the native ones byte for byte, read from the nodes; then `dfs fsck` must find nothing wrong.

import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DFS_BIN, REPO_ROOT, stopAllAfterAll } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { type MountedCluster, MiB, expectOk, mountFresh, py, remount, testSeed } from './fixtures.js'

stopAllAfterAll()

const CHUNK = MiB
const FLAGS = { replicas: 2, chunkSize: '1M', extraArgs: ['--cache', '1M'] }
const OPS = 1000

/**
 * Seeded mixed I/O on a mounted file and a native copy. argv: native mounted seed ops chunk.
 * mmap writes (often ending at a chunk's last byte, often msync'd so the kernel writes the pages back
 * at once, in parallel), pwrite, pread compared, ftruncate, fsync with the page cache dropped so
 * reads come from dfs. Exits 1 with a JSON report (seed, check, last operations) at the first
 * difference; prints a JSON summary otherwise.
 */
const PY_MMAP_IO = String.raw`
import os, sys, mmap, random, json
native, mounted = sys.argv[1], sys.argv[2]
seed, nops, chunk = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(seed)
MAXSIZE = 6 * chunk
log = []

def fail(msg):
    print(json.dumps({'seed': seed, 'failed': msg, 'op': len(log), 'last_ops': log[-25:]}))
    sys.exit(1)

fdn = os.open(native, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
fdm = os.open(mounted, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)

def size():
    return os.fstat(fdn).st_size

def span(limit):
    """A range inside [0, limit): often one that ends at a chunk's last byte."""
    n = rng.choice([rng.randrange(1, 4096), rng.randrange(1, chunk // 2), rng.randrange(chunk // 2, 2 * chunk)])
    n = min(n, limit)
    ends = [k * chunk for k in range(1, limit // chunk + 1)]
    if ends and rng.random() < 0.5:
        end = rng.choice(ends)
    else:
        end = rng.randrange(n, limit + 1)
    return max(0, end - n), min(n, end)

def drop(fd):
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)

def compare(where):
    ns, ms = size(), os.fstat(fdm).st_size
    if ns != ms:
        fail('%s: size %d on the mount, %d native' % (where, ms, ns))
    fresh = os.open(mounted, os.O_RDONLY)
    try:
        drop(fresh)
        at = 0
        while at < ns:
            a = os.pread(fdn, chunk, at)
            try:
                b = os.pread(fresh, chunk, at)
            except OSError as e:
                fail('%s: reading the mount at %d: %s' % (where, at, e))
            if a != b:
                first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
                fail('%s: content differs from byte %d (chunk %d)' % (where, at + first, (at + first) // chunk))
            at += len(a)
    finally:
        os.close(fresh)

for i in range(nops):
    r = rng.random()
    cur = size()
    if r < 0.35:
        if cur == 0:
            os.ftruncate(fdn, 3 * chunk)
            os.ftruncate(fdm, 3 * chunk)
            cur = 3 * chunk
        at, n = span(cur)
        data = rng.randbytes(n)
        sync = rng.random() < 0.6
        log.append(('mmap', at, n, sync))
        m = mmap.mmap(fdm, cur)
        m[at:at + n] = data
        if sync:
            m.flush()
        m.close()
        os.pwrite(fdn, data, at)
    elif r < 0.6:
        at, n = span(MAXSIZE)
        data = rng.randbytes(n)
        log.append(('pwrite', at, n))
        for fd in (fdn, fdm):
            if os.pwrite(fd, data, at) != n:
                fail('short pwrite')
    elif r < 0.78:
        at, n = span(max(cur, 1))
        log.append(('pread', at, n))
        a = os.pread(fdn, n, at)
        try:
            b = os.pread(fdm, n, at)
        except OSError as e:
            fail('pread(%d, %d) on the mount: %s' % (at, n, e))
        if a != b:
            fail('pread(%d, %d): %d bytes mounted, %d native' % (at, n, len(b), len(a)))
    elif r < 0.88:
        new = rng.choice([rng.randrange(0, MAXSIZE + 1), rng.randrange(1, MAXSIZE // chunk + 1) * chunk - rng.randrange(0, 3)])
        log.append(('ftruncate', new))
        for fd in (fdn, fdm):
            os.ftruncate(fd, new)
    else:
        log.append(('fsync',))
        try:
            os.fsync(fdm)
        except OSError as e:
            fail('fsync on the mount: %s' % e)
        drop(fdm)
    if i % 150 == 149:
        compare('after op %d' % i)
try:
    os.fsync(fdm)
except OSError as e:
    fail('last fsync on the mount: %s' % e)
compare('at the end')
os.close(fdn)
os.close(fdm)
print(json.dumps({'seed': seed, 'ops': nops, 'size': os.stat(native).st_size}))
`

describe('stored chunks hold exactly the bytes they were hashed from', () => {
  let m: MountedCluster | undefined
  afterAll(async () => {
    await m?.dfs.stop()
  })

  it(`survives ${OPS} mixed mmap/pwrite/read/truncate operations from two processes with --cache 1M`, async () => {
    const base = testSeed()
    console.log(`integrity exerciser seed ${base} (DFS_TEST_SEED=${base} repeats it)`)
    m = await mountFresh({ ...FLAGS })
    const native = join(m.cluster.root, 'native')
    await mkdir(native)
    const files = [base, base + 1].map((seed, i) => ({ seed, native: join(native, `f${i}`), mounted: join(m!.mnt, `f${i}`) }))
    const results = await Promise.all(
      files.map(f => py(PY_MMAP_IO, [f.native, f.mounted, String(f.seed), String(OPS), String(CHUNK)], { timeout: 300_000 })),
    )
    for (const [i, f] of files.entries()) expectOk(results[i]!, `mmap/pwrite exerciser, seed ${f.seed} (DFS_TEST_SEED=${base})`, m.dfs)

    // Everything stored by a clean stop; a fresh daemon reads every byte back from the nodes.
    await m.dfs.stop()
    m = await remount(m, FLAGS)
    for (const f of files) expectOk(await run('cmp', [f.native, f.mounted]), `cmp after remount, seed ${f.seed} (DFS_TEST_SEED=${base})`, m.dfs)
    await m.dfs.stop()

    const fsck = await run(process.execPath, [DFS_BIN, 'fsck', '--meta', m.cluster.meta, '--json'], { cwd: REPO_ROOT, timeout: 120_000 })
    const report = JSON.parse(fsck.stdout) as { lost: unknown[]; badReplicas: unknown[]; underReplicated: unknown[] }
    expect({ lost: report.lost, badReplicas: report.badReplicas, underReplicated: report.underReplicated }, `seed ${base}: ${fsck.stdout}`).toEqual({
      lost: [], badReplicas: [], underReplicated: [],
    })
    expect(fsck.code, `dfs fsck exit, seed ${base}: ${fsck.stdout}\n${fsck.stderr}`).toBe(0)
  }, 400_000)
})
