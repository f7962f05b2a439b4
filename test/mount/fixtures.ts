// Shared pieces of the mount tests (files.test.ts, tools.test.ts): start a cluster and mount it,
// assert on a child process's exit with everything needed to debug it, and small python3 programs
// the tests run against the mount.
//
// Everything here reaches the mount from child processes (or writes native temp files); never with
// synchronous fs calls from the test process (shared notes/testing.md).

import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { expect } from 'vitest'
import { type Cluster, type DfsDaemon, type StartDfsOptions, makeCluster } from '../helpers/mount.js'
import { type RunOptions, type RunResult, run, sh } from '../helpers/run.js'

export const KiB = 1024
export const MiB = 1024 * 1024

export interface MountedCluster {
  cluster: Cluster
  dfs: DfsDaemon
  mnt: string
}

/** A fresh cluster of `nodes` folders, mounted with the given options. */
export async function mountFresh(opts: Partial<StartDfsOptions> & { nodes?: number } = {}): Promise<MountedCluster> {
  const { nodes, ...start } = opts
  const cluster = makeCluster(nodes ?? 3, 'dfs-mount-')
  const dfs = await cluster.start(start)
  return { cluster, dfs, mnt: cluster.mnt }
}

/** Mount the same cluster again (same meta and nodes), e.g. after dfs.stop(). */
export async function remount(m: MountedCluster, opts: Partial<StartDfsOptions> = {}): Promise<MountedCluster> {
  const dfs = await m.cluster.start(opts)
  return { ...m, dfs }
}

function describeResult(r: RunResult<unknown>, what: string, dfs?: DfsDaemon): string {
  const out = typeof r.stdout === 'string' ? r.stdout : ''
  const lines = [`${what}: exit ${r.code}${r.signal ? ` (${r.signal})` : ''}${r.timedOut ? ' (timed out)' : ''}`]
  if (r.stderr.trim()) lines.push(`stderr: ${tail(r.stderr, 4000)}`)
  if (out.trim()) lines.push(`stdout: ${tail(out, 4000)}`)
  if (dfs) lines.push(`daemon output (tail): ${tail(dfs.output(), 3000) || '(none)'}`)
  return lines.join('\n')
}

function tail(s: string, n: number): string {
  const t = s.trim()
  return t.length > n ? `...${t.slice(t.length - n)}` : t
}

/** Expect a child to have exited 0; the failure message carries its output and the daemon's. */
export function expectOk<T>(r: RunResult<T>, what: string, dfs?: DfsDaemon): RunResult<T> {
  expect(r.code, describeResult(r, what, dfs)).toBe(0)
  return r
}

/** run() that must succeed. */
export async function mustRun(cmd: string, args: string[], opts: RunOptions & { dfs?: DfsDaemon } = {}): Promise<string> {
  const r = await run(cmd, args, opts)
  expectOk(r, `${cmd} ${args.join(' ')}`, opts.dfs)
  return r.stdout
}

/** A bash script (with `set -euo pipefail`) that must succeed. */
export async function mustSh(script: string, opts: RunOptions & { dfs?: DfsDaemon } = {}): Promise<string> {
  const r = await sh(`set -euo pipefail\n${script}`, opts)
  expectOk(r, `bash: ${script.trim().split('\n')[0]}...`, opts.dfs)
  return r.stdout
}

/** `python3 -c script args...` */
export function py(script: string, args: string[] = [], opts: RunOptions = {}): Promise<RunResult> {
  return run('python3', ['-c', script, ...args], opts)
}

/**
 * Run a python3 program whose last stdout line is JSON and return that value. The prelude gives it:
 * - errno_of(f, *args): 'ok' if f(*args) returns, else the errno's name ('ENOTEMPTY', ...)
 * - emit(value): print value as JSON
 */
export async function pyJson<T = any>(script: string, args: string[] = [], dfs?: DfsDaemon): Promise<T> {
  const prelude = [
    'import os, sys, json, errno',
    'def errno_of(f, *a):',
    '    try:',
    '        f(*a)',
    "        return 'ok'",
    '    except OSError as e:',
    '        return errno.errorcode.get(e.errno, str(e.errno))',
    'def emit(v):',
    '    print(json.dumps(v))',
    '',
  ].join('\n')
  const r = await py(prelude + script, args)
  expectOk(r, 'python3', dfs)
  const last = r.stdout.trim().split('\n').pop() ?? ''
  return JSON.parse(last) as T
}

/** sha256 of a file, computed by sha256sum (so it works on the mount too). */
export async function sha256(path: string): Promise<string> {
  const out = await mustRun('sha256sum', [path])
  return out.split(' ')[0]!
}

/** A file of random bytes on native disk (never on the mount); returns its content. */
export async function writeRandomNative(path: string, size: number): Promise<Buffer> {
  const data = randomBytes(size)
  await writeFile(path, data)
  return data
}

/** A seed for a randomised test: DFS_TEST_SEED if set, else a fresh one (printed on failure). */
export function testSeed(): number {
  const fromEnv = process.env.DFS_TEST_SEED
  return fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31)
}

/**
 * Seeded random I/O on the same file in two places (a native file and one on the mount), compared
 * as it goes. argv: native mounted seed ops chunk. Exits 1 with a JSON report (seed, the failing
 * check, the last operations) at the first difference.
 *
 * Offsets cluster around chunk boundaries; writes range from a few bytes to three chunks; it also
 * ftruncates (shrink and grow), appends through an O_APPEND descriptor, fsyncs, and closes and
 * reopens its descriptors. Every 100 operations (and at random) it reads both files whole, the
 * mounted one through a fresh descriptor so the bytes come from dfs rather than the kernel's view of
 * the open one.
 */
export const PY_RANDOM_IO = String.raw`
import os, sys, random, json
native, mounted = sys.argv[1], sys.argv[2]
seed, nops, chunk = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(seed)
MAXSIZE = 10 * chunk
paths = [native, mounted]
log = []

def fail(msg):
    print(json.dumps({'seed': seed, 'failed': msg, 'op': len(log), 'last_ops': log[-20:]}))
    sys.exit(1)

def open_all():
    return ([os.open(p, os.O_RDWR | os.O_CREAT, 0o644) for p in paths],
            [os.open(p, os.O_WRONLY | os.O_APPEND) for p in paths])

def close_all(fds, afds):
    for fd in fds + afds:
        os.close(fd)

def offset():
    if rng.random() < 0.5:
        k = rng.randrange(0, MAXSIZE // chunk + 1)
        return max(0, k * chunk + rng.randrange(-70, 70))
    return rng.randrange(0, MAXSIZE)

def length():
    r = rng.random()
    if r < 0.5:
        return rng.randrange(1, 200)
    if r < 0.85:
        return rng.randrange(1, chunk)
    return rng.randrange(chunk, 3 * chunk)

def read_all(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        parts = []
        at = 0
        while True:
            b = os.pread(fd, 1 << 20, at)
            if not b:
                break
            parts.append(b)
            at += len(b)
        return size, b''.join(parts)
    finally:
        os.close(fd)

def compare(where):
    ns, nb = read_all(native)
    ms, mb = read_all(mounted)
    if ns != ms:
        fail('%s: size %d on the mount, %d native' % (where, ms, ns))
    if nb != mb:
        first = next((i for i in range(min(len(nb), len(mb))) if nb[i] != mb[i]), min(len(nb), len(mb)))
        fail('%s: content differs from byte %d (chunk %d); lengths %d mounted, %d native' % (where, first, first // chunk, len(mb), len(nb)))

fds, afds = open_all()
for i in range(nops):
    r = rng.random()
    if r < 0.42:
        at, n = offset(), length()
        data = rng.randbytes(n)
        log.append(('pwrite', at, n))
        for fd in fds:
            if os.pwrite(fd, data, at) != n:
                fail('short pwrite')
    elif r < 0.62:
        at, n = offset(), length()
        log.append(('pread', at, n))
        a, b = os.pread(fds[0], n, at), os.pread(fds[1], n, at)
        if a != b:
            fail('pread(%d, %d): %d bytes mounted, %d native, equal prefix %d' % (at, n, len(b), len(a), next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))))
    elif r < 0.72:
        size = offset() if rng.random() < 0.7 else rng.randrange(0, 2 * chunk)
        log.append(('ftruncate', size))
        for fd in fds:
            os.ftruncate(fd, size)
    elif r < 0.82:
        n = length()
        data = rng.randbytes(n)
        log.append(('append', n))
        for fd in afds:
            if os.write(fd, data) != n:
                fail('short append')
    elif r < 0.86:
        log.append(('fsync',))
        for fd in fds:
            os.fsync(fd)
    elif r < 0.91:
        log.append(('reopen',))
        close_all(fds, afds)
        fds, afds = open_all()
    else:
        log.append(('stat',))
        a, b = os.fstat(fds[0]).st_size, os.fstat(fds[1]).st_size
        if a != b:
            fail('fstat size %d mounted, %d native' % (b, a))
    if i % 100 == 99:
        compare('after op %d' % i)
close_all(fds, afds)
compare('after closing')
print(json.dumps({'seed': seed, 'ops': nops, 'size': os.stat(native).st_size}))
`

/**
 * A listing of a tree, one JSON object keyed by relative path: type, mode, owner, size, nlink, inode,
 * the three times (ns), symlink target, sha256 of file content, and xattrs (hex). argv: root.
 */
export const PY_MANIFEST = String.raw`
import os, sys, json, hashlib, stat
root = sys.argv[1]
out = {}
def entry(path):
    st = os.lstat(path)
    e = {'mode': oct(st.st_mode), 'uid': st.st_uid, 'gid': st.st_gid, 'nlink': st.st_nlink, 'ino': st.st_ino,
         'atime': st.st_atime_ns, 'mtime': st.st_mtime_ns, 'ctime': st.st_ctime_ns}
    if stat.S_ISLNK(st.st_mode):
        e['target'] = os.readlink(path)
        return e
    if stat.S_ISREG(st.st_mode):
        e['size'] = st.st_size
        e['blocks'] = st.st_blocks
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
        e['sha256'] = h.hexdigest()
    e['xattrs'] = {n: os.getxattr(path, n, follow_symlinks=False).hex() for n in sorted(os.listxattr(path, follow_symlinks=False))}
    return e
for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    rel = os.path.relpath(dirpath, root)
    out[rel] = entry(dirpath)
    for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
        out[os.path.normpath(os.path.join(rel, name))] = entry(os.path.join(dirpath, name))
print(json.dumps(out))
`

/**
 * Seeded mixed I/O on a mounted file and a native copy. argv: native mounted seed ops chunk.
 * mmap writes (often ending at a chunk's last byte, often msync'd so the kernel writes the pages back
 * at once, in parallel), pwrite, pread compared, ftruncate, fsync with the page cache dropped so
 * reads come from dfs. Exits 1 with a JSON report (seed, check, last operations) at the first
 * difference; prints a JSON summary otherwise.
 */
export const PY_MMAP_IO = String.raw`
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
