// What a client (a mount) tells its NameNode about itself, for the dashboard's Clients panel and
// /metrics: who it is, and its counters since it started. Cumulative, so a lost or repeated report
// loses nothing: the NameNode keeps the latest and takes rates from the difference of two.
// The embedded mount reports the same way through its in-process session.

/** A mount looks this often whether its counters moved, and reports when they did (client/clientReporter.ts). */
export const REPORT_EVERY_MS = 2_000
/** The longest a mount goes between two reports, moved or not: older, the NameNode's rates for it are stale. */
export const REPORT_QUIET_MS = 10_000

/** Upper bounds (seconds) of the FUSE op latency histogram buckets; a last bucket takes the rest (+Inf). */
export const LATENCY_BOUNDS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]

/** One op's latencies: counts[i] for (bounds[i-1], bounds[i]], the last for above every bound. */
export interface OpHistogram {
  counts: number[]
  sum: number
  count: number
}

/** An op's histogram before its first observation. */
export function emptyHistogram(): OpHistogram {
  return { counts: new Array<number>(LATENCY_BOUNDS_SECONDS.length + 1).fill(0), sum: 0, count: 0 }
}

/** Count one latency into its bucket: the first whose bound is at or above it (Prometheus's `le`). */
export function observe(h: OpHistogram, seconds: number): void {
  let i = 0
  while (i < LATENCY_BOUNDS_SECONDS.length && seconds > LATENCY_BOUNDS_SECONDS[i]!) i++
  h.counts[i]! += 1
  h.sum += seconds
  h.count += 1
}

/** Chunk I/O between one client and one DataNode. */
export interface NodeIo {
  readBytes: number
  writeBytes: number
  reads: number
  writes: number
}

export const emptyNodeIo = (): NodeIo => ({ readBytes: 0, writeBytes: 0, reads: 0, writes: 0 })

/** `into` += `io`. */
/**
 * An empty table of I/O by node id, without a prototype: node ids come from clients, and "__proto__"
 * (an own key in JSON) must be a node here, not the table's prototype (Object.prototype, which the
 * sums would then write to, in the whole NameNode process).
 */
export const ioByNode = (): Record<string, NodeIo> => Object.create(null)

export function addNodeIo(into: NodeIo, io: NodeIo): void {
  into.readBytes += io.readBytes
  into.writeBytes += io.writeBytes
  into.reads += io.reads
  into.writes += io.writes
}

/** Since the mount started. */
export interface ClientCounters {
  /** By FUSE op name (read, write, getattr, …). */
  ops: Record<string, OpHistogram>
  /** By DataNode id. */
  nodes: Record<string, NodeIo>
  /** Chunk reads that had to go to another copy. */
  failovers: number
}

export interface ClientAbout {
  host: string
  mountpoint: string
  pid: number
  /** ms since the epoch. */
  startedAt: number
}

/** A client as `dfs status`, the dashboard and /metrics show it. */
export interface ClientSummary extends ClientAbout {
  id: string
  /** In this process (the embedded mount): its node I/O is the NameNode's own chunk store's. */
  inProcess: boolean
  connected: boolean
  connectedAt: number
  counters: ClientCounters
  /** Over the last reports. */
  opsPerSec: number
  readBytesPerSec: number
  writeBytesPerSec: number
}
