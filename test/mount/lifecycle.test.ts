// The mount's lifecycle as a user meets it, through real mounts and processes: stopping the daemon in
// the middle of a copy, unmounting while files are open, an unmount from outside dfs, mounting over a
// daemon that does not answer.

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readMounts } from '../../src/fuse/mountpoint.js'
import { until } from '../helpers/cli.js'
import { type Cluster, DFS_BIN, REPO_ROOT, type DfsDaemon, isMounted, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run, sh } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

stopAllAfterAll()

const clusters: Cluster[] = []
afterAll(async () => { for (const c of clusters) await c.cleanup() })
function cluster(prefix: string): Cluster {
  const c = makeCluster(2, prefix)
  clusters.push(c)
  return c
}

// The daemons of these tests register in a runtime folder of their own (DFS_RUNTIME_DIR), so that
// "several mounts" and "which daemon" mean only these tests' daemons.
const runtime = makeTempDir('dfs-lifecycle-runtime-')
const env = { DFS_RUNTIME_DIR: runtime.path }
afterAll(() => runtime.cleanup())

/** `node bin/dfs.js <args>` with this file's runtime folder; never throws. */
function dfs(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return run(process.execPath, [DFS_BIN, ...args], { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? env, timeout: 90_000 })
}

/** A process left running until the test ends (holding a file open, sitting in a folder). */
const holders: ChildProcess[] = []
afterAll(() => { for (const p of holders) p.kill('SIGKILL') })
function hold(cmd: string, args: string[], cwd?: string): ChildProcess {
  const child = spawn(cmd, args, { cwd, stdio: 'ignore' })
  holders.push(child)
  return child
}
const gone = (p: ChildProcess) => new Promise<void>(resolve => (p.exitCode !== null || p.signalCode !== null ? resolve() : p.once('exit', () => resolve())))

/** Resolves with the daemon's exit status, or fails after a generous deadline. */
async function exitOf(daemon: DfsDaemon, ms = 120_000) {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`daemon ${daemon.pid} still running after ${ms} ms; its output ends:\n${daemon.output().slice(-3000)}`)), ms) })
  try {
    return await Promise.race([daemon.exited, late])
  } finally {
    clearTimeout(timer)
  }
}

/** The size of a file on the mount, from a child process (never this one). */
async function sizeOf(path: string): Promise<number> {
  const r = await run('stat', ['-c', '%s', path], { timeout: 30_000 })
  return r.code === 0 ? Number(r.stdout.trim()) : -1
}

describe('SIGTERM during a cp', () => {
  it('leaves a file whose every byte up to its size is what cp wrote, and at least what was acknowledged', async () => {
    const c = cluster('dfs-sigterm-')
    const source = join(c.root, 'source')
    expect((await sh(`head -c 96M /dev/urandom > ${source}`)).code).toBe(0)
    const daemon = await c.start({ chunkSize: '1M', env })
    const target = join(c.mnt, 'copy')
    const copying = run('dd', [`if=${source}`, `of=${target}`, 'bs=128k', 'status=none'], { timeout: 120_000 })
    await until(async () => (await sizeOf(target)) >= 8 << 20, 60_000, 50)
    const seen = await sizeOf(target)
    await daemon.stop() // SIGTERM, as `kill` or a service manager would
    expect(daemon.exitStatus()).toEqual({ code: 0, signal: null })
    await copying

    await c.start({ chunkSize: '1M', env })
    const size = await sizeOf(target)
    expect(size).toBeGreaterThanOrEqual(seen)
    const same = await run('cmp', ['-n', String(size), source, target])
    expect(same.code, `the first ${size} bytes differ: ${same.stdout}${same.stderr}`).toBe(0)
  }, 300_000)
})

describe('dfs unmount while the mount is in use', () => {
  it('refuses, naming each process and how it uses the mount, and changes nothing', async () => {
    const c = cluster('dfs-busy-')
    const daemon = await c.start({ env })
    expect((await sh(`mkdir ${c.mnt}/dir && head -c 100000 /dev/urandom > ${c.mnt}/f`)).code).toBe(0)
    const reader = hold('tail', ['-f', join(c.mnt, 'f')])
    const sitter = hold('sleep', ['600'], join(c.mnt, 'dir'))
    await until(async () => (await sh(`ls -l /proc/${reader.pid}/fd | grep -q ${c.mnt}/f`)).code === 0, 30_000)

    const r = await dfs(['unmount', c.mnt])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`^dfs: ${c.mnt} is busy: .*pid ${reader.pid} \\(tail: ${c.mnt}/f\\)`))
    expect(r.stderr).toContain(`pid ${sitter.pid} (sleep: current folder)`)
    expect(r.stderr).toContain(`dfs unmount --force ${c.mnt}`)
    expect(r.stderr).toMatch(/\[MOUNT_BUSY\]$/m)
    expect(isMounted(c.mnt)).toBe(true)
    expect(daemon.exitStatus()).toBeNull()
    expect((await run('cat', [join(c.mnt, 'f')])).code).toBe(0)

    reader.kill()
    sitter.kill()
    await Promise.all([gone(reader), gone(sitter)])
    const ok = await dfs(['unmount', c.mnt])
    expect(ok.code, ok.stderr).toBe(0)
    expect(await exitOf(daemon)).toEqual({ code: 0, signal: null })
    expect(isMounted(c.mnt)).toBe(false)
  }, 300_000)

  it('--force detaches at once; the daemon stores what a writer had written and exits', async () => {
    const c = cluster('dfs-force-')
    const source = join(c.root, 'source')
    expect((await sh(`head -c 300000 /dev/urandom > ${source}`)).code).toBe(0)
    const daemon = await c.start({ env })
    // A writer that wrote everything and keeps its file open (nothing flushed by a close).
    const writer = hold('bash', ['-c', `exec 3>${c.mnt}/w; cat ${source} >&3; echo done > ${c.root}/written; exec sleep 600`])
    await until(async () => (await run('cat', [join(c.root, 'written')])).stdout.trim() === 'done', 30_000)

    const r = await dfs(['unmount', '--force', c.mnt])
    expect(r.code, r.stderr).toBe(0)
    expect(await exitOf(daemon)).toEqual({ code: 0, signal: null })
    expect(isMounted(c.mnt)).toBe(false)
    writer.kill('SIGKILL')
    await gone(writer)

    await c.start({ env })
    expect((await run('cmp', [source, join(c.mnt, 'w')])).code).toBe(0)
  }, 300_000)
})

describe('an unmount from outside dfs', () => {
  it('makes the daemon store what it buffered, checkpoint and exit, releasing the metadata folder', async () => {
    const c = cluster('dfs-external-')
    const daemon = await c.start({ env })
    expect((await sh(`head -c 500000 /dev/urandom > ${c.root}/source && cp ${c.root}/source ${c.mnt}/f`)).code).toBe(0)
    const r = await run('fusermount', ['-u', c.mnt])
    expect(r.code, r.stderr).toBe(0)
    expect(await exitOf(daemon)).toEqual({ code: 0, signal: null })
    expect(daemon.output()).toMatch(/unmounted from outside dfs/)
    // The lock is free: the same metadata mounts again at once, with the file.
    await c.start({ env })
    expect((await run('cmp', [join(c.root, 'source'), join(c.mnt, 'f')])).code).toBe(0)
  }, 300_000)

  // The kernel gives the freed mount id to the next mount at once, wherever it is; on a busy machine
  // (other tests mounting) that happens before the daemon looks. Mounting needs root (CI is root).
  it.runIf(process.getuid?.() === 0)('stops the daemon also when a mount made elsewhere right after takes the freed mount id', async () => {
    const c = cluster('dfs-reused-id-')
    const daemon = await c.start({ env })
    const other = join(c.root, 'other')
    await mkdir(other)
    const idOf = async (mnt: string) => (await readMounts()).filter(e => e.mountpoint === mnt).pop()?.id
    const id = await idOf(c.mnt)
    // In one shell, so the other mount comes well within the daemon's one-second look.
    const r = await sh(`fusermount -u ${c.mnt} && mount -t tmpfs dfs-test ${other}`)
    expect(r.code, r.stderr).toBe(0)
    try {
      const reused = (await idOf(other)) === id ? 'took' : 'did not take'
      expect(await exitOf(daemon), `the tmpfs mount ${reused} the freed mount id ${id}`).toEqual({ code: 0, signal: null })
      expect(daemon.output()).toMatch(/unmounted from outside dfs/)
    } finally {
      await run('umount', [other])
    }
  }, 300_000)
})

describe('mounting over a daemon that does not answer', () => {
  it('fails within seconds, naming the stopped daemon and the way out', async () => {
    const c = cluster('dfs-stopped-')
    const daemon = await c.start({ env })
    process.kill(daemon.pid, 'SIGSTOP')
    try {
      // Without the check this never returns: dfs() gives up after 90 s (a generous deadline).
      const r = await dfs(['mount', c.mnt, '--meta', join(c.root, 'meta2'), '--nodes', c.nodes.join(',')])
      expect(r.timedOut).toBe(false)
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`dfs: the daemon pid ${daemon.pid} serving ${c.mnt} does not answer (it is stopped)`)
      expect(r.stderr).toContain(`dfs unmount --force ${c.mnt}`)
      expect(r.stderr).toMatch(/\[DAEMON_NOT_ANSWERING\]/)
      const u = await dfs(['unmount', c.mnt])
      expect(u.code).toBe(1)
      expect(u.stderr).toContain(`the daemon pid ${daemon.pid} serving ${c.mnt} does not answer`)
      expect(isMounted(c.mnt)).toBe(true)
      const st = await dfs(['status', c.mnt])
      expect(st.code).toBe(1)
      expect(st.stderr).toContain(`the daemon pid ${daemon.pid} serving ${c.mnt} does not answer (it is stopped)`)
      // --force detaches it now; the daemon stops cleanly once it runs again.
      const f = await dfs(['unmount', '--force', c.mnt])
      expect(f.stderr).toContain(`detached ${c.mnt}, but its daemon (pid ${daemon.pid}) is stopped`)
      expect(isMounted(c.mnt)).toBe(false)
    } finally {
      process.kill(daemon.pid, 'SIGCONT')
    }
    expect(await exitOf(daemon)).toEqual({ code: 0, signal: null })
  })
})

describe('finding the daemon', () => {
  it('dfs status works from any folder of a mount and picks the mount when several run', async () => {
    const a = cluster('dfs-find-a-')
    const b = cluster('dfs-find-b-')
    await a.start({ env })
    await b.start({ env })
    expect((await sh(`mkdir -p ${a.mnt}/x/y ${b.mnt}/z`)).code).toBe(0)
    const statusFrom = async (cwd: string, ...args: string[]) => {
      const r = await dfs(['status', ...args, '--json'], { cwd })
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout).mountpoint as string
    }
    expect(await statusFrom(join(a.mnt, 'x', 'y'))).toBe(a.mnt)
    expect(await statusFrom(join(b.mnt, 'z'))).toBe(b.mnt)
    expect(await statusFrom(b.mnt)).toBe(b.mnt)
    expect(await statusFrom(a.root)).toBe(a.mnt) // the one mounted below (the README's demo step)
    expect(await statusFrom('/', join(a.mnt, 'x'))).toBe(a.mnt)
    const r = await dfs(['status'], { cwd: '/' })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(a.mnt)
    expect(r.stderr).toContain(b.mnt)
    expect(r.stderr).toMatch(/name one/)
  })

  it('dfs status and unmount find a daemon started with another TMPDIR and runtime folder', async () => {
    const c = cluster('dfs-anywhere-')
    const elsewhere = join(c.root, 'elsewhere')
    await mkdir(elsewhere)
    const daemon = await c.start({ env: { DFS_RUNTIME_DIR: '', TMPDIR: elsewhere, XDG_RUNTIME_DIR: elsewhere } })
    const caller = { ...process.env, DFS_RUNTIME_DIR: '', TMPDIR: '/tmp', XDG_RUNTIME_DIR: '' }
    const s = await dfs(['status', c.mnt, '--json'], { env: caller })
    expect(s.code, s.stderr).toBe(0)
    expect(JSON.parse(s.stdout).pid).toBe(daemon.pid)
    const u = await dfs(['unmount', c.mnt], { env: caller })
    expect(u.code, u.stderr).toBe(0)
    expect(await exitOf(daemon)).toEqual({ code: 0, signal: null })
  })
})
