// A short-lived tool connection to a NameNode (`dfs status | balance | drain | fsck --namenode tcp://…`):
// the handshake of the NameNode protocol with `tool: true` (wire.ts), so the NameNode sends no
// snapshot, no records and no node lists and keeps no session for it; then `control` requests, the
// same commands a mount's control socket answers; then close. Unlike RemoteNameNode it never
// reconnects: a command that loses its NameNode fails with one line (NAMENODE_UNAVAILABLE).

import { randomUUID } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { type DfsError, dfsError, type ErrorCode } from '../errors.js'
import { parseTcpAddress } from '../datanode/tcp/protocol.js'
import type { DumpHeader, DumpPiece } from '../meta/dump.js'
import {
  HANDSHAKE_MAX_BYTES, MAX_PUSH_BYTES, MessageReader, NAMENODE_PROTOCOL_VERSION, type Message,
  clientProof, newNonce, notANameNode, proofMatches, send, serverProof,
} from '../protocol/wire.js'

export interface NameNodeTool {
  /** tcp://host:port of the NameNode that answered. */
  readonly address: string
  /** One control command (status, balance, drain, fsck, …); its result, or its error as the NameNode gave it. */
  control(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<unknown>
  /**
   * The namespace dump (`dfs meta dump --namenode`): its header, then its pieces as the NameNode
   * streams them in `snap` messages. The socket is paused while the consumer lags (backpressure).
   */
  dump(): Promise<{ header: DumpHeader; pieces: AsyncIterable<DumpPiece> }>
  close(): void
}

const CONNECT_TIMEOUT_MS = 10_000

/**
 * Connect to the first of `addresses` (a NameNode, then its standbys) that answers and accepts the
 * secret. Unreachable, refused, or not a NameNode: NAMENODE_UNAVAILABLE, naming the address and why.
 */
export async function connectTool(addresses: readonly string[], secret: Buffer): Promise<NameNodeTool> {
  let last: DfsError | undefined
  for (const address of addresses) {
    try {
      return await open(address, secret)
    } catch (err) {
      last = err as DfsError
    }
  }
  throw last!
}

function open(address: string, secret: Buffer): Promise<NameNodeTool> {
  const { host, port } = parseTcpAddress(address, '--namenode')
  const unavailable = (why: string, cause?: unknown) =>
    dfsError('NAMENODE_UNAVAILABLE', `cannot use the NameNode at ${address}: ${why}`, { address }, cause)
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port })
    socket.setNoDelay(true)
    const nonce = newNonce()
    let challenge = ''
    let ready = false
    let nextId = 1
    const pending = new Map<number, { cmd: string; resolve(v: unknown): void; reject(e: DfsError): void; timer?: NodeJS.Timeout }>()
    const reader = new MessageReader(() => (ready ? MAX_PUSH_BYTES : HANDSHAKE_MAX_BYTES))
    let dumping: PieceQueue | undefined // the pieces of a dump being received
    // Before the welcome: reject the connect; after: every request waiting.
    const fail = (err: DfsError) => {
      if (!ready) reject(err)
      for (const [id, p] of pending) {
        clearTimeout(p.timer)
        pending.delete(id)
        p.reject(err)
      }
      ready = false
      dumping?.fail(err)
      socket.destroy()
    }
    const handshakeTimer = setTimeout(() => fail(unavailable(`no handshake within ${CONNECT_TIMEOUT_MS / 1000} s; is it a dfs namenode?`)), CONNECT_TIMEOUT_MS)
    socket.on('error', err => {
      const code = (err as NodeJS.ErrnoException).code
      fail(unavailable(code === 'ECONNREFUSED' ? 'nothing listens there (connection refused); is dfs namenode running?' : err.message, err))
    })
    socket.on('close', () => {
      clearTimeout(handshakeTimer)
      fail(unavailable(ready || pending.size ? 'the connection closed (did the NameNode stop?)' : 'it closed the connection during the handshake'))
    })
    socket.on('data', data => {
      let messages: Message[]
      try {
        messages = reader.push(data)
      } catch (err) {
        return fail(ready ? unavailable((err as Error).message, err) : notANameNode(address, err))
      }
      for (const m of messages) {
        if (m.t === 'error') {
          // The NameNode's own words are for its log ("client <peer> does not hold…"); say it for this command.
          if (!ready && /secret/.test(m.message)) return fail(unavailable('it refused the secret this command gave; --secret-file must hold the cluster secret the NameNode was started with'))
          const code = m.code === 'PROTOCOL_ERROR' || m.code === 'NOT_PRIMARY' ? m.code : 'NAMENODE_UNAVAILABLE'
          return fail(dfsError(code, `refused by the NameNode at ${address}: ${m.message}`, { address }))
        }
        if (!ready && m.t === 'hello') {
          challenge = m.challenge
          send(socket, {
            t: 'auth', version: NAMENODE_PROTOCOL_VERSION, nonce, proof: clientProof(secret, challenge, nonce),
            client: `tool-${randomUUID()}`, tool: true,
          })
        } else if (!ready && m.t === 'welcome') {
          if (!proofMatches(m.proof, serverProof(secret, challenge, nonce))) {
            return fail(unavailable('it does not hold the cluster secret; is it a dfs NameNode of this cluster (check --secret-file)?'))
          }
          clearTimeout(handshakeTimer)
          ready = true
          resolve(tool)
        } else if (ready && m.t === 'res') {
          const p = pending.get(m.id)
          if (!p) continue
          pending.delete(m.id)
          clearTimeout(p.timer)
          if (m.ok) p.resolve(m.r)
          else p.reject(dfsError((m.e?.code ?? 'EIO') as ErrorCode, m.e?.message ?? `the NameNode failed "${p.cmd}"`, { address }))
        } else if (ready && m.t === 'snap' && dumping) {
          dumping.push(m.pieces as DumpPiece[], m.done)
          if (m.done) dumping = undefined
        } else if (!ready) {
          return fail(unavailable(`it sent "${m.t}" during the handshake; is it a dfs namenode?`))
        }
        // Anything else after the welcome (a NameNode pushes nothing to a tool) is ignored.
      }
    })
    const tool: NameNodeTool = {
      address,
      control(cmd, args = {}, timeoutMs = 10_000) {
        if (!ready) return Promise.reject(unavailable('the connection is closed'))
        return new Promise((resolveCall, rejectCall) => {
          const id = nextId++
          const timer = setTimeout(() => {
            pending.delete(id)
            rejectCall(dfsError('NAMENODE_UNAVAILABLE', `the NameNode at ${address} did not answer "${cmd}" within ${timeoutMs / 1000} s`, { address }))
          }, timeoutMs)
          pending.set(id, { cmd, resolve: resolveCall, reject: rejectCall, timer })
          send(socket, { t: 'req', id, m: 'control', a: { cmd, args } })
        })
      },
      async dump() {
        if (!ready) throw unavailable('the connection is closed')
        if (dumping) throw dfsError('EINVAL', 'one dump at a time on a tool connection', {})
        const queue = new PieceQueue(socket)
        dumping = queue
        const id = nextId++
        const header = await new Promise<unknown>((resolveCall, rejectCall) => {
          // The header comes as soon as the NameNode captured the namespace: no timeout beyond the connection's.
          pending.set(id, { cmd: 'dump', resolve: resolveCall, reject: rejectCall })
          send(socket, { t: 'req', id, m: 'dump' })
        }).catch((err: unknown) => {
          dumping = undefined
          throw err
        })
        return { header: header as DumpHeader, pieces: queue }
      },
      close() {
        ready = false
        clearTimeout(handshakeTimer)
        socket.end()
        socket.destroy()
      },
    }
  })
}

/** Pieces as they arrive, consumed as an async iterable; the socket pauses while too many wait. */
class PieceQueue implements AsyncIterable<DumpPiece> {
  private readonly batches: DumpPiece[][] = []
  private done = false
  private failure: unknown
  private wake: (() => void) | undefined

  constructor(private readonly socket: Socket) {}

  push(pieces: DumpPiece[], done: boolean): void {
    this.batches.push(pieces)
    if (done) this.done = true
    if (this.batches.length >= 4) this.socket.pause()
    this.wake?.()
  }

  fail(err: unknown): void {
    this.failure ??= err
    this.wake?.()
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<DumpPiece> {
    for (;;) {
      const batch = this.batches.shift()
      if (batch) {
        if (this.batches.length < 2) this.socket.resume()
        yield* batch
        continue
      }
      if (this.done) return
      if (this.failure) throw this.failure
      await new Promise<void>((resolve) => { this.wake = resolve })
      this.wake = undefined
    }
  }
}
