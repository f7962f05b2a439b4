// The daemon's control socket: a unix socket beside its registry record, one JSON request per line,
// one JSON reply per line. `dfs status` (and later balance, drain) talk to the running daemon here.
// Only the daemon's own user can connect (the socket is 0600 in a 0700 folder).

import { chmod, rm } from 'node:fs/promises'
import { createConnection, createServer, type Server } from 'node:net'
import { dfsError, isDfsError } from '../errors.js'
import { levelled } from '../log/Log.js'

export type ControlHandler = (args: Record<string, unknown>) => unknown

interface Reply {
  ok: boolean
  result?: unknown
  error?: { code: string; message: string }
}

/** Largest request line accepted; anything longer is a confused or hostile client. */
const MAX_REQUEST = 64 * 1024

export async function serveControl(socketPath: string, handlers: Record<string, ControlHandler>, log: (m: string) => void): Promise<{ close(): Promise<void> }> {
  await rm(socketPath, { force: true }) // left by a daemon that died; the registry said none is alive
  const server: Server = createServer(conn => {
    let buffered = ''
    conn.setEncoding('utf8')
    conn.on('error', () => {})
    conn.on('data', (text: string) => {
      buffered += text
      if (buffered.length > MAX_REQUEST) return conn.destroy()
      let newline
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        answer(line).then(reply => conn.write(JSON.stringify(reply) + '\n'))
      }
    })
  })
  async function answer(line: string): Promise<Reply> {
    try {
      const { cmd, ...args } = JSON.parse(line) as { cmd?: unknown }
      const handler = typeof cmd === 'string' && Object.hasOwn(handlers, cmd) ? handlers[cmd] : undefined
      if (!handler) throw dfsError('BAD_ARGUMENT', `unknown control command ${JSON.stringify(cmd)}`)
      return { ok: true, result: await handler(args) }
    } catch (err) {
      if (!isDfsError(err)) levelled(log).error(`control: ${(err as Error).stack ?? err}`)
      const code = isDfsError(err) ? err.code : 'EIO'
      return { ok: false, error: { code, message: (err as Error).message } }
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => resolve())
  })
  await chmod(socketPath, 0o600)
  return {
    close: () => new Promise<void>(resolve => server.close(() => resolve())),
  }
}

/** Send one command to a daemon's control socket and return its result (or throw its error). */
export function callControl(socketPath: string, cmd: string, args: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socketPath)
    let buffered = ''
    const timer = setTimeout(() => {
      conn.destroy()
      reject(dfsError('ETIMEDOUT', `the dfs daemon did not answer "${cmd}" within ${timeoutMs / 1000} s`, { socketPath }))
    }, timeoutMs)
    conn.setEncoding('utf8')
    conn.on('connect', () => conn.write(JSON.stringify({ cmd, ...args }) + '\n'))
    conn.on('data', (text: string) => {
      buffered += text
      const newline = buffered.indexOf('\n')
      if (newline < 0) return
      clearTimeout(timer)
      conn.end()
      const reply = JSON.parse(buffered.slice(0, newline)) as Reply
      if (reply.ok) resolve(reply.result)
      else reject(dfsError((reply.error?.code ?? 'EIO') as never, reply.error?.message ?? 'the daemon failed', {}))
    })
    conn.on('error', err => {
      clearTimeout(timer)
      reject(dfsError('NOT_MOUNTED', `cannot reach the dfs daemon at ${socketPath} (${(err as NodeJS.ErrnoException).code}); is it still running?`, { socketPath }, err))
    })
  })
}
