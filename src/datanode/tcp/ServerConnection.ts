// One client connection of a DataNodeServer: the handshake, then pipelined requests served in any
// order, each answered by its request id.
//
// Rules, in the order a connection meets them:
//   - The server speaks first (HELLO with a random challenge). Until the client has proved it holds
//     the secret, frames are limited to HANDSHAKE_MAX_FRAME and anything but a valid AUTH closes the
//     connection without a word: a client without the secret learns nothing, not even the node's id.
//   - A handshake that is not over within handshakeTimeoutMs closes the connection.
//   - A length prefix that cannot be right, or a frame of another protocol version, closes the
//     connection (nothing after it can be trusted to be a frame boundary). A well-framed request the
//     server cannot make sense of gets a BAD_REQUEST reply, and the connection carries on.
//   - At most maxInFlight requests are served at once; beyond that, or while replies pile up unsent
//     (the client does not read), the socket is paused, so TCP flow control pushes back on the client.
//   - A frame that stops arriving halfway (no byte for frameIdleTimeoutMs while we are reading) closes
//     the connection: a slow client cannot hold a half-received frame forever.
//   - While requests are in flight or a frame is arriving, and nothing else was sent for keepaliveMs,
//     a KEEPALIVE frame tells the client the node is alive and working (a long sync on a slow disk, or
//     a large put on a slow link, is not a hung node).
// Whatever arrives, the only thing a connection can break is itself.

import type { Socket } from 'node:net'
import { dfsError, isDfsError } from '../../errors.js'
import { assertChunkId } from '../chunkId.js'
import type { LocalFolderNode } from '../LocalFolderNode.js'
import { fencedError, type NodeClaim, parseClaimRequest } from '../claim.js'
import { type Frame, FrameDecoder, FrameError, type FrameHeader, encodeHeader, FLAG_FRESH, FLAG_MORE, FLAG_REPLY } from './frame.js'
import { levelled } from '../../log/Log.js'
import { giveBack } from '../../util/sha256.js'
import {
  type AuthReply,
  chunkIdOf,
  clientProof,
  decodeAuth,
  HANDSHAKE_MAX_FRAME,
  LIST_IDS_PER_FRAME,
  MAX_FRAME,
  MAX_PAYLOAD,
  SHA256_BYTES,
  newChallenge,
  Op,
  OP_NAMES,
  packChunkIds,
  proofMatches,
  PROTOCOL_VERSION,
  REQUEST_OPS,
  serverProof,
  STATUS_CODES,
  STATUS_OK,
  statusOf,
  unpackChunkIds,
  wireMessage,
} from './protocol.js'

/** What a connection needs from the server that owns it. */
export interface ConnectionHost {
  readonly secret: Buffer
  /** The node being served; undefined while the folder belongs to no cluster yet. */
  readonly node: LocalFolderNode | undefined
  /** Decide (and, for a node of no cluster yet, join) the cluster an authenticated client names. */
  admit(clusterId: string): Promise<{ status: number; reply: AuthReply }>
  /** The live connection, other than `conn`, that holds this claim's token: its peer, if any. */
  heldBy(conn: ServerConnection, record: NodeClaim): string | undefined
  log(message: string): void
}

export interface ConnectionLimits {
  handshakeTimeoutMs: number
  frameIdleTimeoutMs: number
  maxInFlight: number
  /** Pause reading while more than this many reply bytes wait to be sent. */
  writeHighWater: number
}

type State = 'handshake' | 'authenticating' | 'open' | 'closed'

export class ServerConnection {
  readonly #socket: Socket
  readonly #host: ConnectionHost
  readonly #limits: ConnectionLimits
  readonly #peer: string
  readonly #decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME)
  readonly #challenge = newChallenge()
  readonly #work = new Set<Promise<void>>()
  readonly #onClose: (conn: ServerConnection) => void
  #state: State = 'handshake'
  #inFlight = 0
  #paused = false
  #lastDataAt = Date.now()
  #lastSentAt = Date.now()
  #keepaliveMs = 1000
  #handshakeTimer: NodeJS.Timeout | undefined
  #idleTimer: NodeJS.Timeout | undefined
  #keepaliveTimer: NodeJS.Timeout | undefined
  /** The token of the claim this connection took (CLAIM); deletes need it to be the node's claim. */
  #claimToken: string | undefined
  #heardAt = Date.now()

  constructor(socket: Socket, host: ConnectionHost, limits: ConnectionLimits, onClose: (conn: ServerConnection) => void) {
    this.#socket = socket
    this.#host = host
    this.#limits = limits
    this.#onClose = onClose
    this.#peer = `${socket.remoteAddress}:${socket.remotePort}`
    // A PUT's chunk arrives in memory of its own, after its SHA-256: written with O_DIRECT when large.
    this.#decoder.leadOf = (op) => (op === Op.PUT ? SHA256_BYTES : 0)
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 30_000)
    socket.on('data', (chunk: Buffer) => this.#guard(() => this.#onData(chunk)))
    socket.on('drain', () => this.#guard(() => this.#pump()))
    socket.on('error', () => {}) // 'close' follows; a reset by the peer is not our failure
    socket.on('close', () => this.destroy())
    socket.on('end', () => this.destroy())

    this.#handshakeTimer = setTimeout(() => this.destroy('no handshake within ' + limits.handshakeTimeoutMs + ' ms'), limits.handshakeTimeoutMs)
    const idleCheck = Math.max(10, Math.min(1000, limits.frameIdleTimeoutMs / 2))
    // Checked after this turn's I/O, so bytes that arrived while this process was busy count.
    this.#idleTimer = setInterval(() => setImmediate(() => this.#checkIdle()), idleCheck)
    this.#idleTimer.unref()
    this.#send({ op: Op.HELLO, flags: 0, status: STATUS_OK, requestId: 0 }, this.#challenge)
  }

  /** The claim token this connection holds, while it is open and authenticated. */
  get claimToken(): string | undefined {
    return this.#state === 'open' ? this.#claimToken : undefined
  }

  /** When a byte last arrived from the client (Date.now()). */
  get heardAt(): number {
    return this.#heardAt
  }

  /** host:port of the client. */
  get peer(): string {
    return this.#peer
  }

  /** Close the connection at once; requests already being served finish (see settled). */
  destroy(reason?: string): void {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    clearTimeout(this.#handshakeTimer)
    clearInterval(this.#idleTimer)
    clearInterval(this.#keepaliveTimer)
    this.#socket.destroy()
    if (reason) this.#host.log(`connection from ${this.#peer} closed: ${reason}`)
    this.#onClose(this)
  }

  /** Resolves once no request of this connection is touching the node any more. */
  async settled(): Promise<void> {
    while (this.#work.size > 0) await Promise.allSettled([...this.#work])
  }

  /** Whatever goes wrong in handling this connection's bytes ends this connection, never the server. */
  #guard(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      levelled(this.#host.log).error(`unexpected error on the connection from ${this.#peer}: ${(err as Error)?.stack ?? err}`)
      this.destroy('internal error')
    }
  }

  // --- reading -----------------------------------------------------------------------------------

  #onData(chunk: Buffer): void {
    if (this.#state === 'closed') return
    this.#lastDataAt = Date.now()
    this.#heardAt = this.#lastDataAt
    this.#decoder.push(chunk)
    this.#pump()
  }

  /** Serve every whole frame we may take on now, then pause or resume reading to match. */
  #pump(): void {
    while (this.#state !== 'closed' && !this.#blocked()) {
      let frame: Frame | undefined
      try {
        frame = this.#decoder.next()
      } catch (err) {
        if (err instanceof FrameError) return this.destroy(err.message)
        throw err
      }
      if (!frame) break
      if (this.#state === 'handshake') this.#onAuth(frame)
      else this.#onRequest(frame)
    }
    if (this.#state === 'closed') return
    const pause = this.#blocked()
    if (pause && !this.#paused) this.#socket.pause()
    if (!pause && this.#paused) {
      this.#lastDataAt = Date.now() // the idle clock runs only while we are reading
      this.#socket.resume()
    }
    this.#paused = pause
  }

  #blocked(): boolean {
    if (this.#state === 'authenticating') return true
    return this.#inFlight >= this.#limits.maxInFlight || this.#socket.writableLength > this.#limits.writeHighWater
  }

  #checkIdle(): void {
    if (this.#state !== 'open' || this.#paused || this.#decoder.buffered === 0) return
    const idle = Date.now() - this.#lastDataAt
    if (idle > this.#limits.frameIdleTimeoutMs) {
      this.destroy(`a frame stalled halfway (${this.#decoder.buffered} bytes, nothing more for ${idle} ms)`)
    }
  }

  // --- handshake ---------------------------------------------------------------------------------

  #onAuth(frame: Frame): void {
    if (frame.version !== PROTOCOL_VERSION || frame.op !== Op.AUTH || frame.flags !== 0 || frame.status !== 0) {
      return this.destroy(`expected AUTH, got op 0x${frame.op.toString(16)} version ${frame.version}`)
    }
    const auth = decodeAuth(frame.payload)
    if (!auth) return this.destroy('malformed AUTH')
    if (!proofMatches(auth.proof, clientProof(this.#host.secret, this.#challenge, auth.nonce))) {
      return this.destroy('wrong secret')
    }
    this.#state = 'authenticating'
    this.#keepaliveMs = Math.max(20, Math.min(60_000, auth.request.keepaliveMs))
    const proof = serverProof(this.#host.secret, this.#challenge, auth.nonce)
    const admitted = this.#host.admit(auth.request.clusterId).then(
      ({ status, reply }) => {
        if (this.#state === 'closed') return
        this.#send({ op: Op.AUTH, flags: FLAG_REPLY, status, requestId: frame.requestId }, Buffer.concat([proof, Buffer.from(JSON.stringify(reply))]))
        if (status !== STATUS_OK) {
          levelled(this.#host.log).warn(`connection from ${this.#peer} refused: ${reply.message ?? STATUS_CODES[status]}`)
          this.#closeAfterReply()
          return
        }
        clearTimeout(this.#handshakeTimer)
        this.#decoder.maxFrame = MAX_FRAME
        this.#state = 'open'
        this.#keepaliveTimer = setInterval(() => this.#keepalive(), Math.max(10, this.#keepaliveMs / 2))
        this.#keepaliveTimer.unref()
        this.#guard(() => this.#pump())
      },
      (err: unknown) => this.destroy(`admission failed: ${String(err)}`),
    )
    this.#track(admitted)
  }

  /** After a refusal: let the reply go out, then close; drop the socket if the peer lingers. */
  #closeAfterReply(): void {
    this.#state = 'closed'
    clearTimeout(this.#handshakeTimer)
    clearInterval(this.#idleTimer)
    this.#socket.end()
    const timer = setTimeout(() => this.#socket.destroy(), 1000)
    timer.unref()
    this.#socket.once('close', () => clearTimeout(timer))
    this.#onClose(this)
  }

  // --- requests ----------------------------------------------------------------------------------

  #onRequest(frame: Frame): void {
    if (frame.version !== PROTOCOL_VERSION) return this.destroy(`frame of protocol version ${frame.version}`)
    if (frame.op === Op.KEEPALIVE && frame.flags === 0) return
    this.#inFlight += 1
    const served = this.#serve(frame).finally(() => {
      this.#inFlight -= 1
      this.#guard(() => this.#pump())
    })
    this.#track(served)
  }

  #track(work: Promise<void>): void {
    const tracked = work.catch(() => {})
    this.#work.add(tracked)
    tracked.then(() => this.#work.delete(tracked))
  }

  async #serve(frame: Frame): Promise<void> {
    const reply = (payload?: Buffer, flags = 0, sent?: () => void) =>
      this.#send({ op: frame.op, flags: FLAG_REPLY | flags, status: STATUS_OK, requestId: frame.requestId }, payload, sent)
    try {
      await this.#dispatch(frame, reply)
    } catch (err) {
      let status: number
      let message: string
      if (err instanceof BadRequest) {
        status = STATUS_CODES.indexOf('BAD_REQUEST')
        message = err.message
      } else if (isDfsError(err)) {
        status = statusOf(err.code)
        message = err.message
      } else {
        levelled(this.#host.log).error(`unexpected error serving ${OP_NAMES.get(frame.op) ?? frame.op} for ${this.#peer}: ${(err as Error)?.stack ?? err}`)
        status = statusOf('NODE_UNAVAILABLE')
        message = `the node could not serve the request (${(err as Error)?.message ?? err})`
      }
      this.#send({ op: frame.op, flags: FLAG_REPLY, status, requestId: frame.requestId }, wireMessage(message))
    }
  }

  async #dispatch(frame: Frame, reply: (payload?: Buffer, flags?: number, sent?: () => void) => void): Promise<void> {
    const spec = REQUEST_OPS.get(frame.op)
    if (!spec) throw badRequest(`unknown op 0x${frame.op.toString(16).padStart(2, '0')}`)
    const flags = frame.op === Op.PUT ? frame.flags & ~FLAG_FRESH : frame.flags
    if (flags !== 0 || frame.status !== 0) throw badRequest(`a request has flags 0 (FRESH on a PUT) and status 0 (got ${frame.flags}, ${frame.status})`)
    if (frame.op !== Op.PUT && frame.op !== Op.SYNC && frame.op !== Op.CLAIM && frame.payload.length > 0) {
      throw badRequest(`${OP_NAMES.get(frame.op)} takes no payload (got ${frame.payload.length} bytes)`)
    }
    const node = this.#host.node
    if (!node) throw dfsError('NODE_UNAVAILABLE', 'this DataNode belongs to no cluster yet; connect with a cluster id to add it to one')
    // Any 16 bytes spell a well-formed id, so this cannot fail; it stays as the rule every path into
    // the folder passes through.
    const id = spec.chunk ? chunkIdOf(frame.chunkId) : undefined
    if (id !== undefined) assertChunkId(id, { node: node.address })

    switch (frame.op) {
      case Op.PING:
        await node.ping()
        return reply(Buffer.from(node.nodeId))
      case Op.PUT: {
        // The decoder cut the SHA-256 off as the frame's lead (see the constructor).
        const lead = frame.lead ?? Buffer.alloc(0)
        if (lead.length < SHA256_BYTES) {
          throw badRequest(`PUT starts with the chunk's ${SHA256_BYTES}-byte SHA-256 (got ${lead.length + frame.payload.length} bytes)`)
        }
        try {
          await node.put(id!, frame.payload, lead.toString('hex'), frame.flags & FLAG_FRESH ? { fresh: true } : {})
        } finally {
          // The node keeps nothing of the bytes once the put has settled (a hash still running on a
          // failed put only reads them): the next chunk that arrives reuses the memory.
          giveBack(frame.payload)
        }
        return reply()
      }
      case Op.GET: {
        const data = await node.get(id!)
        // Only a file put there by hand can be this large; the client could not take the frame.
        if (data.length > MAX_PAYLOAD) {
          throw dfsError('NODE_UNAVAILABLE', `chunk ${id} on ${node.address} is ${data.length} bytes, more than a frame carries (${MAX_PAYLOAD})`, { chunk: id })
        }
        // Once sent, the chunk's memory serves the next one (see PUT).
        return reply(data, 0, () => giveBack(data))
      }
      case Op.HAS:
        return reply(Buffer.of((await node.has(id!)) ? 1 : 0))
      case Op.DELETE: {
        // Only the connection holding the node's current claim deletes (the node checks its own claim too).
        const record = await node.claimRecord()
        if (!record) {
          await node.ping() // a folder that is gone says so first
          throw fencedError(node.address, 'no NameNode has claimed it yet (CLAIM first)', id)
        }
        if (record.token !== this.#claimToken) {
          throw fencedError(node.address, this.#claimToken === undefined ? `this connection has not claimed it (epoch ${record.epoch} holds it)` : `epoch ${record.epoch} claimed it after this connection did`, id)
        }
        await node.delete(id!)
        return reply()
      }
      case Op.CLAIM: {
        const request = parseClaimRequest(parseJsonPayload(frame.payload))
        if (!request) throw badRequest('CLAIM takes a JSON claim request ({ claim: { epoch, token }, basis?, seq })')
        const record = await node.claim(request, (current) => this.#host.heldBy(this, current))
        if (!request.check) this.#claimToken = request.claim.token
        return reply(Buffer.from(JSON.stringify(record ?? null)))
      }
      case Op.LIST: {
        // Packed a page at a time as the folder is read (datanode/listPages.ts): the server never
        // holds a big node's whole listing as strings. A frame goes once it is full; the last one,
        // without MORE, may be empty.
        let packed: Buffer[] = []
        let inFrame = 0
        for await (const page of node.listPages()) {
          for (let at = 0; at < page.length;) {
            const take = Math.min(page.length - at, LIST_IDS_PER_FRAME - inFrame)
            packed.push(packChunkIds(page.slice(at, at + take)))
            inFrame += take
            at += take
            if (inFrame === LIST_IDS_PER_FRAME) {
              reply(Buffer.concat(packed), FLAG_MORE)
              packed = []
              inFrame = 0
            }
          }
        }
        return reply(Buffer.concat(packed))
      }
      case Op.USAGE:
        return reply(Buffer.from(JSON.stringify(await node.usage())))
      case Op.SYNC: {
        const ids = unpackChunkIds(frame.payload)
        if (!ids) throw badRequest(`SYNC takes whole 16-byte chunk ids (got ${frame.payload.length} bytes)`)
        for (const each of ids) assertChunkId(each, { node: node.address })
        await node.sync(ids)
        return reply()
      }
    }
  }

  // --- writing -----------------------------------------------------------------------------------

  /** `sent`: called once the socket holds no reference to payload any more (sent, or never will be). */
  #send(header: Omit<FrameHeader, 'version'>, payload: Buffer = EMPTY, sent?: () => void): void {
    if (this.#socket.destroyed || !this.#socket.writable) return sent?.()
    this.#lastSentAt = Date.now()
    const head = encodeHeader({ version: PROTOCOL_VERSION, ...header }, payload.length)
    if (payload.length < 64 * 1024) {
      this.#socket.write(payload.length === 0 ? head : Buffer.concat([head, payload]))
      sent?.()
    } else {
      this.#socket.cork()
      this.#socket.write(head)
      this.#socket.write(payload, sent)
      this.#socket.uncork()
    }
  }

  #keepalive(): void {
    // Working on requests, or still receiving one (a large PUT on a slow link): either way the client
    // must hear from us, or it takes the silence for a hung node.
    if (this.#state !== 'open' || (this.#inFlight === 0 && this.#decoder.buffered === 0)) return
    if (Date.now() - this.#lastSentAt < this.#keepaliveMs) return
    this.#send({ op: Op.KEEPALIVE, flags: 0, status: STATUS_OK, requestId: 0 })
  }
}

const EMPTY = Buffer.alloc(0)

function parseJsonPayload(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'))
  } catch {
    return undefined
  }
}

/** A well-framed request that makes no sense: answered with BAD_REQUEST, the connection carries on. */
class BadRequest extends Error {}

function badRequest(message: string): BadRequest {
  return new BadRequest(message)
}
