// The healer: keeps every chunk whole while the daemon runs: the copies a replicated chunk wants
// (ref.copies, else R), all k + m shards of an erasure-coded one. This class wires its parts:
//
//   HealTriggers.ts    what makes it look: the chunk store's hooks, node events, grace timers
//   RepairHints.ts     what it was told about copies (bad, extra, node reports) and not acted on yet
//   ScanScheduler.ts   when it scans: hints coalesced, scans spaced, one following another
//   scanChunks.ts      the scan: a walk counting each chunk's good copies, finding the work
//   RepairWorkers.ts   the queue (fewest good copies first), repairs at once (small and large), per-chunk locks, one log line a pass
//   ChunkRepair.ts     one chunk's repair: check, copy (copyToNewNodes.ts), trim, commit, delete
//   StripeRepair.ts    one erasure-coded chunk's: check shards, rebuild the lost ones elsewhere, commit, delete
//   HealerCounts.ts    the figures `dfs status` shows
//   OrphanCollector.ts chunk files no file references; it tells the healer of extra copies it finds
//
// Scans run periodically, soon after a node has been dead for graceMs, after a read or the scrubber
// found a bad copy (reportBadCopy), after a read or the orphan collector found a copy where the map
// does not say (reportExtraCopy), after a write got fewer than R copies, when a node has room or is
// back in the write pool while chunks wait for one, and after a node that was dead reported what it
// holds. Copies are made within the bandwidth budget shared with the rebalancer (TokenBucket.ts).
//
// Nothing here may take the daemon down: every error is logged and counted, and the work retried by
// a later scan.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import type { ChunkStore } from '../../chunks/ChunkStore.js'
import type { NodeRegistry, NodeReport } from '../../chunks/NodeRegistry.js'
import { checkOf, isBadCopy } from '../../chunks/checkCopy.js'
import type { DfsError } from '../../errors.js'
import { type Log, levelled } from '../../log/Log.js'
import type { OrphanHold } from '../../meta/orphanHold.js'
import { ChunkLocks } from '../chunkLocks.js'
import type { NamespaceMetaStore } from '../openCluster.js'
import { ChunkRepair } from './ChunkRepair.js'
import { type EmitEvent, EventBurst } from '../EventBurst.js'
import { HealTriggers } from './HealTriggers.js'
import { HealerCounts } from './HealerCounts.js'
import { DEFAULT_ORPHAN_OPTIONS, OrphanCollector } from './OrphanCollector.js'
import { RepairHints } from './RepairHints.js'
import { RepairWorkers } from './RepairWorkers.js'
import { ScanScheduler } from './ScanScheduler.js'
import { scanChunks } from './scanChunks.js'
import { concurrencyOf } from '../../util/concurrency.js'
import { TokenBucket } from './TokenBucket.js'

export interface HealerOptions {
  /** A node dead this long has its chunks re-replicated (ms). Default 10 s. */
  graceMs?: number
  /** Bytes per second the healer may copy (0 = no limit) when it is given no shared budget (deps.bandwidth). Default 256 MiB/s. */
  bandwidthBytesPerSec?: number
  /**
   * Chunks repaired at once, at most (RepairWorkers.ts). Default 16: copies to TCP nodes overlap
   * their round trips, and a stream of small chunks (each a read, a put and a sync, mostly waiting)
   * heals faster the more of them overlap (32 at once measured no faster than 16). A DataNode server
   * serves 32 requests at once per connection (DataNodeServer.ts), and the heartbeats, the
   * rebalancer (4), the policy converter (2), the scrubber and reads share that connection: 16 leaves
   * them room.
   */
  concurrency?: number
  /**
   * Of those, large chunks (RepairWorkers.ts LARGE_CHUNK_BYTES) at most. Default 8: each is its
   * bytes' time and holds its chunk in memory.
   */
  largeConcurrency?: number
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
  concurrency: 16,
  largeConcurrency: 8,
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
  /**
   * The NameNode's event feed: one event per pass for chunks healed, bad copies repaired and
   * chunks lost, and the bad copies reads found (a burst of them summed up, ../EventBurst.ts).
   */
  onEvent?: EmitEvent
}

/** For `dfs status`. */
export interface HealerStatus {
  state: 'idle' | 'healing'
  /** Chunks waiting for their repair to start. */
  queued: number
  /**
   * Chunks with 1 .. R-1 live copies (of the copies each wants), and with none; stripes with k ..
   * k+m-1 live shards, and with fewer than k (as of the last scan, updated by each repair since):
   * the definitions `dfs status` counts by (../replication.ts).
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
  /** Chunks that got at least one new copy, since start. */
  healedChunks: number
  /** Copies the healer's own read found missing or corrupt (reported by a read, the scrubber or a move), since start. */
  badCopiesFound: number
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

export class Healer {
  /** Held by the healer while it repairs a chunk; a chunk held by someone else is skipped until free. */
  readonly locks: ChunkLocks
  /** Deletes chunk files no file references. */
  readonly orphans: OrphanCollector
  readonly #meta: HealerMeta
  readonly #registry: HealerRegistry
  readonly #replicas: number
  readonly #log: Log
  readonly #options: Required<HealerOptions>
  readonly #bucket: TokenBucket
  readonly #hints = new RepairHints()
  readonly #counts = new HealerCounts()
  readonly #triggers: HealTriggers
  readonly #scans: ScanScheduler
  readonly #workers: RepairWorkers
  readonly #repair: ChunkRepair
  #started = false
  #stopped = false
  readonly #abort = new AbortController()
  #periodic: NodeJS.Timeout | undefined
  /** Bad copies reads found, for the event feed. */
  readonly #readFinds: EventBurst | undefined
  /** Told of each copy a repair verified (the one it read from, the ones it put): the scrubber's verified-at record. */
  onVerifiedCopy?: (chunkId: string, nodeId: string) => void

  constructor(deps: HealerDeps) {
    this.#meta = deps.meta
    this.#registry = deps.registry
    this.#replicas = deps.replicas
    this.#log = levelled(deps.log)
    this.locks = deps.locks ?? new ChunkLocks()
    const given = Object.fromEntries(Object.entries(deps.options ?? {}).filter(([, v]) => v !== undefined))
    this.#options = { ...DEFAULT_HEALER_OPTIONS, ...given }
    this.#options.concurrency = concurrencyOf(this.#options.concurrency, DEFAULT_HEALER_OPTIONS.concurrency)
    this.#options.largeConcurrency = concurrencyOf(this.#options.largeConcurrency, DEFAULT_HEALER_OPTIONS.largeConcurrency)
    this.#bucket = deps.bandwidth ?? new TokenBucket(this.#options.bandwidthBytesPerSec)
    const stopped = () => this.#stopped
    this.orphans = new OrphanCollector({
      meta: this.#meta,
      chunks: deps.chunks,
      registry: this.#registry,
      log: this.#log,
      onExtraCopy: (ref, nodeId) => this.reportExtraCopy(ref, nodeId),
      ...(deps.orphanHold ? { hold: deps.orphanHold } : {}),
      options: { graceMs: this.#options.orphanGraceMs, intervalMs: this.#options.orphanIntervalMs, hintDelayMs: this.#options.hintDelayMs },
    })
    this.#scans = new ScanScheduler(() => this.#scan(), {
      hintDelayMs: this.#options.hintDelayMs,
      onError: (err) => {
        this.#counts.totals.failed++
        this.#log.error(`healer: scan failed: ${(err as Error).message}`)
      },
    })
    this.#repair = new ChunkRepair({
      meta: this.#meta,
      registry: this.#registry,
      replicas: this.#replicas,
      graceMs: this.#options.graceMs,
      hints: this.#hints,
      counts: this.#counts,
      copy: { registry: this.#registry, replicas: this.#replicas, bandwidth: this.#bucket, signal: this.#abort.signal, counts: this.#counts, onVerifiedCopy: (id, node) => this.onVerifiedCopy?.(id, node) },
      log: this.#log,
      pass: () => this.#workers.pass,
    })
    this.#workers = new RepairWorkers({
      concurrency: this.#options.concurrency,
      largeConcurrency: this.#options.largeConcurrency,
      locks: this.locks,
      counts: this.#counts,
      hints: this.#hints,
      log: this.#log,
      repair: (item) => this.#repair.repair(item),
      rescan: () => this.#scans.request(),
      stopped,
      onEvent: deps.onEvent,
    })
    const onEvent = deps.onEvent
    this.#readFinds = onEvent && new EventBurst(onEvent, (count, windowMs) => ({
      kind: 'corruption', level: 'warn', count,
      message: `reads found ${count} more bad cop${count === 1 ? 'y' : 'ies'} in the last ${windowMs / 1000} s; the healer repairs them`,
    }))
    this.#triggers = new HealTriggers({
      chunks: deps.chunks,
      registry: this.#registry,
      graceMs: this.#options.graceMs,
      log: this.#log,
      onBadCopy: (ref, nodeId, reason) => {
        this.#readFound(ref, nodeId, reason)
        this.reportBadCopy(ref, nodeId, reason)
      },
      onExtraCopy: (ref, nodeId) => this.reportExtraCopy(ref, nodeId),
      onReport: (report) => this.#onReport(report),
      requestScan: (delayMs) => this.#scans.request(delayMs),
      waitingForNodes: () => this.#counts.under.size > 0,
    })
  }

  /** Attach to the chunk store's hooks and the registry's events, and scan once now. */
  start(): void {
    if (this.#started) return
    this.#started = true
    this.#scans.start()
    this.#triggers.attach()
    this.#periodic = setInterval(() => this.#scans.request(0), this.#options.scanIntervalMs)
    this.#periodic.unref()
    this.#scans.request(0)
    this.orphans.start()
  }

  /** Stop taking work, detach, and wait for the scan and the copies under way to finish. */
  async stop(): Promise<void> {
    if (!this.#started || this.#stopped) return
    this.#stopped = true
    this.#abort.abort()
    clearInterval(this.#periodic)
    this.#triggers.detach()
    await this.#scans.stop()
    await this.#workers.idle()
    await this.orphans.stop()
    this.#readFinds?.flush()
  }

  status(): HealerStatus {
    const counts = this.#counts
    const current = this.#workers.current()
    const orphans = this.orphans.status()
    return {
      state: this.#workers.busy ? 'healing' : 'idle',
      queued: this.#workers.queued,
      underReplicated: counts.under.size,
      unavailable: counts.unavailable.size,
      waitingForGrace: counts.waiting.size,
      overReplicated: counts.over.size,
      ...counts.totals,
      failed: counts.totals.failed + orphans.orphanFailures,
      orphansRemoved: orphans.orphansRemoved,
      orphansPending: orphans.orphansPending,
      orphansHeld: orphans.orphansHeld,
      ...(orphans.orphanHold ? { orphanHold: orphans.orphanHold } : {}),
      lost: counts.lost.size,
      ...(counts.lastScanAt !== undefined ? { lastScanAt: counts.lastScanAt } : {}),
      bytesPerSec: counts.rate.perSecond(),
      bandwidthBytesPerSec: this.#bucket.unlimited ? 0 : this.#bucket.bytesPerSec,
      graceMs: this.#options.graceMs,
      ...(current ? { currentlyRepairing: { chunk: current.id, ino: current.ino, index: current.index, goodCopies: current.good } } : {}),
    }
  }

  /**
   * A copy on a node the ref lists is missing or corrupt (a read failed over, the scrubber found it).
   * Other failures (a node not answering) are the liveness monitor's business and are ignored here.
   */
  reportBadCopy(ref: Pick<ChunkRef, 'id'>, nodeId: string, reason: Pick<DfsError, 'code'>): void {
    if (this.#stopped || !isBadCopy(reason)) return
    this.#hints.noteBad(ref.id, nodeId)
    this.#scans.request()
  }

  /** Whether a copy was reported missing or corrupt and not repaired yet (such a copy does not count). */
  readonly isBadCopy = (nodeId: string, chunkId: string): boolean => this.#hints.isBad(nodeId, chunkId)

  /** Whether a copy is known not to be intact: reported bad, or its chunk has no intact copy anywhere (lost). For dfs status. */
  readonly isKnownBad = this.#counts.knownBad(this.#hints.isBad)

  /** An intact copy was found on a node the ref does not list. */
  reportExtraCopy(ref: Pick<ChunkRef, 'id'>, nodeId: string): void {
    if (this.#stopped) return
    this.#hints.noteExtra(ref.id, nodeId)
    this.#scans.request()
  }

  /** Scan now (or as soon as the scan under way ends) and resolve when the queue it fills is worked off. For tests and `dfs` tools. */
  async settle(): Promise<void> {
    await this.orphans.sweep()
    await this.#scans.runNow()
    while (this.#workers.working || this.#scans.running) {
      await Promise.allSettled([this.#workers.idle(), this.#scans.running])
    }
  }

  /** A read (this process's or a client's) found a copy missing or corrupt: news for the event feed, once per copy until repaired. */
  #readFound(ref: Pick<ChunkRef, 'id'>, nodeId: string, reason: Pick<DfsError, 'code'>): void {
    if (!this.#readFinds || this.#stopped || !isBadCopy(reason) || this.#hints.isBad(nodeId, ref.id)) return
    const address = this.#registry.get(nodeId)?.address ?? nodeId
    this.#readFinds.add({
      kind: 'corruption', level: 'warn', nodeId, count: 1,
      message: `a read found the copy of chunk ${ref.id} on node ${address} ${checkOf(reason)}; the healer repairs it`,
    })
  }

  #onReport(report: NodeReport): void {
    if (this.#stopped) return
    this.#hints.addReport(report.nodeId, report.ids)
    this.#scans.request()
    this.orphans.requestSweep() // what it holds that nothing references
  }

  async #scan(): Promise<void> {
    // A turn of the event loop first: a write whose chunks were stored just now has been committed
    // by then (the file system records a chunk in the same turn its write resolves).
    await new Promise<void>((resolve) => setImmediate(resolve))
    const startedAt = Date.now()
    const result = await scanChunks({
      state: this.#meta.state,
      registry: this.#registry,
      replicas: this.#replicas,
      graceMs: this.#options.graceMs,
      hints: this.#hints,
      lost: this.#counts.lost,
      stopped: () => this.#stopped,
    })
    if (!result) return
    // Hints about chunks the walk did not find referenced are stale (the file moved on).
    const foundIds = new Set(result.found.map((f) => f.id))
    this.#hints.dropStale((id) => foundIds.has(id) || this.#workers.isActive(id), startedAt)
    this.#counts.scanned(result)
    this.#workers.add(result.found)
  }
}
