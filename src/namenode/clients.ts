// The NameNode's clients (mounts), as `dfs status`, the dashboard and /metrics show them: who each
// is, since when it is connected, its counters (FUSE op latencies, chunk I/O per DataNode,
// failovers) and rates taken from its last two reports. A client joins with its first report and
// leaves when its session ends; a dropped connection within the grace period is the same client,
// shown as not connected meanwhile. What a remote client that left had counted is folded into
// `departed`, so cluster-wide totals (remoteTotals()) never go backwards: Prometheus counters must not.
// An in-process client (the embedded mount) is left out of those totals: its chunk store is the
// NameNode's own, whose I/O the NameNode counts itself.
//
// Bounded whatever clients send: reports are checked on the wire (protocol/checkClientReport.ts),
// and here every table of op names or node ids (one client's, across its reports, and the departed
// total across clients) holds at most a fixed number of keys; the rest is counted under OTHER.

import type { ClientReport } from '../protocol/api.js'
import type { ClientCounters, ClientSummary, OpHistogram } from '../protocol/clientStats.js'
import { addNodeIo, emptyHistogram, emptyNodeIo, REPORT_QUIET_MS } from '../protocol/clientStats.js'
import { MAX_REPORT_NODES, MAX_REPORT_OPS } from '../protocol/checkClientReport.js'
import type { EventFeed, NewEvent } from './events.js'
import { EventBurst, type EventBurstOptions } from '../cluster/EventBurst.js'

/** Where counts of op names or node ids past a table's cap go. */
export const OTHER = '(other)'

export interface ClientTableOptions {
  /** The NameNode's event feed: 'client-connected' and 'client-gone' go there. */
  events?: EventFeed
  now?: () => number
  /** Op names kept per table (the rest are counted under OTHER). */
  maxOps?: number
  /** Node ids kept per table (the rest are counted under OTHER). */
  maxNodes?: number
  /** The summing up of connected and gone events in a crowd (timers, for tests). */
  burst?: EventBurstOptions
}

/**
 * Clients told coming or going one by one per window; a crowd past that (every mount reconnecting
 * after a NameNode restart, a mount in a restart loop, a client that connects under a new id each
 * time) is one event per window, so it cannot push the rest of the cluster's events out of the ring.
 */
export const CLIENTS_TOLD = 10
export const CLIENT_WINDOW_MS = 10_000

/** One report's totals, for rates. */
interface Sample {
  at: number
  ops: number
  readBytes: number
  writeBytes: number
}

interface Entry {
  id: string
  about: ClientReport['about']
  inProcess: boolean
  connected: boolean
  connectedAt: number
  counters: ClientCounters
  last: Sample
  previous?: Sample
}

export class ClientTable {
  private readonly entries = new Map<string, Entry>()
  private readonly departed: ClientCounters = emptyCounters()
  private readonly now: () => number
  private readonly maxOps: number
  private readonly maxNodes: number
  private readonly connectedEvents?: EventBurst
  private readonly goneEvents?: EventBurst

  constructor(opts: ClientTableOptions = {}) {
    this.now = opts.now ?? Date.now
    // As many as one report may name: a client's table fills only when it names new keys over time.
    this.maxOps = opts.maxOps ?? MAX_REPORT_OPS
    this.maxNodes = opts.maxNodes ?? MAX_REPORT_NODES
    const events = opts.events
    if (events) {
      const burst = { windowMs: CLIENT_WINDOW_MS, tellFirst: CLIENTS_TOLD, ...opts.burst }
      const emit = (event: NewEvent) => void events.emit(event)
      const seconds = (ms: number) => `${Math.round(ms / 1000)} s`
      this.connectedEvents = new EventBurst(emit, (count, ms) => ({ kind: 'client-connected', level: 'info', count, message: `${count} more clients connected in ${seconds(ms)}` }), burst)
      this.goneEvents = new EventBurst(emit, (count, ms) => ({ kind: 'client-gone', level: 'info', count, message: `${count} more clients gone in ${seconds(ms)}` }), burst)
    }
  }

  /**
   * A client's report (its first makes it known). Counters are cumulative; one that reads lower than
   * before (a client that cannot count, or lies) keeps the higher value, so totals only grow.
   */
  report(id: string, report: ClientReport, opts: { inProcess?: boolean } = {}): void {
    const now = this.now()
    let entry = this.entries.get(id)
    if (!entry) {
      entry = {
        id, about: { ...report.about }, inProcess: opts.inProcess === true, connected: true, connectedAt: now,
        counters: emptyCounters(), last: { at: now, ops: 0, readBytes: 0, writeBytes: 0 },
      }
      this.entries.set(id, entry)
      mergeMax(entry.counters, report.counters, this.maxOps, this.maxNodes)
      entry.last = sample(entry.counters, now)
      this.connectedEvents?.add({ kind: 'client-connected', level: 'info', clientId: id, message: `client ${describe(entry.about)} connected (pid ${entry.about.pid})` })
      return
    }
    entry.about = { ...report.about }
    entry.connected = true
    mergeMax(entry.counters, report.counters, this.maxOps, this.maxNodes)
    entry.previous = entry.last
    entry.last = sample(entry.counters, now)
  }

  /** Its connection is back (within the grace period): the same client. */
  reconnected(id: string): void {
    const entry = this.entries.get(id)
    if (entry) entry.connected = true
  }

  /** Its connection dropped; its session is kept for the grace period, and so is it here. */
  disconnected(id: string): void {
    const entry = this.entries.get(id)
    if (entry) entry.connected = false
  }

  /** Its session ended: its counters go into the departed total. */
  leave(id: string): void {
    const entry = this.entries.get(id)
    if (!entry) return
    this.entries.delete(id)
    if (!entry.inProcess) mergeAdd(this.departed, entry.counters, this.maxOps, this.maxNodes)
    const minutes = Math.round((this.now() - entry.connectedAt) / 60_000)
    this.goneEvents?.add({
      kind: 'client-gone', level: 'info', clientId: id,
      message: `client ${describe(entry.about)} gone (pid ${entry.about.pid}, ${minutes < 1 ? 'under a minute' : `${minutes} min`} after it connected)`,
    })
  }

  list(): ClientSummary[] {
    const now = this.now()
    return [...this.entries.values()].map(e => {
      const rate = rates(e, now)
      return {
        id: e.id, ...e.about, inProcess: e.inProcess, connected: e.connected, connectedAt: e.connectedAt,
        counters: copyCounters(e.counters), ...rate,
      }
    })
  }

  /**
   * Every remote client's counters, present and departed, summed: only ever grows. In-process
   * clients are not in it (their chunk I/O and failovers are the NameNode's own chunk store's).
   */
  remoteTotals(): ClientCounters {
    const total = emptyCounters()
    mergeAdd(total, this.departed, Infinity, Infinity)
    for (const e of this.entries.values()) if (!e.inProcess) mergeAdd(total, e.counters, Infinity, Infinity)
    return total
  }
}

const describe = (about: ClientReport['about']) => `${about.host}:${about.mountpoint}`

/**
 * What the client did between its last two reports, per second. Zero without two reports, while
 * disconnected, and once the last report is older than a client goes between reports (REPORT_QUIET_MS):
 * a client that stopped reporting (frozen, its host gone without closing the connection) is not
 * shown busy with its last rates forever.
 */
function rates(e: Entry, now: number): Pick<ClientSummary, 'opsPerSec' | 'readBytesPerSec' | 'writeBytesPerSec'> {
  const p = e.previous
  const seconds = p ? (e.last.at - p.at) / 1000 : 0
  if (!p || !e.connected || seconds <= 0 || now - e.last.at > REPORT_QUIET_MS) return { opsPerSec: 0, readBytesPerSec: 0, writeBytesPerSec: 0 }
  return {
    opsPerSec: (e.last.ops - p.ops) / seconds,
    readBytesPerSec: (e.last.readBytes - p.readBytes) / seconds,
    writeBytesPerSec: (e.last.writeBytes - p.writeBytes) / seconds,
  }
}

function sample(c: ClientCounters, at: number): Sample {
  let ops = 0
  let readBytes = 0
  let writeBytes = 0
  for (const h of Object.values(c.ops)) ops += h.count
  for (const io of Object.values(c.nodes)) {
    readBytes += io.readBytes
    writeBytes += io.writeBytes
  }
  return { at, ops, readBytes, writeBytes }
}

// Objects keyed by what clients send have no prototype: a node id "__proto__" is just a key.
function emptyCounters(): ClientCounters {
  return { ops: Object.create(null), nodes: Object.create(null), failovers: 0 }
}


/**
 * `fresh`'s entries as `kept` may take them: under their own keys while the table has room (at most
 * `max` keys, OTHER included), the rest summed under OTHER. Copies: the caller's objects stay as they are.
 */
function capped<T>(kept: Record<string, T>, fresh: Record<string, T>, max: number, empty: () => T, add: (into: T, v: T) => void): Record<string, T> {
  const out: Record<string, T> = Object.create(null)
  const size = Object.keys(kept).length
  let room = max - size - (OTHER in kept ? 0 : 1)
  for (const [k, v] of Object.entries(fresh)) {
    let key = k
    if (!(k in kept) && k !== OTHER && !(k in out)) {
      if (room > 0) room--
      else key = OTHER
    }
    add((out[key] ??= empty()), v)
  }
  return out
}

/**
 * `into` becomes, field by field, the larger of itself and `from`: one client's newer report, whose
 * counters are cumulative (so a field that went down keeps its old value).
 */
function mergeMax(into: ClientCounters, from: ClientCounters, maxOps: number, maxNodes: number): void {
  for (const [op, h] of Object.entries(capped(into.ops, from.ops, maxOps, emptyHistogram, addHistogram))) {
    const mine = (into.ops[op] ??= emptyHistogram())
    for (let i = 0; i < mine.counts.length; i++) mine.counts[i] = Math.max(mine.counts[i]!, h.counts[i]!)
    mine.sum = Math.max(mine.sum, h.sum)
    // A histogram's count is every observation, so at least its buckets' sum: buckets taken each at
    // its own highest (a client whose reports disagree) must not add up to more than the count
    // (/metrics would show a bucket above +Inf).
    mine.count = Math.max(mine.count, h.count, mine.counts.reduce((a, b) => a + b, 0))
  }
  for (const [nodeId, io] of Object.entries(capped(into.nodes, from.nodes, maxNodes, emptyNodeIo, addNodeIo))) {
    const mine = (into.nodes[nodeId] ??= emptyNodeIo())
    mine.readBytes = Math.max(mine.readBytes, io.readBytes)
    mine.writeBytes = Math.max(mine.writeBytes, io.writeBytes)
    mine.reads = Math.max(mine.reads, io.reads)
    mine.writes = Math.max(mine.writes, io.writes)
  }
  into.failovers = Math.max(into.failovers, from.failovers)
}

/** `into` += `from` (a client that left, into the departed total). */
function mergeAdd(into: ClientCounters, from: ClientCounters, maxOps: number, maxNodes: number): void {
  for (const [op, h] of Object.entries(capped(into.ops, from.ops, maxOps, emptyHistogram, addHistogram))) addHistogram((into.ops[op] ??= emptyHistogram()), h)
  for (const [nodeId, io] of Object.entries(capped(into.nodes, from.nodes, maxNodes, emptyNodeIo, addNodeIo))) addNodeIo((into.nodes[nodeId] ??= emptyNodeIo()), io)
  into.failovers += from.failovers
}

function addHistogram(into: OpHistogram, h: OpHistogram): void {
  for (let i = 0; i < into.counts.length; i++) into.counts[i]! += h.counts[i] ?? 0
  into.sum += h.sum
  into.count += h.count
}

function copyCounters(c: ClientCounters): ClientCounters {
  const out = emptyCounters()
  mergeAdd(out, c, Infinity, Infinity)
  return out
}
