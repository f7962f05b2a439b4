// The client end of the NameNode protocol (`dfs mount --namenode tcp://…`): a NameNodeSession over
// TCP. It keeps a copy of the namespace, built from the snapshot the NameNode sends on connect and
// kept current by the records it pushes; it sends requests in the order they are made and the
// NameNode answers each after the records it caused (answers to fsync come once durable, so not
// necessarily in request order). When the connection drops it
// reconnects by itself (trying each address given, so a standby can take over), takes a fresh
// snapshot, says again which inodes it has open, and sends again what was not answered. Requests
// made meanwhile wait, up to `timeoutMs`, then fail with NAMENODE_UNAVAILABLE (EIO).
//
// Three things keep a stream of small operations cheap (docs/protocol.md): one-way messages (closed,
// abandon, badCopy, clientReport) want no answer and ride with the next request; and while this
// client holds the sole writer's lease (no other client commits), `refresh` needs no round trip, and
// a create is answered from this client's copy before the NameNode answers it (createAhead).
//
// A NameNode that is not (or no longer) the primary, one that cannot be reached, one that says
// nothing, and one that closes the connection are all the same to the client: it tries the next
// address. Only a refusal that trying again cannot change (the secret, the protocol, another
// cluster) ends a mount's first connect; later, nothing ends the search but close().
//
// After the NameNode changed (a restart, a promotion: the welcome's `instance` differs) the client
// asks whether the new one's history holds what this client committed at the old one: see
// CommitLedger. Commits it lost make the next sync fail with EIO, once.

import { randomUUID } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { type DfsError, dfsError, type ErrorCode, isDfsError } from '../errors.js'
import { CommitLedger } from './commitLedger.js'
import { levelled, type Log } from '../log/Log.js'
import type { ApplyResult } from '../meta/namespace/apply.js'
import { namespaceMachine } from '../meta/namespace/machine.js'
import { type NamespaceRecord, namedInodes } from '../meta/namespace/records.js'
import type { ChunkRef, Inode, NamespaceState } from '../meta/namespace/types.js'
import type { FilePlacement } from '../protocol/placement.js'
import { resultOfCommit } from '../protocol/commitAnswer.js'
import { parseTcpAddress } from '../datanode/tcp/protocol.js'
import type { ClientRecord, ClientReport, CommitOptions, NameNodeSession, SessionSettings } from '../protocol/api.js'
import {
  MAX_PUSH_BYTES, MessageReader, NAMENODE_PROTOCOL_VERSION, type Message, type NodeInfo, type RequestMessage, type WelcomeMessage,
  clientProof, newNonce, notANameNode, proofMatches, send, serverProof,
} from '../protocol/wire.js'

export interface RemoteNameNodeOptions {
  /** tcp://host:port of the NameNode, then of standbys, tried in turn. */
  addresses: string[]
  secret: Buffer
  log: (message: string) => void
  /** How long a request waits for a NameNode that cannot be reached before it fails (ms). */
  timeoutMs: number
  /** The NameNode's node list, on connect and whenever it changes. */
  onNodes?: (nodes: NodeInfo[]) => void
  /** How long a connection may stay silent before its snapshot is in (ms; HANDSHAKE_SILENCE_MS). */
  handshakeSilenceMs?: number
  /** How long a one-way message waits for a request to go out with (ms; ONE_WAY_HOLD_MS). */
  oneWayHoldMs?: number
}

interface Pending {
  method: string
  args: Record<string, unknown>
  resolve(value: unknown): void
  reject(err: DfsError): void
  timer: NodeJS.Timeout
  /** When it was (last) written (performance.now() ms): a lease its answer grants counts from here. */
  sentAt: number
  /** The same by the wall clock (Date.now()), which counts a suspend that performance.now() does not. */
  sentWall: number
  /** leaseEpoch when it was (last) written: a lease its answer grants is trusted only if no `revoked` went out since. */
  epoch: number
  /** A create answered ahead (createAhead): the inode number this client gave it. */
  ahead?: number
}

type MknodRecord = Extract<ClientRecord, { op: 'mknod' }>

/** A connection whose NameNode says nothing (not even to a ping) for this long is dropped. */
const SILENCE_MS = 30_000
const PING_EVERY_MS = 3_000
const RETRY_MS = [100, 250, 500, 1000, 2000]
/**
 * A connection that sends nothing for this long before its snapshot is complete is given up for the
 * next address (an address that drops packets, a NameNode that hangs). Each snapshot message resets
 * it, so a big namespace may take as long as it needs.
 */
const HANDSHAKE_SILENCE_MS = 10_000
/**
 * One-way messages (closed, abandon, badCopy, clientReport) wait this long for a request to go out
 * with: in a stream of operations each `closed` rides with the next operation's first request
 * instead of waking the NameNode by itself. Nothing waits on them (a file is released at the
 * NameNode a few ms later at most), and they keep their place before any later request.
 */
const ONE_WAY_HOLD_MS = 10
/** One-way messages kept while the NameNode cannot be reached; the oldest go first beyond it (all best effort). */
const HELD_MAX = 10_000

export class RemoteNameNode implements NameNodeSession {
  readonly clientId = randomUUID()
  private readonly log: Log
  private current!: NamespaceState
  private _settings!: SessionSettings
  private socket: Socket | undefined
  private connected = false
  private closing = false
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  /**
   * Until when (performance.now() ms) this client holds the sole writer's lease: no other client
   * can commit before then, so a refresh has nothing to wait for (docs/protocol.md).
   */
  private soleUntil = 0
  /** The same end by the wall clock: a host's suspend stops performance.now() (CLOCK_MONOTONIC), not the NameNode's clock. */
  private soleUntilWall = 0
  /**
   * Counts the `revoked` this client sent (and lost connections). An answer to a request written
   * before the latest may carry a lease the NameNode granted before it read that `revoked`, which
   * then ended it there: such a lease is not trusted.
   */
  private leaseEpoch = 0
  /** The length of the last lease granted (ms). */
  private leaseMs = 0
  /** The NameNode takes creates answered ahead (its welcome's `createsAhead`). */
  private createsAhead = false
  /**
   * Creates answered ahead and applied to this copy whose records the NameNode has not sent back yet,
   * in the order sent: each comes back in that order and is not applied again.
   */
  private ahead: Array<{ record: MknodRecord; ino: number }> = []
  /**
   * Inodes of creates answered ahead that the NameNode did not take and this copy holds, until a
   * fresh snapshot replaces it: nothing that names one is committed (the NameNode may give the
   * number to another file). The file system fails its open files of them (onInodeLost).
   */
  private readonly phantoms = new Set<number>()
  private readonly lostListeners = new Set<(ino: number, err: DfsError) => void>()
  /** One-way messages not written yet, in order (ONE_WAY_HOLD_MS). */
  private held: RequestMessage[] = []
  private holdTimer: NodeJS.Timeout | undefined
  private readonly opens = new Map<number, number>()
  private readonly machine = namespaceMachine({ uid: 0, gid: 0, createdAt: 0 })
  private pingTimer: NodeJS.Timeout | undefined
  private pinging = false
  private lastHeard = 0
  private attempt = 0
  /** Index into addresses of the one to try next: the one that served last, after a loss. */
  private cursor = 0
  private readonly ledger = new CommitLedger()
  /** The latest report (who this client is, its counters): sent again first thing on every connection. */
  private lastReport: ClientReport | undefined
  /** The mount is stopping (stopping()): an outage of the NameNode is waited for once, then not at all. */
  private isStopping = false
  /** The stopping mount's wait for the NameNode it lost: not begun, under way, or over (it still cannot reach it). */
  private lastWait: 'none' | 'waiting' | 'over' = 'none'
  private lastWaitTimer: NodeJS.Timeout | undefined
  /** Told whenever `state` changes (a record applied; none: a snapshot taken): the mount's binding forgets what it remembered. */
  private readonly changeListeners = new Set<(record?: NamespaceRecord) => void>()

  private constructor(private readonly opts: RemoteNameNodeOptions) {
    this.log = levelled(opts.log)
  }

  /**
   * Connect and take the first snapshot. A NameNode that cannot be reached or refuses us within
   * `firstTimeoutMs` is an error (the mount does not start); later outages are waited out.
   */
  static async connect(opts: RemoteNameNodeOptions, firstTimeoutMs = 10_000): Promise<RemoteNameNode> {
    const remote = new RemoteNameNode(opts)
    const n = opts.addresses.length
    const deadline = Date.now() + firstTimeoutMs
    // Per address, why it failed last; a refusal is final for that address (retrying cannot change
    // it), and once every address refused there is nothing left to wait for.
    const failures = new Map<string, DfsError>()
    let lastError: DfsError | undefined
    for (let i = 0; ; i++) {
      const address = opts.addresses[i % n]
      if (isFinalRefusal(failures.get(address))) continue
      try {
        await remote.open(address)
        remote.cursor = i % n
        remote.startPinging()
        return remote
      } catch (err) {
        lastError = err as DfsError
        failures.set(address, lastError)
        if (opts.addresses.every(a => isFinalRefusal(failures.get(a)))) break
        // Every address gets its first try, however slow the ones before it were to fail.
        if (Date.now() > deadline && i >= n - 1) break
        await sleep(RETRY_MS[Math.min(Math.floor(i / n), RETRY_MS.length - 1)])
      }
    }
    // The most telling reason: a refusal over "nothing answered".
    lastError = [...failures.values()].find(isFinalRefusal) ?? lastError
    throw dfsError('NAMENODE_UNAVAILABLE', `cannot use the NameNode at ${opts.addresses.join(', ')} (${lastError?.message}); start it there (dfs namenode --listen …) or fix --namenode, and use the cluster's --secret-file`, {
      addresses: opts.addresses,
    }, lastError)
  }

  get settings(): SessionSettings {
    return this._settings
  }

  get state(): NamespaceState {
    return this.current
  }

  stopping(): void {
    if (this.isStopping) return
    this.isStopping = true
    if (!this.connected) this.startLastWait()
  }

  /** Hear every change of `state`, right after it happens (the record; none: a new snapshot); returns the way to stop listening. */
  onChange(listener: (record?: NamespaceRecord) => void): () => void {
    this.changeListeners.add(listener)
    return () => this.changeListeners.delete(listener)
  }

  onInodeLost(listener: (ino: number, err: DfsError) => void): void {
    this.lostListeners.add(listener)
  }

  private changed(record?: NamespaceRecord): void {
    for (const listener of this.changeListeners) listener(record)
  }

  // ---- the session -------------------------------------------------------------------------------

  async commit(record: ClientRecord, options: CommitOptions = {}): Promise<ApplyResult> {
    const phantom = this.phantomIn(record)
    if (phantom !== undefined) {
      throw lostCreate(phantom)
    }
    if (record.op === 'mknod' && this.mayCreateAhead()) return this.createAhead(record, options)
    const result = await this.request('commit', { record, ...(options.open ? { open: true } : {}) }) as ApplyResult
    if (options.open && result && typeof result === 'object' && 'ino' in result) this.countOpen((result as { ino: number }).ino, 1)
    return result
  }

  /**
   * While this client holds the sole writer's lease, no other client's record can come between its
   * copy and the NameNode's, so a create applied here gets the inode number the NameNode will give
   * it, and fails here exactly when it would fail there: it is answered now, and its commit goes out
   * without anyone waiting for it (docs/protocol.md, "Creates answered ahead"). Only with half the
   * lease left (a commit delayed that long finds it gone) and with no other commit of this client
   * unanswered (its record, not yet in this copy, goes first at the NameNode).
   */
  private mayCreateAhead(): boolean {
    if (!this.createsAhead || !this.connected) return false
    const margin = this.leaseMs / 2
    if (performance.now() + margin >= this.soleUntil || Date.now() + margin >= this.soleUntilWall) return false
    for (const p of this.pending.values()) if (p.method === 'commit' && p.ahead === undefined) return false
    return true
  }

  private createAhead(record: MknodRecord, options: CommitOptions): Inode {
    const ino = this.current.nextIno
    // A create that fails here (EEXIST, ENOENT…) would fail at the NameNode too: nothing is sent.
    const inode = this.machine.apply(this.current, record) as Inode
    this.changed(record)
    this.ahead.push({ record, ino })
    if (options.open) this.countOpen(ino, 1)
    const args = { record, ...(options.open ? { open: true } : {}), ino, ahead: true }
    // Nobody waits for it: its answer is judged where it arrives (receive), and a failure there (or
    // no answer in time) is aheadFailed, before anything after it on the connection is read.
    this.request('commit', args, ino).catch(() => {})
    return inode
  }

  /**
   * A create answered ahead that the NameNode did not take (or that never reached it): the file is
   * gone, whatever the kernel was told. The file system fails its open files (the NameNode may give
   * that number to another file), the next sync fails, and a copy that holds it is taken afresh;
   * until then nothing that names it is committed. (Called once per create: its request is settled.)
   */
  private aheadFailed(ino: number, err: DfsError): void {
    const inCopy = this.ahead.some(a => a.ino === ino)
    if (inCopy) this.phantoms.add(ino)
    this.opens.delete(ino)
    const lost = `the NameNode did not take a create this client had answered ahead (inode ${ino}: ${err.message})`
    // A NameNode that did not answer in time may hold it yet, as any commit it did not answer: its
    // file's bytes are what is lost (the flush says so). A refusal is a loss the next sync reports.
    if (!isDfsError(err, 'NAMENODE_UNAVAILABLE')) this.ledger.lose(lost)
    const fault = dfsError('CREATE_AHEAD_REFUSED', `${lost}; the file is lost`, { ino }, err)
    for (const listener of this.lostListeners) listener(ino, fault)
    // From here on nothing of this client names the lost file: the NameNode may stop refusing
    // what names the number (another inode's, perhaps, that this client may use).
    this.oneWay('aheadLost', { ino })
    if (inCopy) {
      this.log.error(`${lost}; the file is lost; resynchronising`)
      if (this.socket) this.resync(this.socket)
    } else this.log.error(`${lost}; the file is lost`)
  }

  /**
   * A create answered ahead whose request has failed (refused, unanswered, or doomed): the file is
   * lost (aheadFailed), once; its request may still be settled later.
   */
  private failAhead(p: Pending, err: DfsError): void {
    const ino = p.ahead
    if (ino === undefined) return
    p.ahead = undefined
    this.aheadFailed(ino, err)
  }

  /**
   * A create record about to be applied takes the next inode number. A create of ours sent again
   * after a reconnect with that number, and not this one, is lost: it fails before the number names
   * another inode in this copy, so its open file never reads that one.
   */
  private numberTaken(record: MknodRecord): void {
    const next = this.current.nextIno
    for (const p of this.pending.values()) {
      if (p.ahead === next && !this.ahead.some(a => a.ino === next) && !sameMknod(p.args.record as MknodRecord, record)) {
        this.failAhead(p, dfsError('CREATE_AHEAD_REFUSED', `the NameNode gave inode ${next} to another inode`, { ino: next }))
      }
    }
  }

  /** A phantom inode `record` names, if any (commit refuses it). */
  private phantomIn(record: NamespaceRecord): number | undefined {
    if (this.phantoms.size === 0) return undefined
    return namedInodes(record).find(ino => this.phantoms.has(ino))
  }

  /**
   * This copy and the NameNode's disagree: drop the connection for a fresh snapshot. Nothing more is
   * answered from this copy meanwhile (no create ahead: `connected` is false at once).
   */
  private resync(socket: Socket): void {
    if (this.socket === socket) this.connected = false
    socket.destroy()
  }

  /**
   * Durable means durable in the journal of the NameNode serving now. When the NameNode changed
   * after it answered some of this client's commits and the new one's history does not hold them
   * (CommitLedger), this sync cannot be promised and fails (EIO), once (and again while stopping).
   */
  async sync(): Promise<void> {
    // A stopping mount asks nothing when a sync already covered everything it committed to this
    // NameNode (none in flight: their seqs are not known yet), so a stop with nothing new does not
    // wait for a NameNode that went away. Otherwise always asked: a sync waiting for a reconnect
    // learns there whether a new NameNode lost what an earlier sync covered (CommitLedger).
    let failed: unknown
    if (!this.isStopping || !this.ledger.allSynced() || this.commitsInFlight()) await this.request('sync').catch(err => { failed = err })
    // A loss known here outweighs a NameNode that did not answer. A stopping mount's last sync
    // reports any loss of its session again (an fsync of some other process may have taken it):
    // the stop's report must not depend on who happened to fsync first.
    const lost = this.ledger.takeLoss() ?? (this.isStopping ? this.ledger.lostBefore : undefined)
    if (lost) throw dfsError('EIO', `${lost}; what was written since the last fsync that returned may be lost`, {})
    if (failed !== undefined) throw failed
  }

  /** Under the sole writer's lease, at once: no other client's record can be on its way. */
  async refresh(): Promise<void> {
    if (this.connected && performance.now() < this.soleUntil && Date.now() < this.soleUntilWall) return
    await this.request('refresh')
  }

  async opened(ino: number): Promise<void> {
    await this.request('opened', { ino })
    this.countOpen(ino, 1)
  }

  closed(ino: number): void {
    if (!this.opens.has(ino)) return
    this.countOpen(ino, -1)
    this.oneWay('closed', { ino })
  }

  abandon(refs: readonly ChunkRef[]): void {
    if (refs.length > 0) this.oneWay('abandon', { refs })
  }

  reportBadCopy(ref: ChunkRef, nodeId: string, reason: { code: string; message: string }): void {
    this.oneWay('badCopy', { ref, nodeId, reason: { code: reason.code, message: reason.message } })
  }

  report(report: ClientReport): void {
    this.lastReport = report
    // While disconnected it is not queued: the connection that comes sends the latest one.
    if (this.connected) this.oneWay('clientReport', { ...report })
  }

  async capacity(): Promise<{ total: number; available: number }> {
    return await this.request('capacity') as { total: number; available: number }
  }

  async placement(ino: number, path?: string): Promise<FilePlacement> {
    return await this.request('placement', { ino, ...(path === undefined ? {} : { path }) }) as FilePlacement
  }

  /** `dfs status | balance | drain` through this client's NameNode. */
  control(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
    return this.request('control', { cmd, args })
  }

  async close(): Promise<void> {
    this.closing = true
    clearInterval(this.pingTimer)
    clearTimeout(this.holdTimer)
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer)
      p.reject(dfsError('EIO', 'the mount is closing', {}))
      this.pending.delete(id)
    }
    const socket = this.socket
    if (socket && this.connected) {
      // A clean end: the NameNode ends the session when the connection closes, not a grace period
      // later (it shows the client gone at once). The bytes go out before the connection closes;
      // the held one-way messages first (a `closed` among them no longer matters, the rest may).
      // `leave` also gives up the sole writer's lease: stop trusting it first, as for `revoked`.
      this.soleUntil = 0
      this.soleUntilWall = 0
      this.leaseEpoch++
      this.write({ t: 'req', id: this.nextId++, m: 'leave' })
      socket.end()
      setTimeout(() => socket.destroy(), 1000).unref()
    } else socket?.destroy()
  }

  private countOpen(ino: number, delta: number): void {
    const n = (this.opens.get(ino) ?? 0) + delta
    if (n > 0) this.opens.set(ino, n)
    else this.opens.delete(ino)
  }

  // ---- requests ----------------------------------------------------------------------------------

  private request(method: string, args: Record<string, unknown> = {}, ahead?: number): Promise<unknown> {
    if (this.closing) return Promise.reject(dfsError('EIO', 'the mount is closing', {}))
    if (this.gaveUp()) return Promise.reject(this.unanswered(method))
    return new Promise((resolve, reject) => {
      const id = this.nextId++
      const timer = setTimeout(() => {
        const p = this.pending.get(id)
        this.pending.delete(id)
        if (p) this.failAhead(p, this.unanswered(method))
        reject(this.unanswered(method))
      }, this.opts.timeoutMs)
      timer.unref()
      this.pending.set(id, {
        method, args, resolve, reject, timer, sentAt: performance.now(), sentWall: Date.now(), epoch: this.leaseEpoch, ...(ahead === undefined ? {} : { ahead }),
      })
      if (this.connected) this.write({ t: 'req', id, m: method, a: args })
    })
  }

  private commitsInFlight(): boolean {
    for (const p of this.pending.values()) if (p.method === 'commit') return true
    return false
  }

  private unanswered(method: string): DfsError {
    return dfsError('NAMENODE_UNAVAILABLE', `the NameNode at ${this.opts.addresses.join(', ')} did not answer within ${Math.round(this.opts.timeoutMs / 1000)} s (${method})`, {
      method, addresses: this.opts.addresses,
    })
  }

  /**
   * A stopping mount lost its NameNode: it waits one --namenode-timeout from now, then requests fail
   * at once while it stays unreachable. Losing it again while that wait runs does not start another;
   * a NameNode that came back (reconnected) is waited for afresh when lost again.
   */
  private startLastWait(): void {
    if (this.lastWait !== 'none') return
    this.lastWait = 'waiting'
    this.lastWaitTimer = setTimeout(() => {
      this.lastWait = 'over'
      this.failWhileUnreachable()
    }, this.opts.timeoutMs)
    this.lastWaitTimer.unref()
  }

  /** Stopping, past the one wait it allows (stopping()), and the NameNode cannot be reached. */
  private gaveUp(): boolean {
    return !this.connected && this.lastWait === 'over'
  }

  /** Fail what waits for a NameNode that cannot be reached, once a stop gave up on it. */
  private failWhileUnreachable(): void {
    if (!this.gaveUp()) return
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer)
      this.pending.delete(id)
      this.failAhead(p, this.unanswered(p.method))
      p.reject(this.unanswered(p.method))
    }
  }

  /**
   * A message that wants no reply (`n`): held until the next request goes out, ONE_WAY_HOLD_MS at
   * most while connected; while disconnected until the connection is back (a `closed` is dropped
   * then: `reopen` says what is still open).
   */
  private oneWay(method: string, args: Record<string, unknown>): void {
    if (this.closing) return
    if (this.held.length >= HELD_MAX) {
      const dropped = this.held.shift()!
      this.log.debug(`${dropped.m} did not reach the NameNode: too many one-way messages wait for it`)
    }
    this.held.push({ t: 'req', id: this.nextId++, m: method, a: args, n: true })
    if (this.connected && this.holdTimer === undefined) {
      this.holdTimer = setTimeout(() => {
        this.holdTimer = undefined
        if (this.connected) this.write()
      }, this.opts.oneWayHoldMs ?? ONE_WAY_HOLD_MS)
      this.holdTimer.unref()
    }
  }

  /** The held one-way messages, then `message` if any: one write (one segment) for all of them. */
  private write(message?: RequestMessage): void {
    const socket = this.socket!
    if (this.held.length === 0) {
      if (message) send(socket, message)
      return
    }
    clearTimeout(this.holdTimer)
    this.holdTimer = undefined
    socket.cork()
    for (const h of this.held) send(socket, h)
    this.held = []
    if (message) send(socket, message)
    socket.uncork()
  }

  // ---- the connection ----------------------------------------------------------------------------

  /** One connection: handshake, snapshot, then requests flow. Resolves once the snapshot is in. */
  private open(address: string): Promise<void> {
    const { host, port } = parseTcpAddress(address)
    return new Promise<void>((resolve, reject) => {
      const socket = connect({ host, port })
      socket.setNoDelay(true)
      socket.setKeepAlive(true, 5_000)
      const nonce = newNonce()
      let challenge = ''
      let welcome: WelcomeMessage | undefined
      let pieces: unknown[] = []
      let settled = false
      const reader = new MessageReader(() => MAX_PUSH_BYTES)
      const fail = (err: DfsError) => {
        if (!settled) {
          settled = true
          reject(err)
        }
        socket.destroy()
      }
      const silenceMs = this.opts.handshakeSilenceMs ?? HANDSHAKE_SILENCE_MS
      const handshakeTimer = setTimeout(() => fail(dfsError('NAMENODE_UNAVAILABLE', `${address} said nothing for ${silenceMs / 1000} s during the handshake`, {})), silenceMs)
      socket.on('error', err => fail(dfsError('NAMENODE_UNAVAILABLE', `${address}: ${err.message}`, {}, err)))
      socket.on('close', () => {
        clearTimeout(handshakeTimer)
        if (!settled) fail(dfsError('NAMENODE_UNAVAILABLE', `${address} closed the connection during the handshake`, {}))
        else if (this.socket === socket) this.lost(address)
      })
      socket.on('data', data => {
        let messages: Message[]
        try {
          messages = reader.push(data)
        } catch (err) {
          if (!welcome) {
            const wrong = notANameNode(address, err)
            this.log.warn(`${wrong.message}; trying again`)
            return fail(wrong)
          }
          this.log.warn(`the NameNode at ${address} sent what this client cannot read (${(err as Error).message}); reconnecting`)
          return fail(err as DfsError)
        }
        this.lastHeard = Date.now()
        if (!settled) handshakeTimer.refresh()
        for (const m of messages) {
          if (m.t === 'error') {
            if (settled) {
              // A NameNode on its way out (superseded by a newer one, shutting down): find the next.
              const next = this.opts.addresses.length > 1 ? 'trying the next NameNode address'
                : m.code === 'SUPERSEDED' ? `this client knows no other NameNode address, so its requests fail (EIO) until it is remounted with --namenode ${address},<the NameNode that took over>`
                  : 'trying it again'
              this.log.warn(`the NameNode at ${address} ended the connection: ${m.message} [${m.code}]; ${next}`)
              this.cursor = (this.opts.addresses.indexOf(address) + 1) % this.opts.addresses.length
              return fail(dfsError('NAMENODE_UNAVAILABLE', m.message, {}))
            }
            return fail(handshakeRefusal(address, m.code, m.message))
          }
          if (settled) {
            this.receive(m, address, socket)
            continue
          }
          if (m.t === 'hello') {
            challenge = m.challenge
            send(socket, {
              t: 'auth', version: NAMENODE_PROTOCOL_VERSION, nonce, proof: clientProof(this.opts.secret, challenge, nonce),
              client: this.clientId, leases: true,
            })
          } else if (m.t === 'welcome') {
            if (!proofMatches(m.proof, serverProof(this.opts.secret, challenge, nonce))) {
              return fail(dfsError('NAMENODE_UNAVAILABLE', `the server at ${address} does not hold the cluster secret; is it a dfs NameNode of this cluster?`, { refused: true }))
            }
            if (this._settings && m.clusterId !== this._settings.clusterId) {
              return fail(dfsError('NAMENODE_UNAVAILABLE', `the NameNode at ${address} serves cluster ${m.clusterId}, not this mount's ${this._settings.clusterId}`, { refused: true }))
            }
            welcome = m
            this.createsAhead = m.createsAhead === true
          } else if (m.t === 'nodes' && welcome) {
            this.opts.onNodes?.(m.nodes)
          } else if (m.t === 'snap' && welcome) {
            pieces.push(...m.pieces)
            if (!m.done) continue
            try {
              this.current = this.machine.restore(pieces)
              // The snapshot holds what the NameNode took: creates answered ahead and not taken yet
              // are sent again (resend) and applied as their records come.
              this.ahead = []
              this.changed()
            } catch (err) {
              return fail(dfsError('PROTOCOL_ERROR', `the NameNode's snapshot does not restore: ${(err as Error).message}`, {}))
            }
            pieces = []
            clearTimeout(handshakeTimer)
            settled = true
            this._settings = { clusterId: welcome.clusterId, chunkSize: welcome.chunkSize, replicas: welcome.replicas }
            const change = this.ledger.welcome(welcome.instance, welcome.startSeq, welcome.history)
            if (change.lost) this.log.error(`${change.lost}; the next fsync fails with EIO`)
            else if (change.changed) this.log.info(`the NameNode at ${address} is a new one (restarted, or a standby took over); namespace taken afresh, nothing this client committed was lost`)
            this.socket = socket
            this.connected = true
            this.attempt = 0
            clearTimeout(this.lastWaitTimer)
            this.lastWait = 'none'
            // First what this client has open (before anything else is served for it), then what
            // was not answered. Its answer needs no waiting: nothing is pending on it. A `closed`
            // held meanwhile is in `reopen` already (its open is not listed), so it goes.
            send(socket, { t: 'req', id: this.nextId++, m: 'reopen', a: { inos: [...this.opens].flatMap(([ino, n]) => Array<number>(n).fill(ino)) } })
            if (this.lastReport) send(socket, { t: 'req', id: this.nextId++, m: 'clientReport', a: { ...this.lastReport }, n: true })
            this.held = this.held.filter(h => h.m !== 'closed' && h.m !== 'clientReport')
            this.write()
            this.resend()
            // This copy holds no create the NameNode did not take: what is still lost is the file
            // system's to fail (onInodeLost), and the NameNode refuses what names it (refusedAhead).
            this.phantoms.clear()
            resolve()
          } else {
            return fail(dfsError('PROTOCOL_ERROR', `the NameNode at ${address} sent "${m.t}" during the handshake`, {}))
          }
        }
      })
    })
  }

  private receive(m: Message, address: string, socket: Socket): void {
    switch (m.t) {
      case 'rec': {
        if ((m.r as NamespaceRecord | undefined)?.op === 'mknod') this.numberTaken(m.r as MknodRecord)
        const head = this.ahead[0]
        if (head && (m.r as NamespaceRecord | undefined)?.op === 'mknod') {
          // Under the lease the next mknod is this client's own, answered ahead and applied already.
          if (sameMknod(head.record, m.r as MknodRecord)) {
            this.ahead.shift()
            return
          }
          this.log.error(`the NameNode journaled a create this client did not expect (${JSON.stringify(m.r)}) before one it answered ahead; resynchronising`)
          this.resync(socket)
          return
        }
        try {
          try {
            const made = this.machine.apply(this.current, m.r as NamespaceRecord)
            // A number a create of ours did not get is another inode's now: it may be named again.
            if ((m.r as NamespaceRecord).op === 'mknod') this.phantoms.delete((made as Inode).ino)
          } finally {
            this.changed(m.r as NamespaceRecord) // even a record that failed part-way may have changed something
          }
        } catch (err) {
          // Our copy and the NameNode's disagree: a bug somewhere. Start over from a snapshot.
          this.log.error(`a record from the NameNode does not apply to this client's copy (${(err as Error).message}); resynchronising`)
          this.resync(socket)
        }
        return
      }
      case 'nodes':
        this.opts.onNodes?.(m.nodes)
        return
      case 'revoke':
        // Stop trusting the lease first, then say so: another client's commit waits for this.
        this.soleUntil = 0
        this.soleUntilWall = 0
        this.leaseEpoch++
        this.write({ t: 'req', id: this.nextId++, m: 'revoked', n: true })
        return
      case 'res': {
        const p = this.pending.get(m.id)
        if (!p) return
        this.pending.delete(m.id)
        clearTimeout(p.timer)
        if (m.ok) {
          if (typeof m.l === 'number' && m.l > 0 && p.epoch === this.leaseEpoch) {
            // 1% less: two hosts' monotonic clocks may run at rates NTP slews apart (up to 500 ppm each).
            const ms = m.l * 0.99
            this.leaseMs = ms
            this.soleUntil = Math.max(this.soleUntil, p.sentAt + ms)
            this.soleUntilWall = Math.max(this.soleUntilWall, p.sentWall + ms)
          }
          // Noted as the answer arrives, before any later welcome: the ledger counts it for the NameNode that gave it.
          if (p.method === 'commit') this.ledger.committed(m.seq)
          else if (p.method === 'sync') this.ledger.synced(m.seq)
          if (p.ahead !== undefined && (m.r as Inode | null)?.ino !== p.ahead) {
            this.failAhead(p, dfsError('CREATE_AHEAD_REFUSED', `the NameNode gave it inode ${(m.r as Inode | null)?.ino}`, {}))
          }
          // A commit's inodes as its own records left them: later messages of this read are not applied yet.
          p.resolve(p.method === 'commit' ? resultOfCommit(m.r as ApplyResult, this.current) : m.r)
        } else {
          const err = dfsError((m.e?.code ?? 'EIO') as ErrorCode, m.e?.message ?? 'the NameNode refused the request', { method: p.method })
          this.failAhead(p, err)
          p.reject(err)
        }
        return
      }
      default:
        this.log.warn(`the NameNode at ${address} sent an unexpected "${m.t}"; reconnecting`)
        socket.destroy()
    }
  }

  /**
   * After a (re)connect: every request not yet answered goes out again, in its first order. A create
   * answered ahead that the fresh snapshot holds (the NameNode took it, its answer was lost) is
   * answered from it; one it does not hold goes as a plain commit of its inode number, applied as its
   * record comes, whoever holds the lease (the NameNode refuses it if the number went to another
   * inode meanwhile, and then what names it). A commit that names a create the NameNode did not take
   * fails here.
   */
  private resend(): void {
    for (const [id, p] of [...this.pending].sort((a, b) => a[0] - b[0])) {
      const fail = (err: DfsError, alsoLost?: number) => {
        this.pending.delete(id)
        clearTimeout(p.timer)
        if (alsoLost !== undefined) this.phantoms.add(alsoLost) // what names it below is not sent either
        this.failAhead(p, err)
        p.reject(err)
      }
      if (p.method === 'commit' && p.args.ino !== undefined && p.ahead === undefined) {
        fail(lostCreate(p.args.ino as number)) // a create already found lost (failAhead): not made now
        continue
      }
      if (p.ahead !== undefined) {
        const record = p.args.record as MknodRecord
        const taken = this.current.inodes.get(p.ahead)
        if (this.current.children.get(record.parent)?.get(record.name) === p.ahead && taken?.mode === record.mode) {
          this.pending.delete(id)
          clearTimeout(p.timer)
          p.resolve(taken)
          continue
        }
        if (p.ahead < this.current.nextIno) {
          // Not this create, and the NameNode gave the number to another inode: it cannot be taken.
          fail(dfsError('CREATE_AHEAD_REFUSED', `the NameNode gave inode ${p.ahead} to another inode meanwhile`, { ino: p.ahead }), p.ahead)
          continue
        }
        const { ahead: _, ...args } = p.args
        p.args = args
      }
      const phantom = p.method === 'commit' ? this.phantomIn(p.args.record as NamespaceRecord) : undefined
      if (phantom !== undefined) {
        fail(lostCreate(phantom), p.ahead)
        continue
      }
      p.sentAt = performance.now()
      p.sentWall = Date.now()
      p.epoch = this.leaseEpoch
      this.write({ t: 'req', id, m: p.method, a: p.args })
    }
  }

  private lost(address: string): void {
    this.connected = false
    this.socket = undefined
    this.soleUntil = 0
    this.soleUntilWall = 0
    this.leaseEpoch++
    if (this.closing) return
    if (this.isStopping) {
      this.startLastWait()
      this.failWhileUnreachable()
    }
    this.log.warn(`lost the NameNode at ${address}; reconnecting (requests wait up to ${Math.round(this.opts.timeoutMs / 1000)} s)`)
    // One-way messages written before the loss are not sent again (best effort; the opens go
    // again in `reopen`); those still held go after the reconnect.
    void this.reconnect()
  }

  /**
   * Until connected or closed: the address that served last first, then the others in turn; the
   * wait between tries grows to 2 s per round of the list. No failure ends it (a refused secret
   * included: the operator may fix the NameNode); requests time out meanwhile by themselves.
   */
  private async reconnect(): Promise<void> {
    const n = this.opts.addresses.length
    while (!this.closing && !this.connected) {
      await sleep(RETRY_MS[Math.min(Math.floor(this.attempt / n), RETRY_MS.length - 1)])
      if (this.closing) return
      const index = this.cursor
      const address = this.opts.addresses[index]
      this.attempt++
      try {
        await this.open(address)
        this.cursor = index
        this.log.info(`reconnected to the NameNode at ${address}`)
      } catch (err) {
        this.cursor = (index + 1) % n
        if (this.attempt <= n || this.attempt % (10 * n) === 0) this.log.warn(`NameNode at ${address}: ${(err as Error).message}`)
      }
    }
  }

  private startPinging(): void {
    this.pingTimer = setInterval(() => {
      if (!this.connected) return
      if (Date.now() - this.lastHeard > SILENCE_MS) {
        this.log.warn(`the NameNode said nothing for ${SILENCE_MS / 1000} s; reconnecting`)
        this.socket?.destroy()
        return
      }
      if (this.pinging) return
      this.pinging = true
      // `ping`: a refresh that takes no lease away (docs/protocol.md), which only asks whether the NameNode is there.
      this.request('refresh', { ping: true }).catch(() => {}).finally(() => { this.pinging = false })
    }, PING_EVERY_MS)
    this.pingTimer.unref()
  }
}

/**
 * A NameNode's `error` during the handshake. "Not the primary" (a standby, a NameNode superseded by
 * a newer one) and codes this client does not know send it on to the next address; a wrong secret
 * and a protocol mismatch are refusals that trying again cannot change.
 */
function handshakeRefusal(address: string, code: string, message: string): DfsError {
  const text = `refused by the NameNode at ${address}: ${message}`
  if (code === 'NOT_PRIMARY') return dfsError('NOT_PRIMARY', text, { address })
  if (code === 'PROTOCOL_ERROR') return dfsError('PROTOCOL_ERROR', text, { address, refused: true })
  if (code === 'NAMENODE_UNAVAILABLE') return dfsError('NAMENODE_UNAVAILABLE', text, { address, refused: true })
  return dfsError('NAMENODE_UNAVAILABLE', `${text} [${code}]`, { address })
}

/** What names `ino`, a create answered ahead that the NameNode did not take, fails with. */
function lostCreate(ino: number): DfsError {
  return dfsError('CREATE_AHEAD_REFUSED', `inode ${ino} was created ahead of the NameNode, which did not take it: it is lost`, { ino })
}

/** The record of a create this client answered ahead, as the NameNode sends it back. */
function sameMknod(a: MknodRecord, b: MknodRecord): boolean {
  return a.parent === b.parent && a.name === b.name && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid
    && a.time === b.time && (a.rdev ?? 0) === (b.rdev ?? 0) && a.target === b.target
}

/** Refused in a way that trying the same address again cannot change. */
function isFinalRefusal(err: DfsError | undefined): boolean {
  return err?.context.refused === true
}

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))
