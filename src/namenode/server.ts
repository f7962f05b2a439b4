// `dfs namenode`'s TCP side: clients (`dfs mount --namenode`, `dfs status --namenode`) connect,
// prove they hold the cluster secret, get a snapshot of the namespace and then every journal record
// as it is committed, and send their requests. One connection is one client session; a client that
// reconnects within the grace period (a network blip, its NameNode's restart is another story) keeps
// its session and its opens. The protocol is src/protocol/wire.ts, described in docs/protocol.md.

import { randomUUID } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { type DfsError, dfsError, isDfsError } from '../errors.js'
import { listenError } from '../util/listenError.js'
import { levelled, type Log } from '../log/Log.js'
import { parseHostPort } from '../datanode/tcp/protocol.js'
import { checkClientRecord } from '../protocol/checkRecord.js'
import { checkClientReport } from '../protocol/checkClientReport.js'
import { answerOfCommit } from '../protocol/commitAnswer.js'
import type { ChunkRef, NamespaceState } from '../meta/namespace/types.js'
import {
  HANDSHAKE_MAX_BYTES, MAX_MESSAGE_BYTES, MessageReader, NAMENODE_PROTOCOL_VERSION, type Message, type NodeInfo,
  type ReplyMessage, encodeMessage, newChallenge, proofMatches, send, sendSoon, serverProof, clientProof,
} from '../protocol/wire.js'
import { streamDump } from './dumpStream.js'
import type { Committed, Session } from './NameNode.js'
import type { NameNodeHost } from './openNameNode.js'
import { sendSnapshot } from './snapshot.js'
import { SoleLease } from './soleLease.js'
import { StandbyLink } from './standbyLink.js'
import type { ClusterStatus } from './status.js'

export interface NameNodeServerOptions {
  host: NameNodeHost
  /** host:port; port 0 picks a free one. */
  listen: string
  secret: Buffer
  log: (message: string) => void
  /** How long a disconnected client's session (its open files) is kept for it to come back (ms). */
  sessionGraceMs: number
  /** How long an fsync waits for the standby's ack before this NameNode drops it and carries on alone (ms, default 10 s). */
  standbyTimeoutMs?: number
  handshakeTimeoutMs?: number
  /** The sole writer's lease (ms; SOLE_LEASE_MS). */
  soleLeaseMs?: number
}

/** A client that reads nothing while this much waits for it is dropped (it resyncs when it comes back). */
const MAX_BACKLOG = 256 * 1024 * 1024
/** How often clients hear the node list even when nothing changed (usage moves placement weights). */
const NODES_EVERY_MS = 5_000
/**
 * The sole writer's lease (soleLease.ts): renewed by every answer while its holder works; another
 * client's commit waits for the holder's `revoked` (a round trip), at worst (the holder gone
 * silent) this long.
 */
const SOLE_LEASE_MS = 2_000

interface Client {
  id: string
  session: Session
  socket?: Socket
  endTimer?: NodeJS.Timeout
  /** It said `leave`: its session ends with its connection, without a grace period. */
  leaving?: boolean
  /** It takes the sole writer's lease (auth `leases`). */
  leases: boolean
  /** Its requests wait behind this (a commit waiting for another client's lease): they keep their order. */
  gate?: Promise<void>
}

/** A tool (`dfs status --namenode …`): it holds no session; it asks `control` questions and leaves. */
interface Tool {
  id: string
  tool: true
}

/** A standby (`dfs namenode --standby-of`): it follows the journal (standbyLink.ts) and only acks. */
interface StandbyPeer {
  id: string
  standby: true
}

export class NameNodeServer {
  readonly address: string
  private readonly log: Log
  private readonly clients = new Map<string, Client>()
  private readonly sockets = new Set<Socket>()
  private readonly instance = randomUUID()
  private readonly nodesTimer: NodeJS.Timeout
  private nodesQueued = false
  private readonly stopWatching: () => void
  private readonly standby: StandbyLink
  /** Set once a newer NameNode claimed the DataNodes: clients and standbys are sent on (NOT_PRIMARY). */
  private superseded: Error | undefined
  private readonly lease: SoleLease<Client>
  private readonly stopLocal: () => void

  private constructor(private readonly opts: NameNodeServerOptions, private readonly server: Server) {
    const bound = server.address() as { address: string; port: number }
    this.address = `${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}`
    this.log = levelled(opts.log)
    this.lease = new SoleLease<Client>(opts.soleLeaseMs ?? SOLE_LEASE_MS, holder => {
      if (holder.socket) sendSoon(holder.socket, { t: 'revoke' })
    })
    this.standby = new StandbyLink(opts.host.cluster.meta, opts.log, opts.standbyTimeoutMs ?? 10_000, opts.host.cluster.fence, (event) => opts.host.events.emit(event))
    const registry = opts.host.cluster.registry
    const queueNodes = () => this.queueNodes()
    registry.on('change', queueNodes)
    registry.on('full', queueNodes)
    registry.on('draining', queueNodes) // a node being drained must leave every client's write pool
    this.nodesTimer = setInterval(queueNodes, NODES_EVERY_MS).unref()
    const stopRecords = opts.host.cluster.meta.onCommitted(record => this.broadcast({ t: 'rec', r: record }))
    this.stopWatching = () => {
      registry.off('change', queueNodes)
      registry.off('full', queueNodes)
      registry.off('draining', queueNodes)
      stopRecords()
    }
    void opts.host.superseded.then(err => { this.superseded = err })
    // A NameNode before this one may have granted a lease to a client that has not noticed it gone.
    if (opts.host.startSeq > 0) this.lease.heldByPredecessor({ id: '(the NameNode before)', leases: false } as Client, performance.now())
    // An in-process session's commits take the lease away too (soleLease.ts): as any client's.
    const local = { id: '(in-process)', leases: false } as Client
    const beforeLocalCommit = () => this.lease.beforeCommit(local, performance.now())
    const beforeLocalRefresh = () => this.lease.beforeRefresh(local, performance.now())
    opts.host.nameNode.beforeLocalCommit = beforeLocalCommit
    opts.host.nameNode.beforeLocalRefresh = beforeLocalRefresh
    this.stopLocal = () => {
      if (opts.host.nameNode.beforeLocalCommit === beforeLocalCommit) opts.host.nameNode.beforeLocalCommit = undefined
      if (opts.host.nameNode.beforeLocalRefresh === beforeLocalRefresh) opts.host.nameNode.beforeLocalRefresh = undefined
    }
    server.on('connection', socket => this.accept(socket))
  }

  /**
   * Take the listening address before the cluster is opened, so an address in use or not this
   * host's fails before anything is written (a first start would otherwise create the cluster and
   * claim its DataNodes, then fail). Clients arriving before start() are closed; they retry.
   */
  static async bind(listen: string): Promise<Server> {
    const { host, port } = parseHostPort(listen, '--listen', '127.0.0.1:7000')
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', err => reject(listenError(err, host, port, `--listen ${listen}`)))
      server.listen(port, host, () => resolve())
    })
    server.on('connection', socket => socket.destroy())
    return server
  }

  /** Serve `opts.host` on `bound` (from bind()), or on a new listener at `opts.listen`. */
  static async start(opts: NameNodeServerOptions, bound?: Server): Promise<NameNodeServer> {
    const server = bound ?? await NameNodeServer.bind(opts.listen)
    server.removeAllListeners('connection')
    return new NameNodeServer(opts, server)
  }

  get port(): number {
    return (this.server.address() as { port: number }).port
  }

  /** Where the dashboard is served (dfs namenode --http), for `dfs status`. */
  dashboardUrl: string | undefined

  /** What `dfs status --namenode` shows and the dashboard serves. */
  status(): ClusterStatus {
    const status = { ...this.opts.host.status(`tcp://${this.address}`), standby: this.standby.status() }
    return this.dashboardUrl ? { ...status, dashboard: this.dashboardUrl } : status
  }

  /** The standby's state, as `dfs status` shows it. */
  standbyStatus() {
    return this.standby.status()
  }

  /**
   * Stop serving. `why` (a NameNode superseded by a newer one) is said to every client before its
   * connection closes: one that knows no other NameNode address can then say so, not only that it
   * lost this one.
   */
  async close(why?: DfsError): Promise<void> {
    this.stopWatching()
    this.stopLocal()
    clearInterval(this.nodesTimer)
    const closed = new Promise<void>(resolve => this.server.close(() => resolve()))
    for (const socket of this.sockets) {
      if (this.standby.owns(socket)) continue
      if (why && !socket.destroyed) {
        send(socket, { t: 'error', code: why.code, message: why.message })
        socket.end()
        setTimeout(() => socket.destroy(), 1000).unref()
      } else socket.destroy()
    }
    for (const client of this.clients.values()) {
      clearTimeout(client.endTimer)
      this.opts.host.nameNode.endSession(client.session)
      this.opts.host.clients.leave(client.id)
    }
    this.clients.clear()
    // A clean stop hands the standby every record first (ending sessions may have committed some),
    // so a planned failover promotes it with nothing lost and nothing to accept.
    await this.opts.host.cluster.meta.sync().catch(() => {})
    this.standby.close()
    await closed
  }

  // ---- one connection ----------------------------------------------------------------------------

  private accept(socket: Socket): void {
    this.sockets.add(socket)
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 5_000)
    const peer = `${socket.remoteAddress}:${socket.remotePort}`
    let client: Client | Tool | StandbyPeer | undefined
    const challenge = newChallenge()
    const reader = new MessageReader(() => (client ? MAX_MESSAGE_BYTES : HANDSHAKE_MAX_BYTES))
    const handshake = setTimeout(() => {
      this.log.info(`client ${peer} did not authenticate in time; closed`)
      socket.destroy()
    }, this.opts.handshakeTimeoutMs ?? 5_000)
    send(socket, { t: 'hello', version: NAMENODE_PROTOCOL_VERSION, challenge })

    socket.on('data', data => {
      let messages: Message[]
      try {
        messages = reader.push(data)
      } catch (err) {
        this.refuse(socket, 'PROTOCOL_ERROR', `client ${peer}: ${(err as Error).message}`)
        return
      }
      for (const message of messages) {
        if (socket.destroyed) return
        if (!client) {
          clearTimeout(handshake)
          client = this.authenticate(socket, peer, challenge, message)
          if (!client) return
        } else if ('standby' in client) {
          if (message.t !== 'ack') {
            this.refuse(socket, 'PROTOCOL_ERROR', `standby ${peer} sent a "${message.t}" message; a standby only acks`)
            return
          }
          const wrong = this.standby.acked(socket, message.seq)
          if (wrong !== undefined) {
            this.refuse(socket, 'PROTOCOL_ERROR', `standby ${peer} dropped: ${wrong}`)
            return
          }
        } else if (message.t === 'req') {
          this.serve(client, socket, message.id, message.m, message.a ?? {}, message.n === true)
        } else {
          this.refuse(socket, 'PROTOCOL_ERROR', `client ${peer} sent a "${message.t}" message after the handshake`)
          return
        }
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(handshake)
      this.sockets.delete(socket)
      if (client && 'standby' in client) this.standby.closed(socket)
      if (client && 'session' in client && client.socket === socket) this.disconnected(client)
    })
  }

  private refuse(socket: Socket, code: string, message: string): void {
    this.log.warn(message)
    send(socket, { t: 'error', code, message })
    socket.end()
    setTimeout(() => socket.destroy(), 1000).unref()
  }

  private authenticate(socket: Socket, peer: string, challenge: string, message: Message): Client | Tool | StandbyPeer | undefined {
    if (message.t !== 'auth' || typeof message.nonce !== 'string' || typeof message.client !== 'string' || message.client.length > 100) {
      this.refuse(socket, 'PROTOCOL_ERROR', `client ${peer} did not start with a valid auth message`)
      return undefined
    }
    if (!proofMatches(message.proof, clientProof(this.opts.secret, challenge, message.nonce))) {
      this.refuse(socket, 'NAMENODE_UNAVAILABLE', `client ${peer} does not hold the cluster secret; refused (check its --secret-file)`)
      return undefined
    }
    if (message.version !== NAMENODE_PROTOCOL_VERSION) {
      this.refuse(socket, 'PROTOCOL_ERROR', `client ${peer} speaks NameNode protocol ${message.version}, this NameNode ${NAMENODE_PROTOCOL_VERSION}; use one dfs version`)
      return undefined
    }
    const { nameNode } = this.opts.host
    if (this.superseded && message.tool !== true) {
      // On its way out: a client (or standby) must find the NameNode that took over, not a copy of the past.
      this.refuse(socket, 'NOT_PRIMARY', `this NameNode is not the primary any more: ${this.superseded.message}`)
      return undefined
    }
    if (message.standby !== undefined) return this.authenticateStandby(socket, peer, challenge, message)
    if (message.tool === true) {
      this.welcome(socket, challenge, message.nonce)
      this.log.debug(`tool ${message.client} connected from ${peer}`)
      return { id: message.client, tool: true }
    }
    let client = this.clients.get(message.client)
    if (client) {
      // Back within the grace period: the same session. Its opens are replaced by the client's
      // `reopen`, its first request.
      clearTimeout(client.endTimer)
      client.socket?.destroy()
      // A client connects again only after it dropped its lease (it lost the connection): a
      // commit waiting for it goes ahead now, not when the lease runs out (its revoke went to the
      // old connection, or to none).
      this.lease.revoked(client)
      this.opts.host.clients.reconnected(client.id)
    } else {
      client = { id: message.client, session: nameNode.openSession(true), leases: false }
      this.clients.set(client.id, client)
    }
    client.leases = message.leases === true
    client.socket = socket
    this.welcome(socket, challenge, message.nonce)
    // The node list first (the client's first writes need it), then the snapshot. The snapshot and
    // the subscription to records happen in one turn: no record falls between them.
    send(socket, { t: 'nodes', nodes: this.nodes() })
    sendSnapshot(socket, this.opts.host.cluster.meta)
    this.log.info(`client ${client.id} connected from ${peer}`)
    return client
  }

  private authenticateStandby(socket: Socket, peer: string, challenge: string, message: Message & { t: 'auth' }): StandbyPeer | undefined {
    const { lastSeq, clusterId } = message.standby ?? {}
    if (!Number.isSafeInteger(lastSeq) || (lastSeq as number) < 0 || (clusterId !== undefined && typeof clusterId !== 'string')) {
      this.refuse(socket, 'PROTOCOL_ERROR', `standby ${peer} did not say where its journal ends`)
      return undefined
    }
    const ours = this.opts.host.settings.clusterId
    if (clusterId !== undefined && clusterId !== ours) {
      this.refuse(socket, 'META_FOREIGN', `standby ${peer}: its metadata folder follows cluster ${clusterId}, this NameNode serves cluster ${ours}; give the standby an empty --meta folder`)
      return undefined
    }
    this.welcome(socket, challenge, message.nonce)
    this.standby.attach(socket, peer, message.client, lastSeq as number).then(attached => {
      if (attached) return
      const taken = dfsError('STANDBY_TAKEN', `standby ${peer} refused: another standby follows this NameNode (${this.standby.status().peer}); stop that one first`, { peer })
      this.refuse(socket, taken.code, taken.message)
    }, err => this.refuse(socket, 'EIO', `standby ${peer}: ${(err as Error).message}`))
    return { id: message.client, standby: true }
  }

  private welcome(socket: Socket, challenge: string, nonce: string): void {
    const { settings } = this.opts.host
    send(socket, {
      t: 'welcome', proof: serverProof(this.opts.secret, challenge, nonce), clusterId: settings.clusterId,
      chunkSize: settings.chunkSize, replicas: settings.replicas, instance: this.instance, startSeq: this.opts.host.startSeq,
      history: this.opts.host.history, createsAhead: true,
    })
  }

  private disconnected(client: Client): void {
    // Its session ended already (the server closed, or it was taken over): no grace period to keep.
    if (this.clients.get(client.id) !== client) return
    client.socket = undefined
    if (client.leaving) {
      // Said `leave` (a clean unmount) and closed: nothing to come back for. A commit still held
      // behind another client's lease is dropped with the connection (its client, closing, failed
      // it and will not send it again): what it stored was never recorded, so that is no clean leave.
      this.log.info(`client ${client.id} left`)
      this.endClient(client, { left: client.gate === undefined })
      return
    }
    this.opts.host.clients.disconnected(client.id)
    this.log.info(`client ${client.id} disconnected; its session is kept ${this.opts.sessionGraceMs} ms for it to come back`)
    client.endTimer = setTimeout(() => this.endClient(client, { left: false }), this.opts.sessionGraceMs).unref()
  }

  private endClient(client: Client, how: { left: boolean }): void {
    this.clients.delete(client.id)
    this.lease.forget(client)
    this.opts.host.nameNode.endSession(client.session)
    this.opts.host.clients.leave(client.id)
    // A client that never came back (killed, its host gone) may have stored chunks it never
    // committed: look for orphans now, not at the next periodic sweep minutes away. Not for one that
    // said `leave`: its commits and `abandon`s were on the connection before it (the mount stores
    // what it buffered first), so a sweep would find nothing, and a sweep lists every chunk on every
    // node: a pass per unmount (the bench saw it busy the NameNode while the next client read). What
    // a clean leaver may still strand (a chunk whose commit was refused) waits for the periodic
    // sweep: unreferenced bytes, which no one reads.
    if (!how.left) this.opts.host.services.healer.orphans.requestSweep()
  }

  /** Records and node lists go to every client: encoded once, and batched with the turn's answers (sendSoon). */
  private broadcast(message: Message): void {
    let encoded: Buffer | undefined
    for (const client of this.clients.values()) {
      const socket = client.socket
      if (!socket) continue
      if (socket.writableLength > MAX_BACKLOG) {
        this.log.warn(`client ${client.id} is not reading; dropped (it catches up when it reconnects)`)
        socket.destroy()
        continue
      }
      sendSoon(socket, encoded ??= encodeMessage(message))
    }
  }

  private queueNodes(): void {
    if (this.nodesQueued) return
    this.nodesQueued = true
    setTimeout(() => {
      this.nodesQueued = false
      this.broadcast({ t: 'nodes', nodes: this.nodes() })
    }, 50).unref()
  }

  private nodes(): NodeInfo[] {
    return this.opts.host.cluster.registry.statuses().map(s => ({
      nodeId: s.nodeId, address: s.address, health: s.health, full: s.full, draining: s.draining === true,
      ...(s.usage ? { available: s.usage.available } : {}),
    }))
  }

  // ---- requests ----------------------------------------------------------------------------------

  /** `oneWay`: the client wants no reply (wire.ts RequestMessage `n`); a failure is only logged. */
  private serve(client: Client | Tool, socket: Socket, id: unknown, method: unknown, args: Record<string, unknown>, oneWay = false): void {
    if (!Number.isSafeInteger(id)) {
      this.refuse(socket, 'PROTOCOL_ERROR', `client ${client.id} sent a request without an id`)
      return
    }
    if ('tool' in client && method === 'dump') {
      // Answered in snap messages after its header (dumpStream.ts), not in one reply.
      void streamDump(socket, id as number, this.opts.host.cluster.meta)
      return
    }
    const receivedAt = performance.now()
    const handle = () => this.handle(client, socket, id as number, String(method), args, oneWay, receivedAt)
    if ('tool' in client) return handle()
    // Neither waits behind a held commit: `leave` only marks the session to end with its connection
    // (held, it was dropped with that commit once the connection closed, and the session stayed for
    // the grace period), and `revoked` only gives a lease up (the sooner the better).
    if (method === 'leave' || method === 'revoked') return handle()
    // A commit or a refresh (not a ping: it only asks whether the NameNode is there) while another
    // client holds the sole writer's lease waits until it gave it up; the client's later requests
    // wait behind it, in order.
    const held = method === 'commit' ? (now: number) => this.lease.beforeCommit(client, now)
      : method === 'refresh' && args.ping !== true ? (now: number) => this.lease.beforeRefresh(client, now)
        : undefined
    if (client.gate || held?.(receivedAt)) {
      const gate = (client.gate ?? Promise.resolve()).then(async () => {
        if (held) for (let wait; (wait = held(performance.now()));) await wait
        // A connection that closed meanwhile: its client sends the request again on the next one.
        if (!socket.destroyed) handle()
      })
      client.gate = gate
      void gate.finally(() => {
        if (client.gate === gate) client.gate = undefined
      })
      return
    }
    handle()
  }

  private handle(client: Client | Tool, socket: Socket, id: number, method: string, args: Record<string, unknown>, oneWay: boolean, receivedAt: number): void {
    const reply = (r: unknown) => {
      if (oneWay) return
      const message = withSeq(method, id, r, this.opts.host.cluster.meta.state)
      if ('session' in client && client.leases && !client.leaving && !this.superseded && this.opts.host.nameNode.localSessions === 0) {
        const ms = this.lease.grant(client, receivedAt, performance.now())
        if (ms > 0) message.l = ms
      }
      sendSoon(socket, message)
    }
    const fail = (err: unknown) => {
      const code = isDfsError(err) ? err.code : 'EIO'
      if (!isDfsError(err)) this.log.warn(`request ${method} from client ${client.id} failed: ${(err as Error)?.stack ?? err}`)
      else if (oneWay) this.log.debug(`one-way request ${method} from client ${client.id} failed: ${err.message}`)
      if (!oneWay) sendSoon(socket, { t: 'res', id, ok: false, e: { code, message: (err as Error)?.message ?? String(err) } })
    }
    let result: unknown
    try {
      result = 'tool' in client ? this.callFromTool(method, args) : this.call(client, method, args)
    } catch (err) {
      fail(err)
      return
    }
    // A synchronous answer goes out with the records the request caused, in one write (sendSoon).
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') Promise.resolve(result).then(reply, fail)
    else reply(result)
  }

  /** One request. Synchronous where it can be: records it commits go out before its answer. */
  private call(client: Client, method: string, a: Record<string, unknown>): unknown {
    const { nameNode, cluster } = this.opts.host
    const { session } = client
    switch (method) {
      case 'commit': {
        const record = checkClientRecord(a.record)
        if (a.ino !== undefined && record.op !== 'mknod') throw dfsError('PROTOCOL_ERROR', `only a mknod may carry the inode number it expects, not a ${record.op}`, {})
        // Answered ahead under the lease: the client applied it to its copy before this, so no other
        // client's record may have come between its copy and ours (a lease that changed hands).
        const ino = a.ino === undefined ? undefined : int(a.ino, 'ino')
        if (a.ahead === true && this.lease.holding !== client) {
          throw nameNode.refuseAhead(session, ino, 'the client does not hold the sole writer\'s lease here (it ran out, or another client took it)')
        }
        return nameNode.commit(session, record, { open: a.open === true, ...(ino === undefined ? {} : { ino }) })
      }
      case 'sync':
        return nameNode.sync()
      case 'refresh':
        return null
      case 'opened':
        return nameNode.opened(session, int(a.ino, 'ino'))
      case 'reopen':
        if (!Array.isArray(a.inos) || !a.inos.every(ino => Number.isSafeInteger(ino))) throw dfsError('PROTOCOL_ERROR', 'inos must be a list of inode numbers', {})
        return nameNode.reopen(session, a.inos as number[])
      case 'closed':
        return nameNode.closed(session, int(a.ino, 'ino'))
      case 'aheadLost':
        return nameNode.aheadLost(session, int(a.ino, 'ino'))
      case 'abandon':
        return nameNode.abandon(refs(a.refs))
      case 'badCopy': {
        const [ref] = refs([a.ref])
        const reason = a.reason as { code?: unknown; message?: unknown } | undefined
        return nameNode.reportBadCopy(ref, String(a.nodeId), { code: String(reason?.code ?? 'EIO'), message: String(reason?.message ?? '') })
      }
      case 'capacity':
        return cluster.capacity()
      case 'placement':
        return placementRequest(this.opts.host, a)
      case 'clientReport':
        return this.opts.host.clients.report(client.id, checkClientReport(a))
      case 'leave':
        // A client leaves once it answers nothing more (it stopped trusting its lease first): a
        // lease it holds is given up with it, or the next client's first commit would wait it out.
        client.leaving = true
        this.lease.revoked(client)
        return null
      case 'revoked':
        this.lease.revoked(client)
        return null
      case 'control':
        return this.control(String(a.cmd), (a.args ?? {}) as Record<string, unknown>)
      default:
        throw dfsError('PROTOCOL_ERROR', `no request "${method}" in NameNode protocol ${NAMENODE_PROTOCOL_VERSION}`, { method })
    }
  }

  /** A tool has no session: it may only ask `control` questions. */
  private callFromTool(method: string, a: Record<string, unknown>): unknown {
    if (method !== 'control') throw dfsError('PROTOCOL_ERROR', `a tool connection may send only "control" requests, not "${method}"`, { method })
    return this.control(String(a.cmd), (a.args ?? {}) as Record<string, unknown>)
  }

  /**
   * `dfs status | balance | drain | fsck --namenode tcp://…`: the same handlers a mount's control
   * socket has (openNameNode.ts), and `status` with where this NameNode is reached.
   */
  private control(cmd: string, args: Record<string, unknown>): unknown {
    const host = this.opts.host
    if (cmd === 'status') return this.status()
    const handlers = host.clusterHandlers()
    const handler = Object.hasOwn(handlers, cmd) ? handlers[cmd] : undefined
    if (!handler) throw dfsError('BAD_ARGUMENT', `the NameNode has no command "${cmd}"`, { cmd })
    return handler(args)
  }
}

/** An answer; a commit's and a sync's carry the journal seq of their record, of what they made durable. */
function withSeq(method: string, id: number, r: unknown, state: NamespaceState): ReplyMessage {
  if (method === 'commit') return { t: 'res', id, ok: true, r: answerOfCommit((r as Committed).result, state) ?? null, seq: (r as Committed).seq }
  if (method === 'sync') return { t: 'res', id, ok: true, r: null, seq: r as number }
  return { t: 'res', id, ok: true, r: r ?? null }
}

/** `placement`: where an inode's chunks are (`dfs info` in a client's mount, user.dfs.placement). */
function placementRequest(host: NameNodeHost, a: Record<string, unknown>): unknown {
  if (a.path !== undefined && (typeof a.path !== 'string' || a.path.length > 64 * 1024)) throw dfsError('PROTOCOL_ERROR', 'path must be a string', {})
  return host.placement(int(a.ino, 'ino'), a.path as string | undefined)
}

function int(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v)) throw dfsError('PROTOCOL_ERROR', `${what} must be an integer`, {})
  return v as number
}

function refs(v: unknown): ChunkRef[] {
  if (!Array.isArray(v) || v.length > 100_000) throw dfsError('PROTOCOL_ERROR', 'refs must be a list of chunk refs', {})
  return v.map(ref => {
    const r = ref as { id?: unknown }
    if (typeof r?.id !== 'string' || !/^[0-9a-f]{32}$/.test(r.id)) throw dfsError('PROTOCOL_ERROR', 'a chunk ref without a valid id', {})
    return ref as ChunkRef
  })
}
