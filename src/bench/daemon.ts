// The mount processes under test. The dfs daemon: `node bin/dfs.js mount <mnt> --nodes a,b,c --meta m
// --replicas 2 --foreground`, ready when it prints `dfs: mounted`, stopped with SIGTERM (it stores what
// is buffered, unmounts and checkpoints). The bench's in-memory file system (memFs.ts) is started the
// same way (MountProcess.launch), ready at `memfs: mounted`. Memory and CPU time are read from /proc.

import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, readdirSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { run, sleep } from './proc.js'

export interface DaemonConfig {
  repoRoot: string
  mountpoint: string
  nodes: string[]
  meta: string
  replicas: number
  /** Passed as --cache / --dirty only when set; otherwise the CLI's defaults apply. */
  cache?: string
  dirty?: string
  /** Folder for one .log per daemon started. */
  logDir: string
  /** Write a V8 CPU profile of every daemon to this folder (node --cpu-prof). */
  cpuProfDir?: string
  /** More `dfs mount` flags (a secret file, liveness thresholds). */
  extraArgs?: string[]
}

const READY_TIMEOUT_MS = 60_000
/** SIGTERM makes the daemon store everything buffered first: give it time before SIGKILL. */
const STOP_GRACE_MS = 120_000

let started = 0
/** Daemons alive right now, for the last-resort exit hook. */
const alive = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of alive) {
    try {
      child.kill('SIGTERM')
    } catch {
      /* gone */
    }
  }
})

/** What a mount process is and how it says it is ready (the dfs daemon, the bench's memfs). */
export interface MountProcessSpec {
  /** For messages: "the dfs daemon", "memfs". */
  what: string
  /** The stdout line that says the mount is ready starts with this. */
  readyPrefix: string
  mountpoint: string
  /** Arguments of `node` (script first). */
  argv: string[]
  cwd: string
  logPath: string
}

/**
 * A process serving a FUSE mount, started as a child of the bench: ready when it prints its ready
 * line, stopped with SIGTERM (SIGKILL after a grace time), its mount cleared after it exits.
 */
export class MountProcess {
  /** The ready line (`dfs: mounted ...`, `memfs: mounted ...`). */
  readyLine = ''
  private status: { code: number | null; signal: NodeJS.Signals | null } | null = null
  private readonly exited: Promise<void>
  private tail: string[] = []
  private stopping: Promise<void> | undefined
  readonly logPath: string
  private readonly log: WriteStream
  private readonly child: ChildProcess

  protected constructor(readonly spec: MountProcessSpec) {
    this.logPath = spec.logPath
    this.log = createWriteStream(spec.logPath)
    // Same process group as the bench: a Ctrl-C in the terminal reaches it too, and it unmounts by
    // itself even if the bench were killed before it could stop it.
    this.child = spawn(process.execPath, spec.argv, { cwd: spec.cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    const child = this.child
    if (child.pid !== undefined) alive.add(child)
    this.exited = new Promise(resolve => {
      child.once('exit', (code, signal) => {
        this.status = { code, signal }
        alive.delete(child)
        resolve()
      })
    })
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  get running(): boolean {
    return this.status === null
  }

  /** Start a mount process and wait for its ready line. */
  static async launch(spec: MountProcessSpec): Promise<MountProcess> {
    const p = new MountProcess(spec)
    await p.waitMounted()
    return p
  }

  protected waitMounted(): Promise<void> {
    return new Promise((resolve, reject) => {
      let done = false
      let pending = ''
      const finish = (err?: Error) => {
        if (done) return
        done = true
        clearTimeout(timer)
        if (err) reject(err)
        else resolve()
      }
      const timer = setTimeout(() => {
        finish(new Error(`${this.spec.what} did not print "${this.spec.readyPrefix}" within ${READY_TIMEOUT_MS / 1000} s; log: ${this.logPath}\n${this.lastLines()}`))
        void this.stop()
      }, READY_TIMEOUT_MS)
      const take = (chunk: string, fromStdout: boolean) => {
        this.log.write(chunk)
        this.tail = (this.tail.join('') + chunk).split(/(?<=\n)/).slice(-40)
        if (!fromStdout || done) return
        pending += chunk
        const lines = pending.split('\n')
        pending = lines.pop() ?? ''
        const mounted = lines.find(line => line.startsWith(this.spec.readyPrefix))
        if (mounted) {
          this.readyLine = mounted
          finish()
        }
      }
      this.child.stdout!.setEncoding('utf8').on('data', (s: string) => take(s, true))
      this.child.stderr!.setEncoding('utf8').on('data', (s: string) => take(s, false))
      this.child.once('error', err => finish(new Error(`cannot start ${this.spec.what}: ${err.message}`)))
      void this.exited.then(() =>
        setTimeout(() => finish(new Error(`${this.spec.what} exited before mounting (${this.exitText()}); log: ${this.logPath}\n${this.lastLines()}`)), 50),
      )
    })
  }

  exitText(): string {
    const s = this.status
    if (!s) return 'running'
    return s.signal ? `signal ${s.signal}` : `exit code ${s.code}`
  }

  /** The last lines the daemon wrote (for error messages). */
  lastLines(n = 20): string {
    return this.tail.slice(-n).join('').trimEnd().split('\n').map(line => `  | ${line}`).join('\n')
  }

  /** Peak and current resident set size in bytes (VmHWM, VmRSS), or null once it has exited. */
  memory(): { hwm: number; rss: number } | null {
    if (!this.running) return null
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8')
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
      return { hwm: kb('VmHWM'), rss: kb('VmRSS') }
    } catch {
      return null
    }
  }

  /**
   * CPU seconds used so far (user + system), by the whole process and by its main thread (the one
   * JavaScript thread that answers every FUSE call), or null once it has exited. `profiler`: what
   * V8's profiler threads (`--cpu-prof`: one per JavaScript thread, workers too) used of `process`,
   * and how many there are; 0 without.
   */
  cpu(): { process: number; main: number; profiler: number; profilers: number } | null {
    if (!this.running) return null
    try {
      const task = `/proc/${this.pid}/task`
      let profiler = 0
      let profilers = 0
      for (const tid of readdirSync(task)) {
        try {
          if (readFileSync(`${task}/${tid}/comm`, 'utf8').trim() !== PROFILER_THREAD) continue
          profiler += cpuSeconds(`${task}/${tid}/stat`)
          profilers++
        } catch {
          // the thread ended meanwhile
        }
      }
      return { process: cpuSeconds(`/proc/${this.pid}/stat`), main: cpuSeconds(`${task}/${this.pid}/stat`), profiler, profilers }
    } catch {
      return null
    }
  }

  /** Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs), so a phase's peak is its own. */
  resetPeak(): boolean {
    if (!this.running) return false
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5')
      return true
    } catch {
      return false
    }
  }

  /** SIGTERM, wait for exit (SIGKILL after the grace time), then make sure nothing is left mounted. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.running) {
        this.child.kill('SIGTERM')
        if (!(await this.waitExit(STOP_GRACE_MS))) {
          process.stderr.write(`bench: ${this.spec.what} (pid ${this.pid}) did not exit within ${STOP_GRACE_MS / 1000} s of SIGTERM; killing it\n`)
          this.child.kill('SIGKILL')
          await this.waitExit(10_000)
        }
      }
      await new Promise<void>(resolve => this.log.end(resolve))
      await unmountIfMounted(this.spec.mountpoint)
    })()
    return this.stopping
  }

  /** SIGKILL (second Ctrl-C): no grace. */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL')
  }

  private async waitExit(ms: number): Promise<boolean> {
    if (!this.running) return true
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<boolean>(resolve => (timer = setTimeout(resolve, ms, false)))
    try {
      return await Promise.race([this.exited.then(() => true), timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}

/**
 * Wait (untimed) until none of the processes uses the CPU (under 20 ms in 300 ms): dfs goes on
 * storing and journaling after a tool has exited, and on 2 CPUs that work would land in the next
 * figure. Gives up after `limitMs` and says so (false). Profiling does not count: with `--cpu-prof`
 * an idle daemon's profiler threads (6 once its workers run) used about 30 ms of every 300 ms, and
 * the sampling 14-16 ms more on its JavaScript threads, so no wait ended before its limit and every
 * CPU-per-unit window (a measurement until idle) took in 10 s of profiling. So the profiler threads'
 * CPU is left out, and each of them allows PROFILED_IDLE_SECONDS more for the sampling.
 */
export async function waitIdle(procs: readonly (MountProcess | undefined)[], limitMs = 10_000): Promise<boolean> {
  const measure = () => procs.reduce((sum, p) => {
    const cpu = p?.cpu()
    if (!cpu) return sum
    return { used: sum.used + cpu.process - cpu.profiler, allowed: sum.allowed + cpu.profilers * PROFILED_IDLE_SECONDS }
  }, { used: 0, allowed: IDLE_SECONDS })
  const until = Date.now() + limitMs
  let last = measure().used
  for (;;) {
    await sleep(300)
    const now = measure()
    if (now.used - last < now.allowed) return true
    if (Date.now() > until) return false
    last = now.used
  }
}

/** CPU seconds in 300 ms under which a process counts as idle. */
const IDLE_SECONDS = 0.02
/** What each profiled JavaScript thread may add to that (the sampling's own cost, see waitIdle). */
const PROFILED_IDLE_SECONDS = 0.005

/** The dfs daemon under test: `dfs mount ... --foreground`, ready at `dfs: mounted`. */
export class DfsDaemon extends MountProcess {
  private constructor(spec: MountProcessSpec, readonly config: DaemonConfig, readonly index: number) {
    super(spec)
  }

  /** The file name of its CPU profile (with --cpu-prof) and, as daemon-<index>.log, of its log. */
  get profileName(): string {
    return `daemon-${this.index}.cpuprofile`
  }

  /** The `dfs: mounted ...` line. */
  get mountedLine(): string {
    return this.readyLine
  }

  static async start(config: DaemonConfig): Promise<DfsDaemon> {
    const n = ++started
    const args = [
      join(config.repoRoot, 'bin', 'dfs.js'), 'mount', config.mountpoint,
      '--nodes', config.nodes.join(','), '--meta', config.meta, '--replicas', String(config.replicas),
      ...(config.cache ? ['--cache', config.cache] : []),
      ...(config.dirty ? ['--dirty', config.dirty] : []),
      ...(config.extraArgs ?? []),
      '--foreground',
    ]
    const nodeFlags = config.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${config.cpuProfDir}`, `--cpu-prof-name=daemon-${n}.cpuprofile`] : []
    const daemon = new DfsDaemon({
      what: 'the dfs daemon', readyPrefix: 'dfs: mounted', mountpoint: config.mountpoint,
      argv: [...nodeFlags, ...args], cwd: config.repoRoot, logPath: join(config.logDir, `daemon-${n}.log`),
    }, config, n)
    await daemon.waitMounted()
    return daemon
  }
}

// ---- the mount table -----------------------------------------------------------------------------

export interface MountInfo {
  /** major:minor of the mount (its backing_dev_info in /sys/class/bdi). */
  device: string
  options: string
  fstype: string
}

/** The mount at exactly `path` from /proc/self/mountinfo (the mount point itself is never touched). */
export async function mountInfo(path: string): Promise<MountInfo | undefined> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')
  let found: MountInfo | undefined
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ')
    if (!pre || !post) continue
    const f = pre.split(' ')
    const mnt = (f[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
    if (mnt === path) found = { device: f[2] ?? '', options: `${f[5] ?? ''} (super: ${post.split(' ')[2] ?? ''})`, fstype: post.split(' ')[0] ?? '' }
  }
  return found
}

export async function unmountIfMounted(path: string): Promise<void> {
  if (!(await mountInfo(path))) return
  const r = await run('fusermount', ['-uz', path], { allowFailure: true, cleanup: true, timeoutMs: 10_000 }).catch(() => null)
  if (!r || r.code !== 0) await run('fusermount3', ['-uz', path], { allowFailure: true, cleanup: true, timeoutMs: 10_000 }).catch(() => null)
  if (await mountInfo(path)) await run('umount', ['-l', path], { allowFailure: true, cleanup: true, timeoutMs: 10_000 }).catch(() => null)
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux architecture in use). */
const CLK_TCK = 100
/** The name (comm) of V8's profiler thread in a process started with --cpu-prof. */
const PROFILER_THREAD = 'v8:ProfEvntProc'

/** utime + stime from a /proc stat line, in seconds (fields 14 and 15; the name in parentheses may hold spaces). */
function cpuSeconds(statPath: string): number {
  const text = readFileSync(statPath, 'utf8')
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}
