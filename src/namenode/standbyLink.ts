// The primary's end of its standby (`dfs namenode --standby-of`): the standby gets the metadata
// folder's format and fencing claim, a snapshot at a seq, then every record with its seq, and acks
// what it has made durable. Once it has caught up (acked its snapshot), the store's durability
// includes it (MetaStore.setDurabilityGate): an fsync, a delete after a durable record, and the seq
// watermark on the DataNodes all wait for its ack, so a promoted standby has every acknowledged byte.
//
// The wait is bounded: a standby that does not confirm a record within timeoutMs, stops reading,
// or disconnects is dropped, and the primary carries on alone until it comes back (each return
// starts from a fresh snapshot). The log and `dfs status` say which state it is in and how far behind.
// Alone, it still tells the DataNodes how far its fsyncs got (the fencing seq watermark) before
// acknowledging one, so `--promote` of the standby that missed them refuses instead of losing them.
// "Alone" includes a restart: a folder that ever had a standby (meta/followedMark.ts) raises the
// watermark until one is caught up again, since the standby of the process before may still be promoted.

import type { Socket } from 'node:net'
import { levelled, type Log } from '../log/Log.js'
import { readMetaEpoch } from '../meta/epochClaim.js'
import { markFollowed, wasFollowed } from '../meta/followedMark.js'
import type { DurabilityGate } from '../meta/MetaStore.js'
import type { NamespaceMetaStore } from '../cluster/openCluster.js'
import { send } from '../protocol/wire.js'
import { sendSnapshot } from './snapshot.js'
import type { Fence } from '../cluster/fencing.js'
import type { NewEvent } from './events.js'
import { EventBurst, type EventBurstOptions } from '../cluster/EventBurst.js'

/** A standby that does not read while this much waits for it is dropped. */
const MAX_BACKLOG = 256 * 1024 * 1024

export interface StandbyStatus {
  /** none: never had one; catching-up: taking a snapshot; following: fsyncs wait for it; lost: it fell away, this NameNode carries on alone. */
  state: 'none' | 'catching-up' | 'following' | 'lost'
  /** tcp peer of the standby, while one is (or was last) attached. */
  peer?: string
  /** The last seq it confirmed durable. */
  ackedSeq?: number
  /** This NameNode's last seq. */
  lastSeq: number
  /** Records this NameNode has that the standby has not confirmed. */
  behind?: number
  /** When it entered the state, ISO time. */
  since?: string
  /** Why it was lost. */
  why?: string
}

interface Attached {
  id: string
  peer: string
  socket: Socket
  ackedSeq: number
  /** The seq of the snapshot it was sent: caught up once it acks that. */
  snapshotSeq: number
  caughtUp: boolean
  startedAt: number
  stopRecords: () => void
  stopSettings: () => void
}

interface Waiter {
  seq: number
  resolve: () => void
  timer: NodeJS.Timeout
}

export class StandbyLink implements DurabilityGate {
  private readonly log: Log
  private current: Attached | undefined
  /** The id of a standby between its authentication and its snapshot (attach awaits in between). */
  private attaching: string | undefined
  private readonly waiters = new Set<Waiter>()
  private last: { state: StandbyStatus['state']; since: number; peer?: string; ackedSeq?: number; why?: string } = { state: 'none', since: Date.now() }
  /** Whether a standby ever followed this folder, in this process or one before (followed.json). */
  private followed: Promise<boolean>
  private readonly events: EventBurst

  constructor(
    private readonly meta: NamespaceMetaStore,
    log: (message: string) => void,
    /** How long an fsync waits for the standby's ack before the primary drops it and carries on alone (ms). */
    private readonly timeoutMs: number,
    /** The claim on the DataNodes: without a standby, they record how far this NameNode got. */
    private readonly fence: Pick<Fence, 'raiseTo'> | undefined,
    /** The NameNode's event feed: a standby attached, caught up, lost. */
    onEvent: (event: NewEvent) => void = () => {},
    /** The summing up of a standby that comes and goes over and over (timers, for tests). */
    burst: EventBurstOptions = {},
  ) {
    this.log = levelled(log)
    // A standby in a loop (it crashes once it has the snapshot, a peer that keeps authenticating as
    // one) is told as it comes and goes a few times a minute, the rest summed up: it must not push
    // every other event out of the ring.
    this.events = new EventBurst(onEvent, (count, windowMs) => ({
      kind: 'standby', level: 'warn', count,
      message: `standby flapping: ${count} more attached, caught up or lost in ${Math.round(windowMs / 1000)} s; now ${this.last.state}${this.last.peer ? ` (${this.last.peer})` : ''}`,
    }), { windowMs: 60_000, tellFirst: 6, ...burst })
    this.followed = wasFollowed(meta.dir).catch(() => true)
    // A folder a standby followed before this process started: until one connects, it is away.
    void this.followed.then(yes => {
      if (yes && this.last.state === 'none') this.last = { state: 'lost', since: this.last.since, why: 'no standby has connected since this NameNode started' }
    })
    meta.setDurabilityGate(this)
  }

  /**
   * A standby authenticated on socket: send it everything, from a snapshot on. Returns false (and
   * the caller refuses it) when another standby is attached: one at a time.
   */
  async attach(socket: Socket, peer: string, id: string, standbyLastSeq: number): Promise<boolean> {
    // The slot is taken before the first await: two standbys that authenticate in the same moment
    // must not both pass this check and both be sent the journal (the second would then replace the
    // first unnoticed, its acks ignored and its subscription never ended).
    if ((this.current && this.current.id !== id) || (this.attaching !== undefined && this.attaching !== id)) return false
    this.attaching = id
    const { meta } = this
    let epoch
    try {
      epoch = await readMetaEpoch(meta.dir)
      // Before it holds anything it could be promoted with: from now on this folder counts a standby.
      if (!(await this.followed)) {
        await markFollowed(meta.dir)
        this.followed = Promise.resolve(true)
      }
      if (socket.destroyed) return true
      if (this.current) {
        if (this.current.id !== id) return false
        this.detach('it connected again') // the same standby back before its old connection was noticed gone
      }
      // Its folder is about to start over, and a crash part-way leaves it at an older checkpoint than
      // it acked (MetaStore.replaceWith): the nodes' watermark covers what it acked first (with no
      // standby caught up, a sync raises it), so promoting that folder refuses instead of losing it.
      await meta.sync()
    } finally {
      this.attaching = undefined
    }
    if (socket.destroyed) return true
    if (this.current) return false
    // Header, snapshot and subscription in one turn: no record falls between them.
    const seq = meta.lastSeq
    const format = meta.metaFormat
    send(socket, { t: 'follow', format: { ...format }, seq, ...(epoch ? { epoch: { epoch: epoch.epoch, token: epoch.token } } : {}) })
    sendSnapshot(socket, meta)
    const attached: Attached = {
      id, peer, socket, ackedSeq: 0, snapshotSeq: seq, caughtUp: false, startedAt: Date.now(),
      stopRecords: meta.onCommitted((record, s) => this.forward(attached, { t: 'rec', r: record, s })),
      stopSettings: meta.onSettingsChanged(f => this.forward(attached, { t: 'settings', settings: f.settings })),
    }
    this.current = attached
    const behind = seq - standbyLastSeq
    const was = this.last.state === 'lost' ? ` (lost ${Math.round((Date.now() - this.last.since) / 1000)} s ago)` : ''
    this.log.info(
      `standby ${peer} connected${was} with its journal at seq ${standbyLastSeq}; this NameNode is at seq ${seq}` +
      `${behind > 0 ? `, ${records(behind)} ahead` : ''}; sending it a snapshot at seq ${seq}; until it has it, this NameNode alone holds the records`,
    )
    this.last = { state: 'catching-up', since: Date.now(), peer }
    this.events.add({ kind: 'standby', level: 'info', message: `standby ${peer} attached${was}; sending it a snapshot at seq ${seq}` })
    return true
  }

  /**
   * The standby's ack: every record up to seq is durable there. Returns what is wrong with an ack
   * that cannot be true (not a record number, or one this NameNode has not written yet): the caller
   * refuses the connection, and the standby is dropped, since an fsync must never be acknowledged
   * on its word for records it cannot have.
   */
  acked(socket: Socket, seq: unknown): string | undefined {
    const s = this.current
    if (!s || s.socket !== socket) return undefined
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0 || seq > this.meta.lastSeq) {
      const why = `it confirmed record ${JSON.stringify(seq)}, which is not a record this NameNode has written (its last is ${this.meta.lastSeq})`
      this.detach(why, false)
      return why
    }
    if (seq < s.ackedSeq) return undefined
    s.ackedSeq = seq
    if (!s.caughtUp && seq >= s.snapshotSeq) {
      s.caughtUp = true
      this.last = { state: 'following', since: Date.now(), peer: s.peer, ackedSeq: seq }
      this.log.info(`standby ${s.peer} caught up at seq ${seq} in ${Date.now() - s.startedAt} ms; fsyncs now wait for it too`)
      this.events.add({ kind: 'standby', level: 'info', message: `standby ${s.peer} caught up at seq ${seq}; fsyncs now wait for it too` })
    }
    this.last.ackedSeq = seq
    for (const w of this.waiters) {
      if (w.seq <= seq) this.settle(w)
    }
  }

  /** Whether socket is the attached standby's. */
  owns(socket: Socket): boolean {
    return this.current?.socket === socket
  }

  /** The socket closed (or failed). */
  closed(socket: Socket): void {
    if (this.current?.socket === socket) this.detach('its connection closed')
  }

  /**
   * Following: the standby's ack (or the timeout that drops it). Without a standby that is caught
   * up (catching up, or lost), the DataNodes' seq watermark instead: the fsync is acknowledged by
   * this NameNode alone, and the nodes must know it, so a promotion of the standby that missed it
   * is refused rather than losing it silently. A folder that never had a standby waits for nothing.
   */
  async reached(seq: number): Promise<void> {
    const s = this.current
    if (s?.caughtUp && await this.ackOf(s, seq)) return
    if (this.last.state !== 'none' || await this.followed) await this.fence?.raiseTo(seq)
  }

  /** True once the standby acked seq; false when it was dropped first (timeout, closed). */
  private ackOf(s: Attached, seq: number): Promise<boolean> {
    if (s.ackedSeq >= seq) return Promise.resolve(true)
    return new Promise(resolve => {
      const waiter: Waiter = {
        seq, resolve: () => resolve(this.current === s && s.ackedSeq >= seq),
        timer: setTimeout(() => {
          if (this.current === s) this.detach(`it did not confirm record ${seq} within ${this.timeoutMs} ms`)
          this.settle(waiter)
        }, this.timeoutMs),
      }
      this.waiters.add(waiter)
    })
  }

  status(): StandbyStatus {
    const lastSeq = this.meta.lastSeq
    const { state, since, peer, ackedSeq, why } = this.last
    return {
      state, lastSeq, since: new Date(since).toISOString(),
      ...(peer ? { peer } : {}),
      ...(ackedSeq === undefined ? {} : { ackedSeq, behind: Math.max(0, lastSeq - ackedSeq) }),
      ...(why ? { why } : {}),
    }
  }

  close(): void {
    if (this.current) this.detach('this NameNode stops')
    this.meta.setDurabilityGate(undefined)
  }

  private forward(s: Attached, message: Parameters<typeof send>[1]): void {
    if (s.socket.writableLength > MAX_BACKLOG) {
      this.detach('it stopped reading')
      return
    }
    send(s.socket, message)
  }

  /** Drop the standby; closeSocket false when the caller ends the connection itself (to say why first). */
  private detach(why: string, closeSocket = true): void {
    const s = this.current
    if (!s) return
    this.current = undefined
    s.stopRecords()
    s.stopSettings()
    if (closeSocket) s.socket.destroy()
    const lastSeq = this.meta.lastSeq
    this.last = { state: 'lost', since: Date.now(), peer: s.peer, ackedSeq: s.ackedSeq, why }
    const behind = lastSeq - s.ackedSeq
    this.log.warn(
      `standby ${s.peer} lost: ${why}; it had confirmed seq ${s.ackedSeq}${behind > 0 ? ` (${records(behind)} behind)` : ''}; ` +
      'this NameNode carries on alone: records from now on are on its disk only until the standby returns',
    )
    this.events.add({
      kind: 'standby', level: 'warn',
      message: `standby ${s.peer} lost: ${why}; it had confirmed seq ${s.ackedSeq}; this NameNode carries on alone until it returns`,
    })
    // Nothing waits for a standby that is gone.
    for (const w of this.waiters) this.settle(w)
  }

  private settle(w: Waiter): void {
    clearTimeout(w.timer)
    this.waiters.delete(w)
    w.resolve()
  }
}

const records = (n: number) => `${n} record${n === 1 ? '' : 's'}`
