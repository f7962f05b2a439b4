// The TCP transport: a DataNode served by `dfs datanode` on another process or machine, with the same
// semantics (and the same error codes) as a LocalFolderNode.
//
//   const node = await TcpDataNode.connect('tcp://127.0.0.1:7001', { secret, clusterId })
//   node.on('disconnect', (err) => ...)   // the connection dropped: liveness can act at once
//   node.on('connect', () => ...)         // (re)connected and authenticated
//
// One connection carries every request, pipelined. When it drops, everything in flight fails at once
// with NODE_UNAVAILABLE and the next call connects again; a server that now answers with another node
// id (its folder was wiped and re-created, or another node took the port) is refused, as a local
// folder that was wiped is. Chunk ids are checked here too, so an invalid id never leaves the process.

import { EventEmitter } from 'node:events'
import { type DfsError, dfsError, isDfsError } from '../../errors.js'
import { assertChunkId } from '../chunkId.js'
import type { ChunkId, DataNode, NodeUsage, PutHint } from '../DataNode.js'
import type { ClaimRequest } from '../claim.js'
import { ClientConnection, type ClientConnectionOptions } from './ClientConnection.js'
import { CHUNK_ID_BYTES, FLAG_FRESH, type Frame } from './frame.js'
import { LIST_PAGE } from '../listPages.js'
import { chunkIdBytes, decodeUsage, errorCodeOfStatus, type HostPort, MAX_PAYLOAD, Op, packChunkIds, parseTcpAddress, SHA256_BYTES, STATUS_OK, unpackChunkIds } from './protocol.js'
import { secretBytes } from './secret.js'

export interface TcpDataNodeOptions {
  /** The cluster secret (the contents of the servers' --secret-file). */
  secret: Buffer | string
  /** The cluster this node must belong to; a node of another is refused with META_FOREIGN. A node
   *  of no cluster yet joins this one. Omitted: any cluster will do (tools that only look). */
  clusterId?: string
  /** The node id this address must have (from the cluster's records); another is refused. */
  nodeId?: string
  /** Deadline for small requests, and the longest silence tolerated while bulk ones run. Default 3 s. */
  requestTimeoutMs?: number
  /** Deadline for connecting and the handshake. Default 3 s. */
  connectTimeoutMs?: number
}

export interface TcpDataNodeEvents {
  /** Connected and authenticated (again). */
  connect: []
  /** The connection dropped; requests in flight have failed with this error. */
  disconnect: [err: DfsError]
  /** A new connection could not take this node's claim again (another NameNode claimed it): deletes are refused. */
  fenced: [err: DfsError]
}

export class TcpDataNode extends EventEmitter<TcpDataNodeEvents> implements DataNode {
  readonly nodeId: string
  readonly address: string
  readonly #target: ClientConnectionOptions
  #clusterId: string
  #conn: ClientConnection | undefined
  #connecting: Promise<ClientConnection> | undefined
  #closed = false
  /** The claim this node's connections take before any other request (fencing: deletes need it). */
  #claim: ClaimRequest | undefined

  /** Connect and authenticate now; the node id comes from the server. */
  static async connect(address: string, options: TcpDataNodeOptions): Promise<TcpDataNode> {
    const target = targetOf(address, options)
    const conn = await ClientConnection.open(target)
    if (options.nodeId !== undefined && conn.identity.nodeId !== options.nodeId) {
      const err = otherNode(address, options.nodeId, conn.identity.nodeId)
      conn.close(err)
      throw err
    }
    const node = new TcpDataNode(address, target, conn.identity.nodeId, conn.identity.clusterId)
    node.#attach(conn)
    return node
  }

  /** A node known by id (from the cluster's records) that may be down now: connects on first use. */
  static create(address: string, options: TcpDataNodeOptions & { nodeId: string }): TcpDataNode {
    return new TcpDataNode(address, targetOf(address, options), options.nodeId, options.clusterId ?? '')
  }

  private constructor(address: string, target: ClientConnectionOptions, nodeId: string, clusterId: string) {
    super()
    this.address = address
    this.#target = target
    this.nodeId = nodeId
    this.#clusterId = clusterId
  }

  /** The cluster the node reported at the last handshake ('' while it belongs to none). */
  get clusterId(): string {
    return this.#clusterId
  }

  /** True while an authenticated connection is open. */
  get connected(): boolean {
    return this.#conn?.isOpen ?? false
  }

  async put(id: ChunkId, data: Buffer, sha256: string, hint: PutHint = {}): Promise<void> {
    assertChunkId(id, { node: this.address })
    if (data.length > MAX_PAYLOAD) {
      throw dfsError('EINVAL', `chunk ${id} is ${data.length} bytes; a DataNode takes at most ${MAX_PAYLOAD}`, { node: this.address, chunk: id })
    }
    const hash = Buffer.from(sha256, 'hex')
    if (hash.length !== SHA256_BYTES || hash.toString('hex') !== sha256) {
      throw dfsError('EINVAL', `put of chunk ${id} carries ${JSON.stringify(sha256.slice(0, 80))}, not a SHA-256 in lowercase hex`, { node: this.address, chunk: id })
    }
    await this.#call(Op.PUT, id, [hash, data], hint.fresh ? FLAG_FRESH : 0)
  }

  async get(id: ChunkId): Promise<Buffer> {
    assertChunkId(id, { node: this.address })
    const [reply] = await this.#call(Op.GET, id)
    return compact(reply!.payload)
  }

  async has(id: ChunkId): Promise<boolean> {
    assertChunkId(id, { node: this.address })
    const [reply] = await this.#call(Op.HAS, id)
    if (reply!.payload.length !== 1) throw this.#malformed('HAS')
    return reply!.payload[0] === 1
  }

  async delete(id: ChunkId): Promise<void> {
    assertChunkId(id, { node: this.address })
    await this.#call(Op.DELETE, id)
  }

  async list(): Promise<ChunkId[]> {
    const ids: ChunkId[] = []
    for await (const page of this.listPages()) ids.push(...page)
    return ids
  }

  /** The reply's frames are packed ids (16 bytes each): turned into strings a page at a time. */
  async *listPages(): AsyncGenerator<ChunkId[]> {
    const frames = await this.#call(Op.LIST)
    if (frames.some((frame) => frame.payload.length % CHUNK_ID_BYTES !== 0)) throw this.#malformed('LIST')
    const pageBytes = LIST_PAGE * CHUNK_ID_BYTES
    for (const frame of frames) {
      for (let at = 0; at < frame.payload.length; at += pageBytes) yield unpackChunkIds(frame.payload.subarray(at, at + pageBytes))!
    }
  }

  async usage(): Promise<NodeUsage> {
    const [reply] = await this.#call(Op.USAGE)
    const usage = decodeUsage(reply!.payload)
    if (!usage) throw this.#malformed('USAGE')
    return usage
  }

  async sync(ids: ChunkId[]): Promise<void> {
    for (const id of ids) assertChunkId(id, { node: this.address })
    await this.#call(Op.SYNC, undefined, packChunkIds(ids))
  }

  async ping(): Promise<void> {
    const [reply] = await this.#call(Op.PING)
    const nodeId = reply!.payload.toString('utf8')
    if (nodeId !== this.nodeId) throw otherNode(this.address, this.nodeId, nodeId)
  }

  /**
   * Take the NameNode epoch claim (datanode/claim.ts); with `check`, only ask whether it would be
   * taken. A taken claim is taken again by every later connection, first thing, so a reconnect
   * keeps the right to delete (and a refresh raises the seq watermark).
   */
  async claim(request: ClaimRequest): Promise<void> {
    if (!request.check) this.holdClaim(request)
    await this.#call(Op.CLAIM, undefined, encodeClaim(request))
  }

  /** Take the claim at the next connection, without trying now (a server found down a moment ago). */
  holdClaim(request: ClaimRequest): void {
    this.#claim = { ...request, check: undefined }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#conn?.close(this.#closedError())
    this.#conn = undefined
    await this.#connecting?.catch(() => {})
  }

  // --- internals ---------------------------------------------------------------------------------

  /** One request; resolves with its reply frames when the last says OK, else throws its error. */
  /** `flags`: the request's own (FLAG_FRESH), dropped for a server that did not say it takes them. */
  async #call(op: number, id?: ChunkId, payload?: Buffer | Buffer[], flags = 0): Promise<Frame[]> {
    const context = id === undefined ? { node: this.address } : { node: this.address, chunk: id }
    let frames: Frame[]
    try {
      const conn = await this.#connection()
      const taken = conn.identity.freshPuts ? flags : flags & ~FLAG_FRESH
      frames = await conn.request(op, id === undefined ? undefined : chunkIdBytes(id), payload, taken)
    } catch (err) {
      // Transport failures name the node only; say which chunk this call was about.
      if (isDfsError(err) && id !== undefined) throw dfsError(err.code, err.message, { ...err.context, ...context }, err)
      throw err
    }
    const last = frames[frames.length - 1]!
    if (last.status !== STATUS_OK) {
      const code = errorCodeOfStatus(last.status)
      const message = last.payload.toString('utf8') || code
      throw dfsError(code, `${this.address}: ${message}`, { ...context, remote: true })
    }
    return frames
  }

  /** The open connection, or a new one (shared by every call waiting for it). */
  #connection(): Promise<ClientConnection> {
    if (this.#closed) return Promise.reject(this.#closedError())
    if (this.#conn?.isOpen) return Promise.resolve(this.#conn)
    this.#connecting ??= (async () => {
      try {
        const conn = await ClientConnection.open(this.#target)
        if (conn.identity.nodeId !== this.nodeId || this.#closed) {
          const err = this.#closed ? this.#closedError() : otherNode(this.address, this.nodeId, conn.identity.nodeId)
          conn.close(err)
          throw err
        }
        if (this.#claim) await this.#reclaim(conn, this.#claim)
        this.#attach(conn)
        this.emit('connect')
        return conn
      } finally {
        this.#connecting = undefined
      }
    })()
    return this.#connecting
  }

  /** A refused claim leaves the connection usable (puts and reads need none); deletes will be refused. */
  async #reclaim(conn: ClientConnection, claim: ClaimRequest): Promise<void> {
    const [reply] = await conn.request(Op.CLAIM, undefined, encodeClaim(claim))
    if (reply!.status === STATUS_OK) return
    const code = errorCodeOfStatus(reply!.status)
    this.emit('fenced', dfsError(code, `${this.address}: ${reply!.payload.toString('utf8') || code}`, { node: this.address, remote: true }))
  }

  #attach(conn: ClientConnection): void {
    this.#conn = conn
    this.#clusterId = conn.identity.clusterId
    conn.onClose((err) => {
      if (this.#conn === conn) this.#conn = undefined
      if (!this.#closed) this.emit('disconnect', err)
    })
  }

  #closedError(): DfsError {
    return dfsError('NODE_UNAVAILABLE', `node ${this.address} is closed`, { node: this.address })
  }

  #malformed(op: string): DfsError {
    return dfsError('NODE_UNAVAILABLE', `DataNode ${this.address} sent a malformed ${op} reply`, { node: this.address })
  }
}

function targetOf(address: string, options: TcpDataNodeOptions): ClientConnectionOptions {
  const { host, port }: HostPort = parseTcpAddress(address)
  return {
    host,
    port,
    address,
    secret: secretBytes(options.secret),
    clusterId: options.clusterId ?? '',
    requestTimeoutMs: options.requestTimeoutMs ?? 3000,
    connectTimeoutMs: options.connectTimeoutMs ?? 3000,
  }
}

function encodeClaim(request: ClaimRequest): Buffer {
  return Buffer.from(JSON.stringify(request))
}

function otherNode(address: string, expected: string, found: string): DfsError {
  return dfsError('NODE_UNAVAILABLE', `DataNode ${address} now serves node ${found}, not ${expected} (its folder was wiped or replaced)`, {
    node: address,
    nodeId: expected,
    found,
  })
}

/**
 * A reply's payload is a view into a buffer that may hold other bytes (a whole socket read for a
 * small chunk): copy it out when that would pin much more memory than the chunk itself.
 */
function compact(payload: Buffer): Buffer {
  if (payload.buffer.byteLength <= payload.length + 4096) return payload
  return Buffer.from(payload)
}
