// Run a program the way a user would and look at what it did, without throwing on a non-zero exit.
//
//   const r = await run('cmp', [a, b])          // { code, signal, stdout, stderr, timedOut }
//   expect(r.code, r.stderr).toBe(0)
//   await sh(`dd if=/dev/urandom of=${f} bs=1M count=3 status=none`)
//   const bytes = await runBuffer('cat', [file])  // stdout as a Buffer
//
// This is the way to reach a dfs mount from a test: the work happens in a child process, so the
// test process never blocks on the mount (see shared notes/testing.md).
import { execFile } from 'node:child_process'
import { constants } from 'node:os'

export interface RunOptions {
  cwd?: string
  /** Added to (and overriding) the test process's environment. */
  env?: NodeJS.ProcessEnv
  /**
   * Milliseconds before the child is killed with SIGKILL as hung; 0 = no limit. Never less than
   * HANG_GUARD_MS: it guards against a stuck mount, it is not a bound on how fast a tool runs.
   */
  timeout?: number
  /** Written to the child's stdin, which is then closed. */
  input?: string | Buffer
}

export interface RunResult<T = string> {
  /** Exit code; 128 + signal number when killed by a signal; like a shell, 127 when the program was
   *  not found and 126 when it could not be started. */
  code: number
  signal: NodeJS.Signals | null
  stdout: T
  stderr: string
  /** True when the timeout killed it. */
  timedOut: boolean
}

export const MAX_OUTPUT = 512 * 1024 * 1024

/**
 * The least time a child gets before it is taken for hung. Generous on purpose: on a busy 2-core
 * machine (another test run beside this one) a `cmp` of 200 MiB through a mount took over a minute.
 * A test that hangs still fails, at its own vitest timeout.
 */
export const HANG_GUARD_MS = 300_000

/** execFile `cmd args`, resolving (never rejecting) with its exit status and output as text. */
export function run(cmd: string, args: readonly string[] = [], opts: RunOptions = {}): Promise<RunResult<string>> {
  return exec(cmd, args, opts).then((r) => ({ ...r, stdout: r.stdout.toString('utf8') }))
}

/** Like run(), with stdout as raw bytes (for cat/dd of binary data). */
export function runBuffer(cmd: string, args: readonly string[] = [], opts: RunOptions = {}): Promise<RunResult<Buffer>> {
  return exec(cmd, args, opts)
}

/** Run a bash script (`bash -c script`); `set -e`/`-o pipefail` are up to the script. */
export function sh(script: string, opts: RunOptions = {}): Promise<RunResult<string>> {
  return run('bash', ['-c', script], opts)
}

function exec(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult<Buffer>> {
  const timeout = opts.timeout === 0 ? 0 : Math.max(opts.timeout ?? 0, HANG_GUARD_MS)
  return new Promise((resolveRun) => {
    const child = execFile(
      cmd,
      [...args],
      {
        cwd: opts.cwd,
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
        timeout,
        killSignal: 'SIGKILL',
        maxBuffer: MAX_OUTPUT,
        encoding: 'buffer',
      },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean }) | null
        const signal = child.signalCode
        const overflow = e?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER'
        let code = child.exitCode ?? 0
        let errText = stderr.toString('utf8')
        if (e && typeof e.code === 'string') errText += (errText ? '\n' : '') + e.message
        if (e?.killed && signal === 'SIGKILL' && timeout > 0) errText += `${errText ? '\n' : ''}killed as hung after ${timeout} ms`
        if (signal) code = 128 + (constants.signals[signal] ?? 0)
        else if (e && typeof e.code === 'string' && !overflow) code = e.code === 'ENOENT' ? 127 : 126 // could not start
        resolveRun({
          code,
          signal,
          stdout,
          stderr: errText,
          timedOut: Boolean(e?.killed && signal === 'SIGKILL' && !overflow && timeout > 0),
        })
      },
    )
    child.stdin?.on('error', () => {}) // a child that exits without reading its input
    if (opts.input !== undefined) child.stdin?.end(opts.input)
    else child.stdin?.end()
  })
}
