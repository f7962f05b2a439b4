// One authenticated connection from a client to a DataNode server: the handshake, then pipelined
// requests matched to their replies by request id.
//
// Timing rules (docs/protocol.md, "Timeouts"):
//   - connect + handshake must finish within connectTimeoutMs.
//   - Small requests (PING, HAS, DELETE, USAGE) must be answered within requestTimeoutMs of leaving
//     this process; a late one fails alone with NODE_UNAVAILABLE.
//   - Bulk requests (PUT, GET, LIST, SYNC) have no fixed deadline, as their time depends on their size
//     and on the disk. Instead the connection watches for progress: while any request is pending,
//     some byte must arrive (a reply, part of one, or a KEEPALIVE the server sends while it receives
//     or works) at least every requestTimeoutMs. Our own bytes leaving do not count: the kernel of a
//     stopped (SIGSTOP) server still accepts them. A connection without progress is a hung node: it
//     is closed, and everything pending fails with NODE_UNAVAILABLE.
//   - When the connection closes, every pending request fails at once.
//
// Sending: frames are handed to the socket in pieces, at most SEND_WINDOW bytes not yet flushed, so
// progress is visible piece by piece and a small request waiting behind a large put goes out as
// soon as the frame being sent is done (small frames are queued ahead of large ones).

import { randomBytes } from 'node:crypto'
import { connect, type OnReadOpts, type Socket } from 'node:net'
import { type DfsError, dfsError } from '../../errors.js'
import { errnoOf } from '../../util/osError.js'
import { type Frame, FrameDecoder, FrameError, encodeHeader, FLAG_MORE, FLAG_REPLY } from './frame.js'
import {
  type AuthReply,
  clientProof,
  CHALLENGE_BYTES,
  decodeAuthReply,
  encodeAuth,
  errorCodeOfStatus,
  HANDSHAKE_MAX_FRAME,
  MAX_FRAME,
  NONCE_BYTES,
  Op,
  OP_NAMES,
  proofMatches,
  PROTOCOL_VERSION,
  serverProof,
  STATUS_OK,
} from './protocol.js'

export interface ClientConnectionOptions {
  host: string
  port: number
  /** How the node is named in messages (tcp://host:port). */
  address: string
  secret: Buffer
  /** The cluster we belong to ('' when any will do). */
  clusterId: string
  requestTimeoutMs: number
  connectTimeoutMs: number
}

/** Ops answered within requestTimeoutMs; the others are watched by progress. */
const SMALL_OPS: ReadonlySet<number> = new Set([Op.PING, Op.HAS, Op.DELETE, Op.USAGE])
const SEND_PIECE = 512 * 1024
const SEND_WINDOW = 4 * 1024 * 1024

interface Pending {
  op: number
  frames: Frame[]
  resolve(frames: Frame[]): void
  reject(err: DfsError): void
  timer?: NodeJS.Timeout
}

interface Outgoing {
  pieces: Buffer[]
  /** Called once the last piece has left this process. */
  sent(): void
}

export class ClientConnection {
  readonly identity: AuthReply
  readonly #socket: Socket
  readonly #decoder: FrameDecoder
  readonly #options: ClientConnectionOptions
  readonly #pending = new Map<number, Pending>()
  readonly #small: Outgoing[] = []
  readonly #bulk: Outgoing[] = []
  #current: Outgoing | undefined
  #unflushed = 0
  #nextId = 1
  #open = true
  #lastProgressAt = Date.now()
  readonly #watchdog: NodeJS.Timeout
  #onClose: ((err: DfsError) => void) | undefined

  /** Connect, authenticate both ways, and check the cluster. */
  static open(options: ClientConnectionOptions): Promise<ClientConnection> {
    return new Promise((resolve, reject) => {
      const { address } = options
      const decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME)
      const nonce = randomBytes(NONCE_BYTES)
      let challenge: Buffer | undefined
      let socketError: string | undefined
      let settled = false
      const sink: Sink = { data: (chunk) => onData(chunk) }
      const socket = connect({ host: options.host, port: options.port, noDelay: true, onread: readInto(decoder, sink) })

      const fail = (err: DfsError) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        socket.destroy()
        reject(err)
      }
      const timer = setTimeout(() => {
        fail(dfsError('NODE_UNAVAILABLE', `DataNode ${address} did not complete the handshake within ${options.connectTimeoutMs} ms`, { node: address }))
      }, options.connectTimeoutMs)

      const onFrame = (frame: Frame): void => {
        if (frame.version !== PROTOCOL_VERSION && frame.op === Op.HELLO && frame.version > PROTOCOL_VERSION) {
          return fail(dfsError('META_TOO_NEW', `DataNode ${address} speaks protocol version ${frame.version}; this dfs speaks ${PROTOCOL_VERSION}: upgrade dfs here`, { node: address, version: frame.version }))
        }
        if (frame.version !== PROTOCOL_VERSION) return fail(notDataNode(address, `protocol version ${frame.version}`))
        if (!challenge) {
          if (frame.op !== Op.HELLO || frame.payload.length !== CHALLENGE_BYTES) return fail(notDataNode(address, 'no HELLO'))
          challenge = frame.payload
          const proof = clientProof(options.secret, challenge, nonce)
          const keepaliveMs = Math.max(20, Math.floor(options.requestTimeoutMs / 4))
          const auth = encodeAuth(nonce, proof, { clusterId: options.clusterId, keepaliveMs })
          socket.write(Buffer.concat([encodeHeader({ version: PROTOCOL_VERSION, op: Op.AUTH, flags: 0, status: 0, requestId: 0 }, auth.length), auth]))
          return
        }
        const answer = frame.op === Op.AUTH && frame.flags === FLAG_REPLY ? decodeAuthReply(frame.payload) : undefined
        if (!answer) return fail(notDataNode(address, `unexpected op 0x${frame.op.toString(16)} in the handshake`))
        if (!proofMatches(answer.proof, serverProof(options.secret, challenge, nonce))) {
          return fail(dfsError('NODE_UNAVAILABLE', `DataNode ${address} could not prove it holds the cluster secret; check its --secret-file`, { node: address }))
        }
        const { reply } = answer
        if (frame.status !== STATUS_OK) {
          const code = errorCodeOfStatus(frame.status)
          return fail(dfsError(code, reply.message ?? `DataNode ${address} refused the connection (${code})`, { node: address, nodeId: reply.nodeId, clusterId: reply.clusterId }))
        }
        if (options.clusterId !== '' && reply.clusterId !== options.clusterId) {
          return fail(dfsError('META_FOREIGN', `DataNode ${address} (node ${reply.nodeId}) belongs to cluster ${reply.clusterId || '(none)'}, not ${options.clusterId}`, {
            node: address,
            nodeId: reply.nodeId,
            clusterId: reply.clusterId,
            expected: options.clusterId,
          }))
        }
        settled = true
        clearTimeout(timer)
        socket.removeListener('close', onCloseEarly)
        decoder.maxFrame = MAX_FRAME
        // The server is authenticated now: its chunks may be read straight into their own memory.
        decoder.receiveInPlace = true
        resolve(new ClientConnection(socket, decoder, options, reply, sink))
      }

      const onData = (chunk: Buffer): void => {
        decoder.push(chunk)
        try {
          for (let frame = decoder.next(); frame && !settled; frame = settled ? undefined : decoder.next()) onFrame(frame)
        } catch (err) {
          if (err instanceof FrameError) fail(notDataNode(address, err.message))
          else throw err
        }
      }
      const onCloseEarly = (): void => {
        const why = socketError
          ? `cannot connect to DataNode ${address} (${socketError}); is \`dfs datanode\` running there?`
          : challenge
            ? `DataNode ${address} closed the connection during the handshake; check that it uses the same --secret-file`
            : `DataNode ${address} closed the connection before the handshake`
        fail(dfsError('NODE_UNAVAILABLE', why, { node: address, ...(socketError ? { errno: socketError } : {}) }))
      }
      socket.on('error', (err) => {
        socketError ??= errnoOf(err) ?? err.message
      })
      socket.on('close', onCloseEarly)
    })
  }

  private constructor(socket: Socket, decoder: FrameDecoder, options: ClientConnectionOptions, identity: AuthReply, sink: Sink) {
    this.#socket = socket
    this.#decoder = decoder
    this.#options = options
    this.identity = identity
    let socketError: string | undefined
    socket.setKeepAlive(true, 30_000)
    sink.data = (chunk) => this.#onData(chunk)
    socket.on('error', (err) => {
      socketError ??= errnoOf(err) ?? err.message
    })
    socket.on('close', () => {
      const why = socketError ? ` (${socketError})` : ''
      this.#fail(dfsError('NODE_UNAVAILABLE', `connection to DataNode ${options.address} closed${why}`, { node: options.address }))
    })
    const tick = Math.max(10, Math.floor(options.requestTimeoutMs / 5))
    this.#watchdog = setInterval(() => setImmediate(() => this.#checkProgress()), tick)
    this.#watchdog.unref()
    socket.unref() // an idle connection does not keep the process alive; pending requests do
  }

  get isOpen(): boolean {
    return this.#open
  }

  /** Called once, when the connection closes for any reason but close(). */
  onClose(listener: (err: DfsError) => void): void {
    this.#onClose = listener
  }

  /**
   * Send a request and resolve with its reply frames (one, or several for LIST); the last one's status
   * says whether it worked. Rejects only for transport failures (NODE_UNAVAILABLE). A payload given
   * in parts is sent as their concatenation, without copying them into one buffer. `flags`: a
   * request's own (FLAG_FRESH), only those the server said it takes.
   */
  request(op: number, chunkId: Buffer | undefined, payload: Buffer | Buffer[] = EMPTY, flags = 0): Promise<Frame[]> {
    if (!this.#open) {
      return Promise.reject(dfsError('NODE_UNAVAILABLE', `connection to DataNode ${this.#options.address} is closed`, { node: this.#options.address }))
    }
    const requestId = this.#newRequestId()
    return new Promise<Frame[]>((resolve, reject) => {
      const pending: Pending = { op, frames: [], resolve, reject }
      if (this.#pending.size === 0) {
        this.#lastProgressAt = Date.now()
        this.#socket.ref()
      }
      this.#pending.set(requestId, pending)
      const parts = Array.isArray(payload) ? payload : [payload]
      const length = parts.reduce((sum, part) => sum + part.length, 0)
      const head = encodeHeader({ version: PROTOCOL_VERSION, op, flags, status: 0, requestId, chunkId }, length)
      const pieces = length <= SEND_PIECE ? [length === 0 ? head : Buffer.concat([head, ...parts])] : [head, ...parts.flatMap(slices)]
      const small = SMALL_OPS.has(op)
      const sent = () => {
        if (!small || !this.#pending.has(requestId)) return
        // Decided after this turn's I/O (setImmediate): after a stall of this process, a reply
        // already waiting in the socket wins over its timer.
        pending.timer = setTimeout(() => setImmediate(() => {
          if (this.#pending.get(requestId) !== pending) return
          this.#settle(requestId)
          const name = OP_NAMES.get(op) ?? String(op)
          reject(dfsError('NODE_UNAVAILABLE', `DataNode ${this.#options.address} did not answer ${name} within ${this.#options.requestTimeoutMs} ms`, { node: this.#options.address }))
        }), this.#options.requestTimeoutMs)
      }
      ;(small ? this.#small : this.#bulk).push({ pieces, sent })
      this.#pumpWrites()
    })
  }

  /** Close the connection; pending requests fail with err. Does not call the onClose listener. */
  close(err: DfsError): void {
    this.#onClose = undefined
    this.#fail(err)
  }

  // --- internals ---------------------------------------------------------------------------------

  #newRequestId(): number {
    do {
      this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1
    } while (this.#pending.has(this.#nextId))
    return this.#nextId
  }

  #pumpWrites(): void {
    while (this.#open && this.#unflushed < SEND_WINDOW) {
      if (!this.#current || this.#current.pieces.length === 0) {
        this.#current = this.#small.shift() ?? this.#bulk.shift()
        if (!this.#current) return
      }
      const frame = this.#current
      const piece = frame.pieces.shift()!
      const last = frame.pieces.length === 0
      this.#unflushed += piece.length
      this.#socket.write(piece, (err) => {
        this.#unflushed -= piece.length
        if (err) return
        // Bytes leaving are not progress: a stopped server's kernel still takes them. Only what the
        // server sends (replies, KEEPALIVE while it receives or works) shows it is alive.
        if (last) frame.sent()
        this.#pumpWrites()
      })
    }
  }

  #onData(chunk: Buffer): void {
    if (!this.#open) return
    this.#lastProgressAt = Date.now()
    this.#decoder.push(chunk)
    try {
      for (let frame = this.#decoder.next(); frame && this.#open; frame = this.#open ? this.#decoder.next() : undefined) this.#onFrame(frame)
    } catch (err) {
      if (!(err instanceof FrameError)) throw err
      this.#protocolError(err.message)
    }
  }

  #onFrame(frame: Frame): void {
    if (frame.version !== PROTOCOL_VERSION) return this.#protocolError(`a frame of protocol version ${frame.version}`)
    if (frame.op === Op.KEEPALIVE && frame.requestId === 0) return
    if (!(frame.flags & FLAG_REPLY)) return this.#protocolError(`an unexpected request (op 0x${frame.op.toString(16)})`)
    const pending = this.#pending.get(frame.requestId)
    if (!pending) return // the answer to a request that timed out
    if (frame.op !== pending.op) return this.#protocolError(`a reply of op 0x${frame.op.toString(16)} to op 0x${pending.op.toString(16)}`)
    pending.frames.push(frame)
    if (frame.flags & FLAG_MORE && frame.status === STATUS_OK) return
    this.#settle(frame.requestId)
    pending.resolve(pending.frames)
  }

  #settle(requestId: number): void {
    const pending = this.#pending.get(requestId)
    if (!pending) return
    clearTimeout(pending.timer)
    this.#pending.delete(requestId)
    if (this.#pending.size === 0 && this.#open) this.#socket.unref()
  }

  #checkProgress(): void {
    if (this.#pending.size === 0) return
    const silent = Date.now() - this.#lastProgressAt
    if (silent <= this.#options.requestTimeoutMs) return
    const address = this.#options.address
    this.#fail(dfsError('NODE_UNAVAILABLE', `DataNode ${address} stopped answering (nothing for ${silent} ms with ${this.#pending.size} request(s) in flight)`, { node: address }))
  }

  #protocolError(what: string): void {
    const address = this.#options.address
    this.#fail(dfsError('NODE_UNAVAILABLE', `DataNode ${address} broke the protocol (${what}); closed the connection`, { node: address }))
  }

  #fail(err: DfsError): void {
    if (!this.#open) return
    this.#open = false
    clearInterval(this.#watchdog)
    this.#socket.destroy()
    this.#small.length = 0
    this.#bulk.length = 0
    this.#current = undefined
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of pending) {
      clearTimeout(p.timer)
      p.reject(err)
    }
    const listener = this.#onClose
    this.#onClose = undefined
    listener?.(err)
  }
}

const EMPTY = Buffer.alloc(0)

/** Where bytes read from the socket go: the handshake first, then the connection. */
interface Sink {
  data(chunk: Buffer): void
}

/** Bytes read at once into the scratch buffer (what the socket reads when no payload is being filled). */
const SCRATCH_BYTES = 64 * 1024

/**
 * The socket's reads (net's `onread`): straight into the payload the decoder is filling, when there
 * is one (a chunk: no gathering copy, no buffer per read), else into a scratch buffer whose bytes are
 * copied out at once (the next read reuses it).
 */
function readInto(decoder: FrameDecoder, sink: Sink): OnReadOpts {
  const scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES)
  return {
    buffer: () => decoder.receiveTarget() ?? scratch,
    callback: (n, buf) => {
      if (buf.buffer === scratch.buffer) {
        sink.data(Buffer.from(scratch.subarray(0, n)))
      } else {
        decoder.received(n)
        sink.data(EMPTY)
      }
      return true
    },
  }
}

function slices(payload: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let at = 0; at < payload.length; at += SEND_PIECE) out.push(payload.subarray(at, at + SEND_PIECE))
  return out
}

function notDataNode(address: string, what: string): DfsError {
  return dfsError('NODE_UNAVAILABLE', `${address} is not a dfs DataNode of this version (${what})`, { node: address })
}
