// The daemon cleans up after itself (real daemons, real mounts):
//  - after kill -9 during a copy, with an orphan chunk file planted on a node as well, a plain remount
//    collects the orphans by itself: `dfs fsck` (no --repair) turns clean while the daemon runs;
//  - `--min-copies 2` makes fsync fail with EIO when only one node can take the chunk, and a value
//    outside 1..replicas is refused before anything is mounted.
// The mount is reached only from child processes (python3, cp, cmp).

import { randomBytes } from 'node:crypto'
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { dfs, statusOf, until } from '../helpers/cli.js'
import { type Cluster, isMounted, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run } from '../helpers/run.js'

stopAllAfterAll()

const FLAGS = { replicas: 2, chunkSize: '64k', extraArgs: ['--cache', '1M', '--orphan-grace', '1s'] }

async function fsckJson(meta: string): Promise<{ code: number | null; orphans: unknown[]; problems: unknown[]; output: string }> {
  const r = await dfs('fsck', '--meta', meta, '--json')
  try {
    const report = JSON.parse(r.stdout) as { orphans: unknown[]; lost: unknown[]; underReplicated: unknown[]; badReplicas: unknown[] }
    return { code: r.code, orphans: report.orphans, problems: [...report.lost, ...report.underReplicated, ...report.badReplicas], output: r.stdout }
  } catch {
    throw new Error(`dfs fsck --json printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
  }
}

/** write + fsync + close through python; the exit code and errno of a failure are printed. */
const FSYNC_WRITE = 'import os,sys\ntry:\n  f=open(sys.argv[2],"wb"); f.write(open(sys.argv[1],"rb").read()); f.flush(); os.fsync(f.fileno()); f.close()\nexcept OSError as e:\n  print("errno", e.errno, os.strerror(e.errno)); sys.exit(3)'

async function localFile(c: Cluster, name: string, size: number): Promise<string> {
  await mkdir(join(c.root, 'src'), { recursive: true })
  const path = join(c.root, 'src', name)
  await writeFile(path, randomBytes(size))
  return path
}

/** The process is gone, or a zombie that will do nothing more. */
async function gone(pid: string): Promise<boolean> {
  try {
    const state = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '')[0]
    return state === 'Z' || state === 'X'
  } catch {
    return true
  }
}

/** A copy of some chunk file of node i under a new id no file references: what a crash between put and journal leaves. */
async function plantOrphan(node: string): Promise<string> {
  const chunks = join(node, 'chunks')
  for (const sub of await readdir(chunks)) {
    const files = (await readdir(join(chunks, sub))).filter((f) => /^[0-9a-f]{32}$/.test(f))
    if (files.length === 0) continue
    const id = randomBytes(16).toString('hex')
    await mkdir(join(chunks, id.slice(0, 2)), { recursive: true })
    await copyFile(join(chunks, sub, files[0]), join(chunks, id.slice(0, 2), id))
    return id
  }
  throw new Error(`no chunk file on ${node} to copy`)
}

describe('orphan chunk files', () => {
  it('after kill -9 mid-copy and a planted orphan, the remounted daemon collects them: fsck is clean without --repair', async () => {
    const c = makeCluster(3, 'dfs-orphans-')
    try {
      const first = await c.start(FLAGS)
      const kept = await localFile(c, 'kept', 3 * 64 * 1024 + 5)
      expect((await run('python3', ['-c', FSYNC_WRITE, kept, join(c.mnt, 'kept')])).code).toBe(0)
      // A copy under way (no fsync) when the daemon is killed: chunks stored, some never journaled.
      const big = await localFile(c, 'big', 16 * 1024 * 1024)
      const copy = run('dd', [`if=${big}`, `of=${join(c.mnt, 'big')}`, 'bs=256k'])
      await new Promise((resolve) => setTimeout(resolve, 300))
      // The daemon alone: its auto-unmount helper clears the mount once it is gone; wait for the
      // helper to finish so it cannot race the next mount.
      const helpers = (await run('pgrep', ['-P', String(first.pid)])).stdout.split('\n').filter(Boolean)
      await first.kill9()
      await copy
      await until(async () => (await Promise.all(helpers.map(gone))).every(Boolean), 60_000)

      const planted = await plantOrphan(c.nodes[0])
      const before = await fsckJson(c.meta)
      expect(before.code, before.output).toBe(1)
      expect(before.orphans).toContainEqual(expect.objectContaining({ chunk: planted }))

      const again = await c.start(FLAGS)
      // Event-free but generous: the collector sweeps at mount and again after the 1 s grace.
      let last = before
      await until(async () => (last = await fsckJson(c.meta)).code === 0, 60_000, 500).catch((err: Error) => {
        throw new Error(`${err.message}: fsck still reports ${JSON.stringify(last.orphans).slice(0, 500)}\n${again.output().slice(-3000)}`)
      })
      expect(last.problems).toEqual([])
      const status = await statusOf(c.mnt)
      expect(status.healer.orphansRemoved).toBeGreaterThanOrEqual(1)
      expect(status.healer.orphansPending).toBe(0)
      const cmp = await run('cmp', [kept, join(c.mnt, 'kept')])
      expect(cmp.code, cmp.stdout + cmp.stderr).toBe(0)
      await again.stop()
      expect(again.exitStatus(), again.output()).toEqual({ code: 0, signal: null })
    } finally {
      await c.cleanup()
    }
  }, 180_000)
})

describe('--min-copies', () => {
  it('makes fsync fail with EIO when only one node can take a chunk', async () => {
    const c = makeCluster(2, 'dfs-mincopies-')
    try {
      const strict = await c.start({ ...FLAGS, extraArgs: [...FLAGS.extraArgs, '--min-copies', '2'] })
      const file = await localFile(c, 'f', 100 * 1024)
      expect((await run('python3', ['-c', FSYNC_WRITE, file, join(c.mnt, 'ok')])).code).toBe(0)
      await rm(c.nodes[1], { recursive: true }) // one node gone: every chunk gets one copy at most
      const r = await run('python3', ['-c', FSYNC_WRITE, file, join(c.mnt, 'strict')])
      expect(r.code, r.stdout + r.stderr + strict.output().slice(-2000)).toBe(3)
      expect(r.stdout).toMatch(/^errno 5 /) // EIO
      expect(strict.output()).toMatch(/fewer than --min-copies 2/)
      await strict.stop()
    } finally {
      await c.cleanup()
    }
  }, 120_000)

  it('by default fsync succeeds with one copy, and dfs status counts the chunk under-replicated long before the periodic scan', async () => {
    const c = makeCluster(2, 'dfs-onecopy-')
    try {
      // Never dead within the test: only the write itself can start the repair, not the dead-node grace timer.
      const daemon = await c.start({ ...FLAGS, extraArgs: [...FLAGS.extraArgs, '--dead-after', '60m'] })
      const file = await localFile(c, 'f', 100 * 1024)
      await rm(c.nodes[1], { recursive: true })
      const r = await run('python3', ['-c', FSYNC_WRITE, file, join(c.mnt, 'one-copy')])
      expect(r.code, r.stdout + r.stderr + daemon.output().slice(-2000)).toBe(0)
      // The periodic scan is 60 s after mount; the write's own hint comes within a second or so.
      await until(async () => (await statusOf(c.mnt)).healer.underReplicated >= 2, 40_000)
      const status = await statusOf(c.mnt)
      expect(status.chunks.underReplicated).toBeGreaterThanOrEqual(2)
      expect(status.io.underReplicatedWrites).toBeGreaterThanOrEqual(2)
      await daemon.stop()
    } finally {
      await c.cleanup()
    }
  }, 120_000)

  it('refuses a value outside 1..replicas with one line, before mounting', async () => {
    const c = makeCluster(2, 'dfs-mincopies-bad-')
    try {
      for (const value of ['0', '3', 'two']) {
        const r = await dfs('mount', c.mnt, '--nodes', c.nodes.join(','), '--meta', c.meta, '--replicas', '2', '--min-copies', value, '--foreground')
        const why = `--min-copies ${value}: exit ${r.code}\n${r.stdout}\n${r.stderr}`
        expect(r.code, why).not.toBe(0)
        expect(r.stderr.trim().split('\n'), why).toHaveLength(1)
        expect(r.stderr, why).toMatch(/--min-copies/)
        expect(isMounted(c.mnt)).toBe(false)
        expect(await readdir(c.meta), why).toEqual([])
      }
    } finally {
      await c.cleanup()
    }
  }, 120_000)
})
