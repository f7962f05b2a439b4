// The healer: keeps R good copies of every chunk while the daemon runs.
//
// Finding work. One detector, fed by hints: a scan walks the namespace (in slices, see chunkWalk.ts)
// and counts each chunk's good copies: copies on the nodes its ref lists that are alive, suspect, or
// dead for less than graceMs, minus copies known to be bad. Scans run periodically, soon after a node
// has been dead for graceMs, after a read or the scrubber found a bad copy (reportBadCopy), after a
// read or the orphan collector found a copy where the map does not say (reportExtraCopy), after a
// write got fewer than R copies (the chunk store's onUnderReplicated), when a node has room or is back
// in the write pool while chunks wait for one, and after a node that was dead reported what it holds
// (the registry's 'report' event).
//
// Doing it. A queue served fewest good copies first; `concurrency` workers; one chunk in one worker
// at a time. Per chunk: confirm reported-bad copies with a read of our own (a transient error must
// never cost a good copy); copy from a verified copy to writable nodes that lack it until R hold it,
// within the bandwidth limit (replicate.ts); trim copies beyond R from the most-used nodes; commit
// the new node list ('replicas' record) only if the file still points at this chunk; delete what
// was dropped only after that record is durable. If the file moved on meanwhile (the chunk was
// overwritten or the file deleted), nothing is recorded and copies just made are deleted again.
//
// Orphans (chunk files no file references) are the OrphanCollector's (OrphanCollector.ts), which the
// healer runs alongside and which tells it of extra copies it finds.
//
// Nothing here may take the daemon down: every error is logged and counted, and the work retried by
// a later scan.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import type { ChunkStore } from '../../chunks/ChunkStore.js'
import { asNodeError } from '../../chunks/nodeError.js'
import type { NodeHealth, NodeHealthChange, NodeRegistry, NodeReport } from '../../chunks/NodeRegistry.js'
import { verifyChunk } from '../../chunks/verify.js'
import type { DfsError } from '../../errors.js'
import { isDfsError } from '../../errors.js'
import { ChunkLocks } from '../chunkLocks.js'
import type { NamespaceMetaStore } from '../openCluster.js'
import { chunkReplication, copyStateOf } from '../replication.js'
import { type RestoreResult, dropCopies, planTrim, restoreCopies } from '../replicate.js'
import { chunkBatches } from './chunkWalk.js'
import { DEFAULT_ORPHAN_OPTIONS, OrphanCollector } from './OrphanCollector.js'
import { RateMeter } from './RateMeter.js'
import { type RepairItem, RepairQueue } from './RepairQueue.js'
import { TokenBucket } from './TokenBucket.js'
import { type Log, levelled } from '../../log/Log.js'
import { HealPass } from './HealPass.js'
import type { OrphanHold } from '../../meta/orphanHold.js'

export interface HealerOptions {
  /** A node dead this long has its chunks re-replicated (ms). Default 10 s. */
  graceMs?: number
  /** Bytes per second the healer may copy (0 = no limit). Default 256 MiB/s. */
  bandwidthBytesPerSec?: number
  /** Chunks repaired at once. Default 4 (copies to TCP nodes overlap their round trips). */
  concurrency?: number
  /** A full scan of the namespace this often (ms). Default 60 s. */
  scanIntervalMs?: number
  /** An unreferenced chunk file is deleted no sooner than this after it was first seen (ms). Default 30 s. */
  orphanGraceMs?: number
  /** Every node is listed for orphans this often (ms). Default 10 min. */
  orphanIntervalMs?: number
  /** Hints (a bad copy, a report) arriving together are served by one scan this long after the first (ms). Default 200. */
  hintDelayMs?: number
}

export const DEFAULT_HEALER_OPTIONS: Required<HealerOptions> = {
  graceMs: 10_000,
  bandwidthBytesPerSec: 256 * 1024 * 1024,
  concurrency: 4,
  scanIntervalMs: 60_000,
  orphanGraceMs: DEFAULT_ORPHAN_OPTIONS.graceMs,
  orphanIntervalMs: DEFAULT_ORPHAN_OPTIONS.intervalMs,
  hintDelayMs: 200,
}

/** What the healer needs of the metadata store. */
export type HealerMeta = Pick<NamespaceMetaStore, 'state' | 'commit' | 'sync'>
/** What the healer needs of the chunk store: its repair hooks and which chunks are being written. */
export type HealerChunks = Pick<ChunkStore, 'onBadReplica' | 'onReplicaFound' | 'onUnderReplicated' | 'isWriting'>
/** What the healer needs of the node registry. */
export type HealerRegistry = Pick<NodeRegistry, 'get' | 'ids' | 'health' | 'status' | 'writable' | 'markSuspect' | 'markFull' | 'on' | 'off'>

export interface HealerDeps {
  meta: HealerMeta
  chunks: HealerChunks
  registry: HealerRegistry
  /** The metadata folder's orphan hold (meta/orphanHold.ts), consulted before any orphan is deleted. */
  orphanHold?: () => Promise<OrphanHold | undefined>
  /** Copies to keep of each chunk (R). */
  replicas: number
  log: (message: string) => void
  options?: HealerOptions
  /** Per-chunk locks shared with whatever else rewrites replica lists (the rebalancer); default: the healer's own. */
  locks?: ChunkLocks
  /** The copy bandwidth shared with the rebalancer; default: the healer's own, of options.bandwidthBytesPerSec. */
  bandwidth?: TokenBucket
}

/** For `dfs status`. */
export interface HealerStatus {
  state: 'idle' | 'healing'
  /** Chunks waiting for a worker. */
  queued: number
  /**
   * Chunks with 1 .. R-1 live copies, and with none (as of the last scan, updated by each repair
   * since): the definitions `dfs status` counts by (../replication.ts).
   */
  underReplicated: number
  unavailable: number
  /** Of those, chunks the healer leaves alone for now: their missing copies are on nodes suspect or dead for less than graceMs. */
  waitingForGrace: number
  /** Chunks with more than R copies (likewise). */
  overReplicated: number
  /** Copies made, and their bytes. */
  copiedChunks: number
  copiedBytes: number
  /** Copies deleted beyond R, corrupt copies deleted, orphans deleted. */
  trimmedCopies: number
  corruptRemoved: number
  orphansRemoved: number
  /** Unreferenced chunk files waiting out orphanGraceMs (or still being written). */
  orphansPending: number
  /** Unreferenced chunk files due for deletion but kept: a metadata repair holds them (meta/orphanHold.ts). */
  orphansHeld: number
  orphanHold?: OrphanHold
  /** Chunks no intact copy of could be found anywhere. */
  lost: number
  /** Repairs that failed (each is retried by a later scan). */
  failed: number
  scans: number
  /** When the last full scan finished (ms since epoch); undefined before the first. */
  lastScanAt?: number
  /** Copy speed over the last 5 s. */
  bytesPerSec: number
  bandwidthBytesPerSec: number
  graceMs: number
  currentlyRepairing?: { chunk: string; ino: number; index: number; goodCopies: number }
}

type CopyCheck = 'good' | 'missing' | 'corrupt' | 'unreachable'

interface PendingReport {
  nodeId: string
  ids: Set<string>
}

/** A node back from the dead without a report this recent gets listed by the healer itself. */
const REPORT_FRESH_MS = 2_000

export class Healer {
  /** Held by the healer while it repairs a chunk; a chunk held by someone else is skipped until free. */
  readonly locks: ChunkLocks
  /** Deletes chunk files no file references. */
  readonly orphans: OrphanCollector
  readonly #meta: HealerMeta
  readonly #chunks: HealerChunks
  readonly #registry: HealerRegistry
  readonly #replicas: number
  readonly #log: Log
  /** The pass under way: work queued until the workers are idle again (one summary line each). */
  #pass: HealPass | undefined
  readonly #options: Required<HealerOptions>
  readonly #bucket: TokenBucket
  readonly #rate = new RateMeter()
  readonly #queue = new RepairQueue()
  readonly #active = new Map<string, RepairItem>()
  readonly #workers = new Set<Promise<void>>()
  /** Copies found missing or corrupt on nodes the ref lists, by chunk id: node -> when reported. */
  readonly #bad = new Map<string, Map<string, number>>()
  /** Copies found on nodes the ref does not list, by chunk id: node -> when found. */
  readonly #extra = new Map<string, Map<string, number>>()
  readonly #reports: PendingReport[] = []
  readonly #lastReportAt = new Map<string, number>()
  #under = new Set<string>()
  #unavailable = new Set<string>()
  #waiting = new Set<string>()
  #over = new Set<string>()
  readonly #lost = new Set<string>()
  readonly #counts = { copiedChunks: 0, copiedBytes: 0, trimmedCopies: 0, corruptRemoved: 0, failed: 0, scans: 0 }
  #lastScanAt: number | undefined
  /** How long the last scan took (ms). */
  #lastScanMs = 0

  #started = false
  #stopped = false
  readonly #abort = new AbortController()
  readonly #graceTimers = new Map<string, NodeJS.Timeout>()
  #periodic: NodeJS.Timeout | undefined
  #hintTimer: NodeJS.Timeout | undefined
  #scanning: Promise<void> | undefined
  #scanAgain = false
  #previousBadReplica: HealerChunks['onBadReplica']
  #previousReplicaFound: HealerChunks['onReplicaFound']
  #previousUnderReplicated: HealerChunks['onUnderReplicated']

  constructor(deps: HealerDeps) {
    this.#meta = deps.meta
    this.#chunks = deps.chunks
    this.#registry = deps.registry
    this.#replicas = deps.replicas
    this.#log = levelled(deps.log)
    this.locks = deps.locks ?? new ChunkLocks()
    const given = Object.fromEntries(Object.entries(deps.options ?? {}).filter(([, v]) => v !== undefined))
    this.#options = { ...DEFAULT_HEALER_OPTIONS, ...given }
    this.#options.concurrency = Math.max(1, Math.floor(this.#options.concurrency))
    this.#bucket = deps.bandwidth ?? new TokenBucket(this.#options.bandwidthBytesPerSec)
    this.orphans = new OrphanCollector({
      meta: this.#meta,
      chunks: this.#chunks,
      registry: this.#registry,
      log: this.#log,
      onExtraCopy: (ref, nodeId) => this.reportExtraCopy(ref, nodeId),
      ...(deps.orphanHold ? { hold: deps.orphanHold } : {}),
      options: { graceMs: this.#options.orphanGraceMs, intervalMs: this.#options.orphanIntervalMs, hintDelayMs: this.#options.hintDelayMs },
    })
  }

  /** Attach to the chunk store's hooks and the registry's events, and scan once now. */
  start(): void {
    if (this.#started) return
    this.#started = true
    this.#previousBadReplica = this.#chunks.onBadReplica
    this.#previousReplicaFound = this.#chunks.onReplicaFound
    this.#chunks.onBadReplica = this.#onBadReplica
    this.#chunks.onReplicaFound = this.#onReplicaFound
    this.#previousUnderReplicated = this.#chunks.onUnderReplicated
    this.#chunks.onUnderReplicated = this.#onUnderReplicated
    this.#registry.on('change', this.#onChange)
    this.#registry.on('full', this.#onFull)
    this.#registry.on('report', this.#onReport)
    this.#periodic = setInterval(() => this.#requestScan(0), this.#options.scanIntervalMs)
    this.#periodic.unref()
    for (const nodeId of this.#registry.ids()) {
      const status = this.#registry.status(nodeId)
      if (status?.health === 'dead') this.#armGraceTimer(nodeId, status.since)
    }
    this.#requestScan(0)
    this.orphans.start()
  }

  /** Stop taking work, detach, and wait for the scan and the copies under way to finish. */
  async stop(): Promise<void> {
    if (!this.#started || this.#stopped) return
    this.#stopped = true
    this.#abort.abort()
    clearInterval(this.#periodic)
    clearTimeout(this.#hintTimer)
    for (const timer of this.#graceTimers.values()) clearTimeout(timer)
    if (this.#chunks.onBadReplica === this.#onBadReplica) this.#chunks.onBadReplica = this.#previousBadReplica
    if (this.#chunks.onReplicaFound === this.#onReplicaFound) this.#chunks.onReplicaFound = this.#previousReplicaFound
    if (this.#chunks.onUnderReplicated === this.#onUnderReplicated) this.#chunks.onUnderReplicated = this.#previousUnderReplicated
    this.#registry.off('change', this.#onChange)
    this.#registry.off('full', this.#onFull)
    this.#registry.off('report', this.#onReport)
    await this.#scanning
    await Promise.allSettled([...this.#workers])
    await this.orphans.stop()
  }

  status(): HealerStatus {
    const first = this.#active.values().next()
    const busy = this.#active.size > 0 || this.#queue.size > 0
    const orphans = this.orphans.status()
    return {
      state: busy ? 'healing' : 'idle',
      queued: this.#queue.size,
      underReplicated: this.#under.size,
      unavailable: this.#unavailable.size,
      waitingForGrace: this.#waiting.size,
      overReplicated: this.#over.size,
      ...this.#counts,
      failed: this.#counts.failed + orphans.orphanFailures,
      orphansRemoved: orphans.orphansRemoved,
      orphansPending: orphans.orphansPending,
      orphansHeld: orphans.orphansHeld,
      ...(orphans.orphanHold ? { orphanHold: orphans.orphanHold } : {}),
      lost: this.#lost.size,
      ...(this.#lastScanAt !== undefined ? { lastScanAt: this.#lastScanAt } : {}),
      bytesPerSec: this.#rate.perSecond(),
      bandwidthBytesPerSec: this.#bucket.unlimited ? 0 : this.#bucket.bytesPerSec,
      graceMs: this.#options.graceMs,
      ...(first.done
        ? {}
        : { currentlyRepairing: { chunk: first.value.id, ino: first.value.ino, index: first.value.index, goodCopies: first.value.good } }),
    }
  }

  /**
   * A copy on a node the ref lists is missing or corrupt (a read failed over, the scrubber found it).
   * Other failures (a node not answering) are the liveness monitor's business and are ignored here.
   */
  reportBadCopy(ref: Pick<ChunkRef, 'id'>, nodeId: string, reason: Pick<DfsError, 'code'>): void {
    if (this.#stopped || (reason.code !== 'CHUNK_MISSING' && reason.code !== 'CHUNK_CORRUPT')) return
    note(this.#bad, ref.id, nodeId)
    this.#requestScan()
  }

  /** Whether a copy was reported missing or corrupt and not repaired yet (such a copy does not count). */
  readonly isBadCopy = (nodeId: string, chunkId: string): boolean => this.#bad.get(chunkId)?.has(nodeId) === true

  /** Whether a copy is known not to be intact: reported bad, or its chunk has no intact copy anywhere (lost). For dfs status. */
  readonly isKnownBad = (nodeId: string, chunkId: string): boolean => this.#lost.has(chunkId) || this.isBadCopy(nodeId, chunkId)

  /** An intact copy was found on a node the ref does not list. */
  reportExtraCopy(ref: Pick<ChunkRef, 'id'>, nodeId: string): void {
    if (this.#stopped) return
    note(this.#extra, ref.id, nodeId)
    this.#requestScan()
  }

  /** Scan now (or as soon as the scan under way ends) and resolve when the queue it fills is worked off. For tests and `dfs` tools. */
  async settle(): Promise<void> {
    await this.orphans.sweep()
    await this.#scanNow()
    while (this.#workers.size > 0 || this.#scanning) {
      await Promise.allSettled([...this.#workers, this.#scanning])
    }
  }

  // ---- hints ---------------------------------------------------------------------------------------

  // Ours first: a hook that was there before us and throws must not cost the repair.
  readonly #onBadReplica = (ref: ChunkRef, nodeId: string, reason: DfsError): void => {
    this.reportBadCopy(ref, nodeId, reason)
    this.#previousBadReplica?.(ref, nodeId, reason)
  }

  readonly #onReplicaFound = (ref: ChunkRef, nodeId: string): void => {
    this.reportExtraCopy(ref, nodeId)
    this.#previousReplicaFound?.(ref, nodeId)
  }

  // A write got fewer than R copies (every other node full or down): its repair is queued now, not at
  // the next periodic scan, and the scan counts it under-replicated. The file records the chunk in the
  // turn its write returns, before the scan's walk begins.
  readonly #onUnderReplicated = (ref: ChunkRef): void => {
    this.#requestScan()
    this.#previousUnderReplicated?.(ref)
  }

  // A node has room again: chunks waiting for a writable node can be copied now.
  readonly #onFull = (event: { nodeId: string; full: boolean }): void => {
    if (!event.full && this.#under.size > 0) this.#requestScan()
  }

  readonly #onChange = (change: NodeHealthChange): void => {
    if (this.#stopped) return
    if (change.to === 'dead') {
      this.#armGraceTimer(change.nodeId, change.at)
      return
    }
    // A node back in the write pool: chunks waiting for a writable node can be copied now.
    if (change.to === 'alive' && this.#under.size > 0) this.#requestScan()
    if (change.from !== 'dead') {
      this.#requestScan() // suspect and back: the counts in status() follow
      return
    }
    clearTimeout(this.#graceTimers.get(change.nodeId))
    this.#graceTimers.delete(change.nodeId)
    // Back without a report (no heartbeat monitor re-admitted it): find out what it holds ourselves.
    const reportedAt = this.#lastReportAt.get(change.nodeId) ?? 0
    if (Date.now() - reportedAt > REPORT_FRESH_MS) {
      const node = this.#registry.get(change.nodeId)
      node?.list().then(
        (ids) => this.#onReport({ nodeId: change.nodeId, ids }),
        (err) => this.#log.warn(`healer: listing node ${node.address} after it came back failed: ${(err as Error).message}`),
      )
    }
  }

  readonly #onReport = (report: NodeReport): void => {
    if (this.#stopped) return
    const now = Date.now()
    this.#lastReportAt.set(report.nodeId, now)
    this.#reports.push({ nodeId: report.nodeId, ids: new Set(report.ids) })
    this.#requestScan()
    this.orphans.requestSweep() // what it holds that nothing references
  }

  #armGraceTimer(nodeId: string, deadSince: number): void {
    clearTimeout(this.#graceTimers.get(nodeId))
    const wait = Math.max(0, deadSince + this.#options.graceMs - Date.now()) + 10
    const timer = setTimeout(() => {
      this.#graceTimers.delete(nodeId)
      if (this.#registry.health(nodeId) === 'dead') {
        this.#log(`healer: node ${this.#registry.get(nodeId)?.address ?? nodeId} has been dead for ${this.#options.graceMs} ms; re-replicating its chunks`)
        this.#requestScan(0)
      }
    }, wait)
    timer.unref()
    this.#graceTimers.set(nodeId, timer)
  }

  // ---- scanning ------------------------------------------------------------------------------------

  /**
   * A scan soon: hints arriving together share one. Under a storm of hints, scans are spaced at
   * least four times their own length apart, so scanning never takes more than a fifth of the time.
   */
  #requestScan(delayMs = Math.max(this.#options.hintDelayMs, 4 * this.#lastScanMs)): void {
    if (this.#stopped || !this.#started) return
    if (this.#hintTimer !== undefined) {
      if (delayMs > 0) return
      clearTimeout(this.#hintTimer)
    }
    this.#hintTimer = setTimeout(() => {
      this.#hintTimer = undefined
      void this.#scanNow()
    }, delayMs)
    this.#hintTimer.unref()
  }

  /** Start a scan, or have one follow the scan under way. Resolves when the scan that covers this call is done. */
  async #scanNow(): Promise<void> {
    if (this.#stopped) return
    if (this.#scanning) {
      this.#scanAgain = true
      await this.#scanning
      // The scan under way started the one that covers this call as it ended.
      await (this.#scanning as Promise<void> | undefined)
      return
    }
    const run = this.#scan()
      .catch((err) => {
        this.#counts.failed++
        this.#log.error(`healer: scan failed: ${(err as Error).message}`)
      })
      .finally(() => {
        this.#scanning = undefined
        if (this.#scanAgain && !this.#stopped) {
          this.#scanAgain = false
          void this.#scanNow()
        }
      })
    this.#scanning = run
    await run
  }

  async #scan(): Promise<void> {
    // A turn of the event loop first: a write whose chunks were stored just now has been committed
    // by then (the file system records a chunk in the same turn its write resolves).
    await new Promise<void>((resolve) => setImmediate(resolve))
    const startedAt = Date.now()
    const reports = this.#reports.splice(0)
    const replicas = this.#replicas
    const found: RepairItem[] = []
    const short = new Set<string>() // fewer than R good copies: the healer's own test
    const under = new Set<string>()
    const unavailable = new Set<string>()
    const waiting = new Set<string>()
    const over = new Set<string>()

    for await (const batch of chunkBatches(this.#meta.state)) {
      if (this.#stopped) return
      const copyState = copyStateOf(this.#registry, this.#options.graceMs, Date.now(), this.isBadCopy)
      for (const { ino, index, ref } of batch) {
        const id = ref.id
        for (const report of reports) {
          if (report.ids.has(id)) {
            if (!ref.nodes.includes(report.nodeId)) note(this.#extra, id, report.nodeId)
          } else if (ref.nodes.includes(report.nodeId)) {
            // Listed there, but the node did not report it. Confirmed by a read before anything changes.
            note(this.#bad, id, report.nodeId)
          }
        }
        const bad = this.#bad.get(id)
        const r = chunkReplication(ref, replicas, copyState)
        // Good copies: live ones and those that may come back within the grace period.
        const good = r.live + r.waiting
        if (this.#lost.has(id)) unavailable.add(id) // no intact copy anywhere, as far as we know
        else if (r.replication === 'underReplicated') under.add(id)
        else if (r.replication === 'unavailable') unavailable.add(id)
        if (r.waitingForGrace && !this.#lost.has(id)) waiting.add(id)
        const extras = this.#extra.get(id)?.size ?? 0
        if (good < replicas) short.add(id)
        if (good + extras > replicas) over.add(id)
        if (good !== replicas || bad || extras > 0) found.push({ id, ino, index, good })
      }
    }
    if (this.#stopped) return

    // Hints about chunks the walk did not find referenced are stale (the file moved on).
    const foundIds = new Set(found.map((f) => f.id))
    for (const hints of [this.#bad, this.#extra]) {
      for (const [id, nodes] of hints) {
        if (foundIds.has(id) || this.#active.has(id)) continue
        if ([...nodes.values()].every((at) => at < startedAt)) hints.delete(id)
      }
    }
    this.#under = under
    this.#unavailable = unavailable
    this.#waiting = waiting
    this.#over = over
    for (const id of this.#lost) if (!short.has(id)) this.#lost.delete(id) // found a copy after all, or no longer referenced
    for (const item of found) if (!this.#active.has(item.id)) this.#queue.add(item)
    this.#lastScanAt = Date.now()
    this.#lastScanMs = this.#lastScanAt - startedAt
    this.#counts.scans++
    this.#pump()
  }

  /** After a repair: where the chunk stands now, for status(). */
  #recount(item: RepairItem): void {
    for (const set of [this.#under, this.#unavailable, this.#waiting]) set.delete(item.id)
    const ref = this.#current(item)
    if (!ref) return
    const r = chunkReplication(ref, this.#replicas, copyStateOf(this.#registry, this.#options.graceMs, Date.now(), this.isKnownBad))
    if (r.replication === 'underReplicated') this.#under.add(item.id)
    else if (r.replication === 'unavailable') this.#unavailable.add(item.id)
    if (r.waitingForGrace) this.#waiting.add(item.id)
  }

  /** Node ids whose copies count as good: registered and alive, suspect, or dead for less than graceMs. */
  #usableNodes(): Set<string> {
    const copyState = copyStateOf(this.#registry, this.#options.graceMs)
    return new Set(this.#registry.ids().filter((nodeId) => copyState(nodeId, '') !== 'gone'))
  }

  // ---- repairing -----------------------------------------------------------------------------------

  #pump(): void {
    while (!this.#stopped && this.#workers.size < this.#options.concurrency && this.#queue.size > 0) {
      this.#pass ??= new HealPass(this.#counts)
      const worker = this.#work().finally(() => {
        this.#workers.delete(worker)
        if (this.#workers.size === 0) this.#endPass()
      })
      this.#workers.add(worker)
    }
  }

  #endPass(): void {
    const summary = this.#pass?.summary(this.#counts)
    this.#pass = undefined
    if (summary) this.#log[summary.level](summary.message, summary.context)
  }

  async #work(): Promise<void> {
    for (let item = this.#queue.shift(); item && !this.#stopped; item = this.#queue.shift()) {
      if (this.#active.has(item.id)) continue
      const release = this.locks.tryAcquire(item.id)
      if (!release) {
        // Being moved (rebalance, drain): look at it again once that is done.
        void this.locks.whenFree(item.id).then(() => this.#requestScan())
        continue
      }
      this.#active.set(item.id, item)
      const startedAt = Date.now()
      try {
        await this.#repair(item)
      } catch (err) {
        this.#counts.failed++
        const message = `repair of chunk ${item.id} (inode ${item.ino}, chunk ${item.index}) failed: ${(err as Error).message}`
        this.#pass?.failure(message)
        this.#log.debug(`healer: ${message}`)
      } finally {
        this.#active.delete(item.id)
        release()
      }
      // News about this chunk that arrived while it was being repaired: look again.
      const fresh = (hints: Map<string, Map<string, number>>) => [...(hints.get(item.id)?.values() ?? [])].some((at) => at >= startedAt)
      if (fresh(this.#bad) || fresh(this.#extra)) this.#requestScan()
    }
  }

  /** The chunk's ref if the file still points at it there. */
  #current(item: RepairItem): ChunkRef | undefined {
    const ref = this.#meta.state.inodes.get(item.ino)?.chunks?.[item.index]
    return ref && ref.id === item.id ? ref : undefined
  }

  async #repair(item: RepairItem): Promise<void> {
    const ref = this.#current(item)
    if (!ref) return this.#movedOn(item, [])
    const { id } = ref
    const replicas = this.#replicas
    const bad = take(this.#bad, id)
    const extras = take(this.#extra, id)
    const usable = this.#usableNodes()
    const listed = [...new Set(ref.nodes)]

    let trusted: string[] = [] // copies believed good (listed and not reported, or checked)
    const uncertain: string[] = [] // listed, reported bad, but could not be checked: stay listed
    const gone: string[] = [] // listed on nodes dead past the grace period (or no longer registered)
    const broken = new Map<string, 'missing' | 'corrupt'>()
    for (const nodeId of listed) {
      if (!usable.has(nodeId)) gone.push(nodeId)
      else if (!bad.has(nodeId)) trusted.push(nodeId)
      else this.#sortCheck(nodeId, await this.#checkCopy(nodeId, ref), trusted, uncertain, broken)
    }
    for (const nodeId of extras.keys()) {
      if (listed.includes(nodeId) || !usable.has(nodeId)) continue
      const check = await this.#checkCopy(nodeId, ref)
      if (check === 'good') trusted.push(nodeId)
      else if (check === 'corrupt') broken.set(nodeId, 'corrupt')
    }

    let added: string[] = []
    if (trusted.length < replicas) {
      const restored = await this.#restore(item, ref, trusted, uncertain)
      if (!restored) return
      for (const { nodeId, error } of restored.badSources) {
        if (!trusted.includes(nodeId)) continue
        if (error.code === 'CHUNK_MISSING') broken.set(nodeId, 'missing')
        else if (error.code === 'CHUNK_CORRUPT') broken.set(nodeId, 'corrupt')
        else uncertain.push(nodeId)
      }
      for (const { nodeId, error } of restored.failedTargets) {
        const message = `copying chunk ${id} to node ${this.#registry.get(nodeId)?.address ?? nodeId} failed: ${error.message}`
        if (this.#pass) this.#pass.failedCopies++
        this.#pass?.failure(message)
        this.#log.debug(`healer: ${message}`)
        // Tell the registry what we saw, as the chunk store does for its own writes.
        if (error.code === 'NODE_FULL') this.#registry.markFull(nodeId, error.message)
        else if (error.code === 'NODE_UNAVAILABLE') this.#registry.markSuspect(nodeId, error.message)
      }
      trusted = restored.holders
      added = restored.added
      for (const nodeId of added) broken.delete(nodeId) // a fresh copy replaced a bad one
    }

    let drop: string[] = []
    // Trim only among alive nodes: a suspect node's copy may be the one that matters in a minute.
    if (trusted.length > replicas && trusted.every((n) => this.#registry.health(n) === 'alive')) {
      const used = await this.#usedBytes(trusted)
      const plan = planTrim(id, trusted, replicas, (nodeId) => used.get(nodeId) ?? 0)
      trusted = plan.keep
      drop = plan.drop
    }

    // The new list: good copies first, then copies we could not check; copies on dead nodes stay
    // listed until R good ones exist elsewhere (the node may come back with them).
    const next = [...trusted, ...uncertain.filter((n) => !trusted.includes(n))]
    if (trusted.length < replicas) next.push(...gone)
    const corrupt = [...broken].filter(([nodeId, why]) => why === 'corrupt' && !next.includes(nodeId)).map(([nodeId]) => nodeId)

    if (!sameList(next, ref.nodes)) {
      // No await between this check and the commit: the namespace cannot change in between.
      if (!this.#current(item)) return this.#movedOn(item, added)
      try {
        this.#meta.commit({ op: 'replicas', ino: item.ino, index: item.index, id, nodes: next })
      } catch (err) {
        if (isDfsError(err, 'EINVAL') || isDfsError(err, 'ENOENT')) return this.#movedOn(item, added)
        throw err
      }
    }
    if (added.length > 0) {
      if (this.#pass) this.#pass.restored++
      this.#log.debug(`healer: chunk ${id} (inode ${item.ino}, chunk ${item.index}) copied to ${added.map((n) => this.#registry.get(n)?.address ?? n).join(', ')}; ${trusted.length} of ${replicas} copies`)
    }

    const toDelete = [...drop, ...corrupt]
    if (toDelete.length > 0) {
      await this.#meta.sync() // the list without them is durable before any copy goes
      const listedNow = this.#current(item)?.nodes ?? []
      const { dropped, failed } = await dropCopies(this.#registry, id, toDelete.filter((n) => !listedNow.includes(n)))
      for (const nodeId of dropped) {
        if (corrupt.includes(nodeId)) this.#counts.corruptRemoved++
        else this.#counts.trimmedCopies++
      }
      if (dropped.length > 0) {
        const what = (n: string) => `${this.#registry.get(n)?.address ?? n}${corrupt.includes(n) ? ' (corrupt)' : ''}`
        this.#log.debug(`healer: chunk ${id} (inode ${item.ino}, chunk ${item.index}): removed the copies on ${dropped.map(what).join(', ')}; ${trusted.length} of ${replicas} copies`)
      }
      for (const f of failed) this.#log.warn(`healer: removing a copy of chunk ${id} from node ${f.nodeId} failed: ${f.error.message}`)
    }

    this.#recount(item)
    if (trusted.length >= replicas) {
      this.#lost.delete(id)
    } else if (trusted.length > 0) {
      if (this.#pass) this.#pass.short++
      this.#log.debug(`healer: chunk ${id} (inode ${item.ino}, chunk ${item.index}) has ${trusted.length} of ${replicas} copies: not enough writable nodes`)
    }
    if (trusted.length <= replicas) this.#over.delete(id)
  }

  /**
   * Copy ref to nodes without it. Undefined when the chunk was given up (the file moved on; no
   * intact copy anywhere).
   */
  async #restore(item: RepairItem, ref: ChunkRef, trusted: string[], uncertain: string[]): Promise<RestoreResult | undefined> {
    // Nodes that did not answer a check take no copy; ones whose copy is missing or corrupt may.
    const targets = this.#registry.writable().filter((n) => !uncertain.includes(n))
    // Not a byte read when no node could take a copy (say R = 2 with one node left).
    if (trusted.length > 0 && !targets.some((n) => !trusted.includes(n))) {
      return { holders: trusted, added: [], badSources: [], failedTargets: [], bytesCopied: 0 }
    }
    const byHealth = (ids: string[]) => [...ids].sort((a, b) => healthRank(this.#registry.health(a)) - healthRank(this.#registry.health(b)))
    try {
      return await restoreCopies(this.#registry, {
        ref,
        holders: byHealth(trusted),
        fallbackSources: byHealth(this.#registry.ids().filter((n) => !trusted.includes(n))),
        replicas: this.#replicas,
        targets,
        beforePut: (bytes) => this.#bucket.take(bytes, this.#abort.signal),
        onCopied: (_nodeId, bytes) => {
          this.#counts.copiedChunks++
          this.#counts.copiedBytes += bytes
          this.#rate.add(bytes)
        },
        shouldStop: () => this.#stopped,
      })
    } catch (err) {
      if (!this.#current(item)) {
        this.#movedOn(item, [])
        return undefined
      }
      if (isDfsError(err, 'CHUNK_UNREADABLE')) {
        this.#counts.failed++
        if (this.#pass && !this.#lost.has(ref.id)) this.#pass.lost++
        if (!this.#lost.has(ref.id)) this.#log.warn(`healer: chunk ${ref.id} (inode ${item.ino}, chunk ${item.index}) has no intact copy on any node: ${(err as Error).message}`)
        this.#lost.add(ref.id)
        this.#recount(item)
        return undefined
      }
      throw err
    }
  }

  /**
   * The file no longer points at this chunk (overwritten, truncated, deleted). Record nothing; delete
   * the copies this repair made unless something still references the chunk (the file system deletes
   * the others once the change that dropped it is durable).
   */
  async #movedOn(item: RepairItem, added: string[]): Promise<void> {
    for (const set of [this.#under, this.#unavailable, this.#waiting, this.#over]) set.delete(item.id)
    if (added.length === 0) return
    const inode = this.#meta.state.inodes.get(item.ino)
    if (inode?.chunks?.some((ref) => ref?.id === item.id)) return
    this.#log.debug(`healer: chunk ${item.id} was dropped by its file during its repair; nothing recorded, the ${added.length} new cop${added.length === 1 ? 'y' : 'ies'} removed`)
    const { failed } = await dropCopies(this.#registry, item.id, added)
    for (const f of failed) this.#log.warn(`healer: removing the copy of discarded chunk ${item.id} from node ${f.nodeId} failed: ${f.error.message}`)
  }

  #sortCheck(nodeId: string, check: CopyCheck, trusted: string[], uncertain: string[], broken: Map<string, 'missing' | 'corrupt'>): void {
    if (check === 'good') trusted.push(nodeId)
    else if (check === 'unreachable') uncertain.push(nodeId)
    else broken.set(nodeId, check)
  }

  /** Read a copy and verify it: the healer's own look at a copy someone reported bad. */
  async #checkCopy(nodeId: string, ref: ChunkRef): Promise<CopyCheck> {
    const node = this.#registry.get(nodeId)
    if (!node) return 'unreachable'
    try {
      await verifyChunk(ref, await node.get(ref.id), { node: node.address, nodeId })
      return 'good'
    } catch (err) {
      const error = asNodeError(err, node, nodeId, 'get')
      if (error.code === 'CHUNK_MISSING') return 'missing'
      if (error.code === 'CHUNK_CORRUPT') return 'corrupt'
      return 'unreachable'
    }
  }

  /** Stored bytes per node: from the heartbeat's last usage report, else asked now. */
  async #usedBytes(nodeIds: string[]): Promise<Map<string, number>> {
    const used = new Map<string, number>()
    await Promise.all(
      nodeIds.map(async (nodeId) => {
        const known = this.#registry.status(nodeId)?.usage?.used
        if (known !== undefined) return void used.set(nodeId, known)
        try {
          used.set(nodeId, (await this.#registry.get(nodeId)?.usage())?.used ?? 0)
        } catch {
          used.set(nodeId, 0)
        }
      }),
    )
    return used
  }
}

const HEALTH_RANK: Record<NodeHealth, number> = { alive: 0, suspect: 1, dead: 2 }
const healthRank = (health: NodeHealth | undefined) => (health ? HEALTH_RANK[health] : 3)

function note(hints: Map<string, Map<string, number>>, id: string, nodeId: string): void {
  let nodes = hints.get(id)
  if (!nodes) hints.set(id, (nodes = new Map()))
  nodes.set(nodeId, Date.now())
}

function take(hints: Map<string, Map<string, number>>, id: string): Map<string, number> {
  const nodes = hints.get(id) ?? new Map<string, number>()
  hints.delete(id)
  return nodes
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i])
}
