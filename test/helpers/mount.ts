// Start and stop real dfs daemons for integration tests, and never leave a mount behind.
//
//   const c = makeCluster(3)                      // temp dir with node_1..node_3, meta, mnt
//   const dfs = await c.start({ replicas: 2 })    // `node bin/dfs.js mount ... --foreground`, waits for "dfs: mounted"
//   const r = await run('cp', [src, `${c.mnt}/f`]) // reach the mount from child processes (or async fs)
//   await dfs.stop()                              // SIGTERM, 10 s grace, then SIGKILL; unmounts if left
//
//   stopAllAfterAll()   // at file/describe level: after all tests, stop every daemon this process
//                       // started, unmount every mount point it used, remove its temp folders
//
// Never touch a mount with synchronous fs calls from the test process (shared notes/testing.md):
// go through run()/sh() from ./run.ts or fs/promises. Reading /proc/self/mountinfo is fine.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, realpathSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll } from 'vitest'
import { run } from './run.js'
import { cleanupTempDirs, makeTempDir, unescapeMountPath } from './tmp.js'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const DFS_BIN = join(REPO_ROOT, 'bin', 'dfs.js')

// Generous on purpose (a busy 2-core machine is slow, not wrong): a daemon that needs longer than
// this to mount is hung, and one SIGKILLed before it stored its buffers would fail tests for nothing.
const READY_TIMEOUT_MS = 120_000
const STOP_GRACE_MS = 60_000
const OUTPUT_CAP = 8 * 1024 * 1024 // keep the last 8 MiB of a daemon's output

export interface StartDfsOptions {
  mountpoint: string
  nodes: string[]
  meta: string
  replicas?: number
  /** Passed as given to --chunk-size: a number of bytes or a size such as '64k' or '4M'. */
  chunkSize?: number | string
  extraArgs?: string[]
  /** Added to the daemon's environment. */
  env?: NodeJS.ProcessEnv
  /** How long to wait for `dfs: mounted`; default 30 s. */
  readyTimeoutMs?: number
  /** The script to run instead of bin/dfs.js (a stand-in daemon in helper tests). */
  bin?: string
}

export interface ExitStatus {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface DfsDaemon {
  readonly pid: number
  readonly mountpoint: string
  /** SIGTERM, wait up to 10 s for exit, then SIGKILL; finally lazy-unmounts if still mounted. */
  stop(): Promise<void>
  /** SIGKILL and wait for the process to go; the mount is left as the crash left it. */
  kill9(): Promise<void>
  /** Everything the daemon wrote, stdout and stderr interleaved in arrival order. */
  output(): string
  stdout(): string
  stderr(): string
  /** Null while running. */
  exitStatus(): ExitStatus | null
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitStatus>
}

// ---- registry: everything started or mounted by this test process --------------------------------

const daemons = new Set<DfsDaemon>()
const usedMountpoints = new Set<string>()
// Shared through globalThis so the exit hook is installed once per process even if this module is
// evaluated again (module isolation between test files in one worker).
const RUNNING = Symbol.for('dfs.test.runningDaemons')
const holder = globalThis as typeof globalThis & { [RUNNING]?: Map<number, ChildProcess> }
const running: Map<number, ChildProcess> = (holder[RUNNING] ??= installExitHook(new Map()))

// Last resort when the test process goes away without cleaning up (a crash, a worker being torn
// down): ask every daemon still running to unmount and exit. SIGTERM is all we can do synchronously.
function installExitHook(map: Map<number, ChildProcess>): Map<number, ChildProcess> {
  process.once('exit', () => {
    for (const child of map.values()) {
      try {
        child.kill('SIGTERM')
      } catch {
        /* already gone */
      }
    }
  })
  return map
}

/**
 * Start `node bin/dfs.js mount <mnt> --nodes a,b,c --meta <m> --foreground [...]` and wait until it
 * prints a line starting with `dfs: mounted`. Rejects (with the daemon's stderr) if it exits first
 * or is not ready in time; a daemon that timed out is killed and its mount point cleared.
 */
export function startDfs(opts: StartDfsOptions): Promise<DfsDaemon> {
  const mountpoint = resolve(opts.mountpoint)
  const args = [opts.bin ?? DFS_BIN, 'mount', mountpoint, '--nodes', opts.nodes.join(','), '--meta', opts.meta, '--foreground']
  if (opts.replicas !== undefined) args.push('--replicas', String(opts.replicas))
  if (opts.chunkSize !== undefined) args.push('--chunk-size', String(opts.chunkSize))
  args.push(...(opts.extraArgs ?? []))

  usedMountpoints.add(mountpoint)
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  })

  let all = ''
  let out = ''
  let err = ''
  const keep = (s: string): string => (s.length > OUTPUT_CAP ? s.slice(s.length - OUTPUT_CAP) : s)
  let status: ExitStatus | null = null
  // 'exit', not 'close': a helper the daemon leaves behind (fusermount for auto_unmount) may hold
  // the stdio pipes open after the daemon itself is gone.
  const exited = new Promise<ExitStatus>((resolveExit) => {
    child.once('exit', (code, signal) => {
      status = { code, signal }
      if (child.pid !== undefined) running.delete(child.pid)
      resolveExit(status)
    })
  })

  const waitExit = (ms: number): Promise<boolean> =>
    status
      ? Promise.resolve(true)
      : new Promise((done) => {
          const t = setTimeout(() => done(false), ms)
          void exited.then(() => {
            clearTimeout(t)
            done(true)
          })
        })

  let stopping: Promise<void> | undefined
  const daemon: DfsDaemon = {
    pid: child.pid ?? -1,
    mountpoint,
    exited,
    output: () => all,
    stdout: () => out,
    stderr: () => err,
    exitStatus: () => status,
    stop() {
      stopping ??= (async () => {
        if (!status) {
          child.kill('SIGTERM')
          if (!(await waitExit(STOP_GRACE_MS))) {
            child.kill('SIGKILL')
            await waitExit(STOP_GRACE_MS)
          }
        }
        if (isMounted(mountpoint)) await forceUnmount(mountpoint)
        daemons.delete(daemon)
      })()
      return stopping
    },
    async kill9() {
      if (!status) {
        child.kill('SIGKILL')
        await waitExit(STOP_GRACE_MS)
      }
      daemons.delete(daemon)
    },
  }
  if (child.pid !== undefined) running.set(child.pid, child)
  daemons.add(daemon)

  return new Promise<DfsDaemon>((resolveStart, rejectStart) => {
    let ready = false
    let pending = ''
    const timeoutMs = opts.readyTimeoutMs ?? READY_TIMEOUT_MS
    const describeRun = (): string => `node ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`

    const fail = (why: string): void => {
      if (ready) return
      ready = true
      clearTimeout(timer)
      const tail = err.trim() || out.trim() || '(no output)'
      rejectStart(new Error(`dfs did not mount ${mountpoint}: ${why}\n$ ${describeRun()}\n${tail}`))
    }

    const timer = setTimeout(() => {
      fail(`no "dfs: mounted" line within ${timeoutMs} ms`)
      void daemon.stop()
    }, timeoutMs)

    child.stdout?.setEncoding('utf8')
    child.stderr?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      out = keep(out + chunk)
      all = keep(all + chunk)
      if (ready) return
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      if (lines.some((line) => line.startsWith('dfs: mounted'))) {
        ready = true
        clearTimeout(timer)
        resolveStart(daemon)
      }
    })
    child.stderr?.on('data', (chunk: string) => {
      err = keep(err + chunk)
      all = keep(all + chunk)
    })
    child.once('error', (e) => fail(`could not start: ${e.message}`))
    void exited.then((s) => {
      // let the last output arrive before quoting it
      setTimeout(() => fail(`it exited first (${s.signal ? `signal ${s.signal}` : `exit code ${s.code}`})`), 50)
    })
  })
}

/** Stop every daemon this process started, then unmount every mount point it used. */
export async function stopAllDfs(): Promise<void> {
  await Promise.all([...daemons].map((d) => d.stop()))
  for (const mnt of usedMountpoints) if (isMounted(mnt)) await forceUnmount(mnt)
}

/** stopAllDfs() and then remove this process's temp folders (in that order). */
export async function cleanupAll(): Promise<void> {
  await stopAllDfs()
  await cleanupTempDirs()
}

/** At file or describe level: run cleanupAll() after all tests there, pass or fail. */
export function stopAllAfterAll(): void {
  afterAll(cleanupAll)
}

// ---- mount table ---------------------------------------------------------------------------------

export interface MountEntry {
  mountpoint: string
  /** e.g. 'fuse.dfs' (type.subtype) */
  fstype: string
  /** e.g. 'dfs' (fsname) */
  source: string
  options: string
  /** major:minor, as /sys/class/bdi/ names the mount's readahead settings */
  device: string
}

/** The mount at exactly `mnt`, from /proc/self/mountinfo (the last one if several are stacked). */
export function findMount(mnt: string): MountEntry | undefined {
  const want = canonical(mnt)
  let text: string
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8')
  } catch {
    return undefined
  }
  let found: MountEntry | undefined
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ')
    if (!pre || !post) continue
    const f = pre.split(' ')
    const g = post.split(' ')
    const mountpoint = unescapeMountPath(f[4] ?? '')
    if (mountpoint !== want) continue
    found = { mountpoint, fstype: g[0] ?? '', source: unescapeMountPath(g[1] ?? ''), options: f[5] ?? '', device: f[2] ?? '' }
  }
  return found
}

export function isMounted(mnt: string): boolean {
  return findMount(mnt) !== undefined
}

/** `fusermount -uz <mnt>` (fusermount3 if that is what exists), then `umount -l <mnt>`; errors ignored. */
export async function forceUnmount(mnt: string): Promise<void> {
  const path = resolve(mnt)
  const r = await run('fusermount', ['-uz', path], { timeout: 10_000 })
  if (r.code === 127) await run('fusermount3', ['-uz', path], { timeout: 10_000 })
  if (isMounted(path)) await run('umount', ['-l', path], { timeout: 10_000 })
}

// The mount point itself is never stat'ed (it may be a hung or stale mount): only its parent.
function canonical(p: string): string {
  const abs = resolve(p)
  try {
    return join(realpathSync(dirname(abs)), basename(abs))
  } catch {
    return abs
  }
}

// ---- clusters ------------------------------------------------------------------------------------

export interface Cluster {
  /** The temp folder holding everything below. */
  root: string
  /** node_1 .. node_n */
  nodes: string[]
  meta: string
  mnt: string
  /** startDfs with this cluster's folders; any option can be overridden. */
  start(opts?: Partial<StartDfsOptions>): Promise<DfsDaemon>
  /** Stop daemons mounted on mnt, unmount, remove the temp folder. */
  cleanup(): Promise<void>
}

/** A temp folder with node_1..node_n, meta and mnt side by side. */
export function makeCluster(n = 3, prefix = 'dfs-cluster-'): Cluster {
  const dir = makeTempDir(prefix)
  const nodes = Array.from({ length: n }, (_, i) => join(dir.path, `node_${i + 1}`))
  const meta = join(dir.path, 'meta')
  const mnt = join(dir.path, 'mnt')
  for (const p of [...nodes, meta, mnt]) mkdirSync(p)
  return {
    root: dir.path,
    nodes,
    meta,
    mnt,
    start: (opts = {}) => startDfs({ mountpoint: mnt, nodes, meta, ...opts }),
    async cleanup() {
      await Promise.all([...daemons].filter((d) => d.mountpoint === mnt).map((d) => d.stop()))
      if (isMounted(mnt)) await forceUnmount(mnt)
      await dir.cleanup()
    },
  }
}
