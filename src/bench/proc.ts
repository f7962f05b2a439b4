// Child processes for the benchmark: every measured step is a real tool (dd, ls, a node script) run
// as its own process, timed by wall clock from spawn to exit. The bench process itself never touches
// the mount with fs calls: a hung daemon must cost a killable child, never the bench's own thread.

import { spawn, type ChildProcess } from 'node:child_process'

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  /** Wall time from spawn to exit. */
  ms: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Kill (SIGKILL) after this long; default: no limit. */
  timeoutMs?: number
  /** Resolve with a non-zero code instead of rejecting. */
  allowFailure?: boolean
  /** Part of cleaning up: runs even after an abort. */
  cleanup?: boolean
}

/** Children running right now, so an abort (Ctrl-C) can stop them before cleaning up. */
const active = new Set<ChildProcess>()
let aborted: string | null = null

export class BenchAborted extends Error {}

/** Stop every running tool child (not the daemon: it is stopped by its own handle) and refuse new ones. */
export function abortChildren(why: string): void {
  aborted ??= why
  for (const child of active) {
    try {
      child.kill('SIGKILL')
    } catch {
      /* already gone */
    }
  }
}

export function checkAborted(): void {
  if (aborted !== null) throw new BenchAborted(aborted)
}

const OUTPUT_CAP = 1 << 20

/** Run a command to completion; rejects on a non-zero exit (with its stderr) unless allowFailure. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  if (!opts.cleanup) checkAborted()
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    if (!opts.cleanup) active.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      if (stdout.length < OUTPUT_CAP) stdout += s
    })
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < OUTPUT_CAP) stderr += s
    })
    let timer: NodeJS.Timeout | undefined
    if (opts.timeoutMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs)
    let ms = 0
    child.once('exit', () => {
      // The process is gone here; 'close' (all output read) may come a little later.
      ms = Number(process.hrtime.bigint() - start) / 1e6
    })
    child.once('error', err => {
      active.delete(child)
      if (timer) clearTimeout(timer)
      reject(new Error(`cannot run ${cmd}: ${err.message}`))
    })
    child.once('close', (code, signal) => {
      active.delete(child)
      if (timer) clearTimeout(timer)
      if (ms === 0) ms = Number(process.hrtime.bigint() - start) / 1e6
      const result = { code, signal, ms, stdout, stderr }
      if (aborted !== null && !opts.cleanup) return reject(new BenchAborted(aborted))
      if (code === 0 || opts.allowFailure) return resolve(result)
      const how = signal ? `signal ${signal}` : `exit code ${code}`
      reject(new Error(`${describe(cmd, args)} failed (${how})${stderr.trim() ? `:\n${stderr.trim()}` : ''}`))
    })
  })
}

/** The command as one could paste it into a shell (for messages). */
export function describe(cmd: string, args: string[]): string {
  return [cmd, ...args].map(a => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}

export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}
