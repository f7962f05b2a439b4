// A DataNode server: one node folder (a LocalFolderNode) served over TCP to clients that hold the
// cluster secret. The protocol is in docs/protocol.md; one connection's life is in ServerConnection.
//
//   const server = await DataNodeServer.start({ dir: 'node_1', listen: '127.0.0.1:7001', secret })
//   server.nodeId, server.port ... await server.close()
//
// The folder carries the node's identity, as a local node folder does. Started with a cluster id,
// the server opens (or initialises) the folder for that cluster. Started without one, it serves an
// initialised folder as the node it is, and an empty folder as a new node that joins the first
// cluster an authenticated client names (the secret is what makes a client a member). Nothing is
// written to the folder before the listening address is bound, so a port in use changes nothing.

import { createServer, type Server, type Socket } from 'node:net'
import { resolve } from 'node:path'
import { DfsError, isDfsError } from '../../errors.js'
import { listenError } from '../../util/listenError.js'
import { checkNodeFolder, newNodeId, readIdentity } from '../identity.js'
import { LocalFolderNode } from '../LocalFolderNode.js'
import { lockNodeFolder } from '../nodeLock.js'
import type { FolderLock } from '../../util/folderLock.js'
import { type ConnectionHost, type ConnectionLimits, ServerConnection } from './ServerConnection.js'
import { type AuthReply, MAX_PAYLOAD, parseHostPort, STATUS_CODES, STATUS_OK, statusOf } from './protocol.js'
import { secretBytes } from './secret.js'
import { type Log, levelled } from '../../log/Log.js'

export interface DataNodeServerOptions {
  /** The node folder: an initialised one, or an empty one to become a new node. */
  dir: string
  /** host:port to listen on; port 0 picks a free one (see `port`). */
  listen: string
  /** The cluster secret clients must prove they hold. */
  secret: Buffer | string
  /** The cluster this node belongs to. Omitted: the folder's own, or (empty folder) the first client's. */
  clusterId?: string
  /** Close a connection that has not authenticated within this time. Default 5 s. */
  handshakeTimeoutMs?: number
  /** Close a connection whose half-received frame gets no byte for this long. Default 10 s. */
  frameIdleTimeoutMs?: number
  /** Requests served at once per connection before its socket is paused. Default 32. */
  maxInFlight?: number
  /** Reply bytes waiting to be sent before a connection's socket is paused. Default 8 MiB. */
  writeHighWater?: number
  /**
   * A connection holds the node's claim against a copy (EPOCH_HELD) while it is open and was heard
   * from within this time: a NameNode talks to its nodes every few seconds, and a half-open
   * connection of a host that died must not hold the node until TCP keepalive notices. Default 15 s.
   */
  claimHoldMs?: number
  /** Connections at once. Default 1024. */
  maxConnections?: number
  /** Where connection-level events go (refused clients, closed bad connections). Default: nowhere. */
  log?: (message: string) => void
}

export class DataNodeServer {
  /** The node folder as given. */
  readonly dir: string
  readonly host: string
  readonly port: number
  readonly #log: Log
  readonly #host: ConnectionHost
  readonly #server: Server
  readonly #limits: ConnectionLimits
  readonly #connections = new Set<ServerConnection>()
  readonly #sockets = new Set<Socket>()
  #node: LocalFolderNode | undefined
  /** The id the node has, or will have once it joins a cluster. */
  readonly #nodeId: string
  #joining: Promise<void> | undefined
  #joinError: string | undefined
  #closing: Promise<void> | undefined
  readonly #lock: FolderLock

  static async start(options: DataNodeServerOptions): Promise<DataNodeServer> {
    const { host, port } = parseHostPort(options.listen, '--listen')
    const secret = secretBytes(options.secret)

    // 1. Look at the folder, writing nothing.
    let clusterId = options.clusterId
    if (clusterId === undefined) {
      // The folder's own cluster, if it has one; checkNodeFolder below explains any other problem.
      const existing = await readIdentity(resolve(options.dir), options.dir).catch((err: unknown) => {
        if (err instanceof DfsError) throw err
        return undefined
      })
      clusterId = existing?.clusterId
    }
    const identity = await checkNodeFolder(options.dir, { clusterId })

    // 2. Hold the folder (a second server or a mount using it is refused at once), bind the address.
    const lock = await lockNodeFolder(options.dir)
    const server = createServer({ pauseOnConnect: false, noDelay: true })
    server.maxConnections = options.maxConnections ?? 1024
    try {
      await listen(server, host, port, options.listen)
    } catch (err) {
      await lock.release()
      throw err
    }
    const bound = server.address()
    const boundPort = typeof bound === 'object' && bound ? bound.port : port

    // 3. Open (or initialise) the folder for its cluster.
    let node: LocalFolderNode | undefined
    if (clusterId !== undefined) {
      try {
        node = await LocalFolderNode.open(options.dir, { clusterId, create: true })
      } catch (err) {
        await new Promise<void>((done) => server.close(() => done()))
        await lock.release()
        throw err
      }
    }
    const nodeId = identity?.nodeId ?? node?.nodeId ?? newNodeId()
    return new DataNodeServer(server, options, secret, host, boundPort, nodeId, node, lock)
  }

  private constructor(
    server: Server,
    options: DataNodeServerOptions,
    secret: Buffer,
    host: string,
    port: number,
    nodeId: string,
    node: LocalFolderNode | undefined,
    lock: FolderLock,
  ) {
    this.#lock = lock
    this.#server = server
    this.dir = options.dir
    this.host = host
    this.port = port
    this.#nodeId = nodeId
    this.#node = node
    this.#log = levelled(options.log)
    const self = this
    this.#host = {
      secret,
      get node() {
        return self.#node
      },
      admit: (clusterId) => this.#admit(clusterId),
      // A copy of a running NameNode's metadata folder has its claim: the live connection says who is in charge.
      heldBy: (conn, record) => [...this.#connections].find((c) =>
        c !== conn && c.claimToken === record.token && Date.now() - c.heardAt < (options.claimHoldMs ?? 15_000))?.peer,
      log: this.#log,
    }
    this.#limits = {
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      frameIdleTimeoutMs: options.frameIdleTimeoutMs ?? 10_000,
      maxInFlight: options.maxInFlight ?? 32,
      writeHighWater: options.writeHighWater ?? 8 * 1024 * 1024,
    }
    server.on('connection', (socket) => this.#accept(socket))
    server.on('error', (err) => this.#log.error(`server error: ${err.message}`))
  }

  get nodeId(): string {
    return this.#nodeId
  }

  /** The cluster the node belongs to; undefined while it waits for its first client. */
  get clusterId(): string | undefined {
    return this.#node?.clusterId
  }

  /** host:port as bound (with the real port when started on port 0). */
  get address(): string {
    return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`
  }

  /** Connections open now (authenticated or not). */
  get connectionCount(): number {
    return this.#sockets.size
  }

  async #admit(clusterId: string): Promise<{ status: number; reply: AuthReply }> {
    if (!this.#node && clusterId !== '' && !this.#closing) {
      this.#joining ??= this.#join(clusterId).finally(() => {
        this.#joining = undefined
      })
      await this.#joining
    }
    const mine = this.#node?.clusterId ?? ''
    const reply: AuthReply = { nodeId: this.#nodeId, clusterId: mine, maxPayload: MAX_PAYLOAD, freshPuts: true }
    if (clusterId !== '' && mine !== '' && mine !== clusterId) {
      reply.message = `DataNode ${this.address} (node ${this.#nodeId}) belongs to cluster ${mine}, not ${clusterId}`
      return { status: statusOf('META_FOREIGN'), reply }
    }
    if (clusterId !== '' && mine === '') {
      reply.message = `DataNode ${this.address} could not join cluster ${clusterId}: ${this.#joinError ?? 'the server is closing'}`
      return { status: STATUS_CODES.indexOf('NODE_UNAVAILABLE'), reply }
    }
    return { status: STATUS_OK, reply }
  }

  /** Initialise the empty folder as this node, in the cluster of the first client to name one. */
  async #join(clusterId: string): Promise<void> {
    try {
      this.#node = await LocalFolderNode.open(this.dir, { clusterId, create: true, nodeId: this.#nodeId })
      this.#joinError = undefined
      this.#log(`node ${this.#nodeId} joined cluster ${clusterId}`)
    } catch (err) {
      this.#joinError = isDfsError(err) ? err.message : String(err)
      this.#log.warn(`node ${this.#nodeId} could not join cluster ${clusterId}: ${this.#joinError}`)
    }
  }

  #accept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy()
      return
    }
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))
    try {
      // A closed connection stays listed until its requests are done, so close() waits for them too.
      const conn = new ServerConnection(socket, this.#host, this.#limits, (c) => {
        c.settled().then(() => this.#connections.delete(c))
      })
      this.#connections.add(conn)
    } catch (err) {
      this.#log.warn(`could not take a connection: ${String(err)}`)
      socket.destroy()
    }
  }

  /**
   * Stop listening, drop every connection (clients see the close at once and fail what they had in
   * flight), wait for requests already touching the folder to finish, and close the node.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((done) => this.#server.close(() => done()))
      const connections = [...this.#connections]
      for (const conn of connections) conn.destroy()
      for (const socket of this.#sockets) socket.destroy()
      await Promise.all(connections.map((conn) => conn.settled()))
      await this.#joining
      await this.#node?.close()
      await closed
      await this.#lock.release()
    })()
    return this.#closing
  }
}

function listen(server: Server, host: string, port: number, shown: string): Promise<void> {
  return new Promise((done, fail) => {
    const onError = (err: Error) => {
      server.off('listening', onListening)
      fail(listenError(err, host, port, shown))
    }
    const onListening = () => {
      server.off('error', onError)
      done()
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen({ host, port, exclusive: true })
  })
}

