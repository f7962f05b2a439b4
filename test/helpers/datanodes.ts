// `dfs datanode` servers as real child processes on free ports of 127.0.0.1, for tests where the
// DataNode is another process (as it is on another host).
//
//   const server = await startDataNode({ dir, secretFile })   // server.url = tcp://127.0.0.1:<port>
//   await server.stop()                                       // SIGTERM, then SIGKILL
//   afterAll(stopAllDataNodes)

import { type ChildProcess, spawn } from 'node:child_process'
import { DFS_BIN, REPO_ROOT } from './mount.js'

export interface DataNodeProcess {
  readonly url: string
  readonly dir: string
  readonly child: ChildProcess
  output(): string
  /** SIGTERM and wait for the exit (SIGKILL after a grace period). */
  stop(): Promise<void>
}

const running = new Set<DataNodeProcess>()
const READY_TIMEOUT_MS = 120_000
const STOP_GRACE_MS = 30_000

/** Start `dfs datanode --dir <dir> --listen 127.0.0.1:<port|0> --secret-file <f>`; resolves once it serves. */
export function startDataNode(opts: { dir: string; secretFile: string; port?: number }): Promise<DataNodeProcess> {
  const child = spawn(process.execPath, [DFS_BIN, 'datanode', '--dir', opts.dir, '--listen', `127.0.0.1:${opts.port ?? 0}`, '--secret-file', opts.secretFile], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const server: DataNodeProcess = {
    url: '',
    dir: opts.dir,
    child,
    output: () => out,
    async stop() {
      running.delete(server)
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
      await exited
      clearTimeout(timer)
    },
  }
  running.add(server)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void server.stop()
      reject(new Error(`dfs datanode did not start within ${READY_TIMEOUT_MS} ms: ${out}`))
    }, READY_TIMEOUT_MS)
    const onData = (d: Buffer) => {
      out += d
      const match = / on (127\.0\.0\.1:\d+) /.exec(out)
      if (!match) return
      clearTimeout(timer)
      ;(server as { url: string }).url = `tcp://${match[1]}`
      resolve(server)
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (d: Buffer) => (out += d))
    child.once('exit', (code) => {
      clearTimeout(timer)
      running.delete(server)
      reject(new Error(`dfs datanode exited (${code}) before serving: ${out}`))
    })
  })
}

/** Stop every server this test process started and has not stopped. */
export async function stopAllDataNodes(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()))
}
