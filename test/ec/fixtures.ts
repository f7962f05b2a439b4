// Shared pieces of the erasure-coding tests through real mounts (test/ec/**): a mounted cluster
// with an EC directory made the way a user makes one (`setfattr -n user.dfs.policy -v ec:2+1 <dir>`),
// files of a few 64 KiB chunks and a short tail, the kernel's page cache dropped before every read
// that matters, and a writer that tells which chunk files on which node hold each stripe's shards.
//
// Everything reaches the mount from child processes (setfattr, cmp, dd, python3); node folders are
// ordinary local folders the tests may read and damage directly.

import { randomBytes } from 'node:crypto'
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { expect } from 'vitest'
import { daemonStatus, until } from '../helpers/cli.js'
import { type Cluster, type DfsDaemon, type StartDfsOptions, makeCluster } from '../helpers/mount.js'
import { run, sh } from '../helpers/run.js'
import { expectOk, py } from '../mount/fixtures.js'

export const CHUNK = 64 * 1024
/** A few whole chunks and a short tail whose shards need padding (40,001 is odd: not a multiple of k or 8). */
export const TAIL = 40_001

export interface EcMount {
  cluster: Cluster
  dfs: DfsDaemon
  /** The EC directory on the mount. */
  dir: string
  /** Native copies of what the tests write there. */
  src: string
}

/**
 * A fresh cluster of `nodes` folders mounted with 64 KiB chunks and no chunk cache (every read goes to
 * the node folders), and <mnt>/<name> made with policy `policy` set through the mount's xattr.
 */
export async function mountWithPolicy(nodes: number, policy: string, opts: Partial<StartDfsOptions> & { name?: string } = {}): Promise<EcMount> {
  const { name = 'ec', extraArgs = [], ...start } = opts
  const cluster = makeCluster(nodes, 'dfs-ec-')
  const dfs = await cluster.start({ chunkSize: '64k', ...start, extraArgs: ['--cache', '0', '--scrub-rate', '0', ...extraArgs] })
  const dir = join(cluster.mnt, name)
  const src = join(cluster.root, 'src')
  await mkdir(src)
  expectOk(await run('mkdir', [dir]), `mkdir ${dir}`, dfs)
  await setPolicy(dir, policy, dfs)
  return { cluster, dfs, dir, src }
}

/** `setfattr -n user.dfs.policy -v <policy> <dir>`, checked back with getfattr. */
export async function setPolicy(dir: string, policy: string, dfs?: DfsDaemon): Promise<void> {
  expectOk(await run('setfattr', ['-n', 'user.dfs.policy', '-v', policy, dir]), `setfattr user.dfs.policy=${policy} ${dir}`, dfs)
  const got = await run('getfattr', ['--only-values', '-n', 'user.dfs.policy', dir])
  expectOk(got, `getfattr user.dfs.policy ${dir}`, dfs)
  expect(got.stdout.trim()).toBe(policy)
}

/** Random bytes at src/<name> (native disk), copied to <dir>/<name> by dd with conv=fsync (stored when it returns). */
export async function putFile(m: EcMount, name: string, size: number): Promise<void> {
  const local = join(m.src, name)
  await mkdir(dirname(local), { recursive: true })
  await writeFile(local, randomBytes(size))
  expectOk(await run('dd', [`if=${local}`, `of=${join(m.dir, name)}`, 'bs=1M', 'conv=fsync', 'status=none']), `dd of=${name}`, m.dfs)
}

export async function dropCaches(): Promise<void> {
  const r = await sh('echo 3 > /proc/sys/vm/drop_caches')
  expect(r.code, `drop_caches: ${r.stderr}`).toBe(0)
}

/** Every file under src equals its copy under dir, byte for byte (diff -r), read from the nodes. */
export async function expectSameFiles(m: EcMount, what: string): Promise<void> {
  await dropCaches()
  const r = await run('diff', ['-r', m.src, m.dir], { timeout: 120_000 })
  expectOk(r, `diff -r src ${m.dir} (${what})`, m.dfs)
}

/** Every node alive and no chunk under-replicated or unavailable, as `dfs status` counts them. */
export async function healthy(mnt: string): Promise<boolean> {
  const s = await daemonStatus(mnt)
  return s.nodes.every((n: { health: string }) => n.health === 'alive') && s.chunks.underReplicated === 0 && s.chunks.unavailable === 0
}

export async function untilHealthy(mnt: string, ms = 120_000): Promise<void> {
  await until(() => healthy(mnt), ms)
}

/** Every set of up to `max` of the indices 0..n-1, smallest first: the loss patterns. */
export function subsetsUpTo(n: number, max: number): number[][] {
  const out: number[][] = [[]]
  const grow = (from: number, picked: number[]) => {
    for (let i = from; i < n; i++) {
      const next = [...picked, i]
      out.push(next)
      if (next.length < max) grow(i + 1, next)
    }
  }
  grow(0, [])
  return out.sort((a, b) => a.length - b.length)
}

/** One stored shard: the chunk file's id and the node folder (index into the cluster's nodes) holding it. */
export interface ShardFile {
  id: string
  node: number
}

/**
 * Write src/<name> (random, `size` bytes) to <dir>/<name> one chunk at a time (pwrite + fsync), and
 * after each chunk list the node folders: the chunk files that appeared are that chunk's shards.
 * Waits (generously) until `shards` of them are there, so none is taken for the next chunk's.
 * Returns the shard files of each chunk, in chunk order.
 */
export async function writeFindingShards(m: EcMount, name: string, size: number, shards: number): Promise<ShardFile[][]> {
  const local = join(m.src, name)
  await writeFile(local, randomBytes(size))
  const r = await py(PY_WRITE_FINDING_SHARDS, [local, join(m.dir, name), String(CHUNK), String(shards), ...m.cluster.nodes])
  expectOk(r, `writing ${name} chunk by chunk`, m.dfs)
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ShardFile[][]
}

const PY_WRITE_FINDING_SHARDS = String.raw`
import os, re, sys, json, time
local, target, chunk, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
nodes = sys.argv[5:]
ID = re.compile(r'^[0-9a-f]{32}$')
def listing():
    found = {}
    for i, node in enumerate(nodes):
        top = os.path.join(node, 'chunks')
        for sub in (os.listdir(top) if os.path.isdir(top) else []):
            for name in os.listdir(os.path.join(top, sub)):
                if ID.match(name):
                    found[name] = i
    return found
data = open(local, 'rb').read()
fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
seen = listing()
out = []
for at in range(0, len(data), chunk):
    os.pwrite(fd, data[at:at + chunk], at)
    os.fsync(fd)
    deadline = time.time() + 120
    while True:
        now = listing()
        new = {k: v for k, v in now.items() if k not in seen}
        if len(new) >= want or time.time() > deadline:
            break
        time.sleep(0.05)
    if len(new) != want:
        sys.exit('chunk at %d: %d new chunk files on the nodes, not %d: %r' % (at, len(new), want, new))
    out.append([{'id': k, 'node': v} for k, v in sorted(new.items(), key=lambda kv: kv[1])])
    seen = now
os.close(fd)
print(json.dumps(out))
`

export { chunkPath } from '../helpers/nodeFolders.js'

/** Bytes in chunk files across the node folders: what the cluster stores (the bench counts the same way). */
export { bytesOnNodes } from '../../src/bench/ec.js'

/** Bytes of file data under a native folder (the test's copies of what it wrote). */
export async function bytesOfFiles(dir: string): Promise<number> {
  let bytes = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) bytes += (await stat(join(entry.parentPath, entry.name))).size
  }
  return bytes
}
