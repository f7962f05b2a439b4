// Orphan collection: chunk files on the nodes that no file references. They are left by a crash
// between a chunk's put and its journal record, by a write whose delete never reached a node (it was
// down), or by a put a stalled node completed after the write had moved on. The daemon deletes them
// itself, so `dfs fsck` is clean again without an offline --repair.
//
// A sweep walks the namespace (chunkWalk.ts) for every id a file references, open-but-unlinked files
// included, then lists every node that answers, one after another, and keeps the ids the walk did not
// see. Each listing is checked a page at a time as it comes (datanode/listPages.ts: LIST_PAGE ids, one
// turn of the event loop each, a few milliseconds) and let go: a node of a million-file namespace
// lists two thirds of a million ids, and holding every node's listing at once cost hundreds of MiB
// and seconds of the main thread at each mount. What is kept was unreferenced when the walk passed, which alone
// is not enough to delete, because a chunk is stored before it is referenced:
//  - An id the chunk store is still writing (ChunkStore.isWriting) when its node's listing is checked
//    is never a candidate; its clock starts only once a sweep sees it on a node *and* not being
//    written. From then on its write has returned, and the file records a chunk in the same turn its
//    write returns; so a later sweep whose walk starts graceMs after that still finding it
//    unreferenced proves it was never recorded (or was dropped since).
//  - A chunk dropped by a record that is not durable yet would be referenced again if the daemon
//    crashed now: the metadata is synced after the walk and before any delete.
// A referenced chunk on a node its ref does not list is not an orphan but an extra copy: the healer
// is told (onExtraCopy) and decides under its per-chunk lock whether to keep it or trim it. The
// shards of an erasure-coded chunk are chunk files of their own ids: referenced while their stripe
// is (an extra shard copy is reported with the stripe's ref).
//
// Sweeps: one as soon as the collector starts, one when a candidate comes due, one soon after a node
// answers again (it may have completed puts late, or missed deletes), and one every intervalMs. Those
// asked for by events are spaced at least four sweeps' length apart, so a flapping node cannot keep
// the collector listing every node. Nothing here throws out of a timer:
// failures are logged, counted, and retried by the next sweep.
//
// After `dfs fsck --meta --repair` dropped records, the chunks of those records look like orphans,
// but the repair's backup refers to them: while the metadata folder holds an orphan hold
// (meta/orphanHold.ts) nothing is deleted; due candidates are kept and the hold looked at again
// every holdRecheckMs, so a release takes effect without a remount.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import type { ChunkStore } from '../../chunks/ChunkStore.js'
import { storedPieces } from '../../chunks/layout.js'
import type { NodeHealthChange, NodeRegistry } from '../../chunks/NodeRegistry.js'
import { type OrphanHold, describeHold } from '../../meta/orphanHold.js'
import type { NamespaceMetaStore } from '../openCluster.js'
import { dropCopies } from '../replicate.js'
import { listPages } from '../../datanode/listPages.js'
import { chunkBatches } from './chunkWalk.js'

export interface OrphanCollectorOptions {
  /** An unreferenced chunk is deleted no sooner than this after a sweep first saw it, not being written (ms). Default 30 s. */
  graceMs?: number
  /** A sweep of every node at least this often (ms). Default 10 min. */
  intervalMs?: number
  /** Events arriving together (node reports) share one sweep this long after the first (ms). Default 200. */
  hintDelayMs?: number
  /** While a hold keeps orphans, it is looked at again this often (ms). Default 1 min. */
  holdRecheckMs?: number
}

export const DEFAULT_ORPHAN_OPTIONS: Required<OrphanCollectorOptions> = {
  graceMs: 30_000,
  intervalMs: 10 * 60_000,
  hintDelayMs: 200,
  holdRecheckMs: 60_000,
}

export interface OrphanCollectorDeps {
  meta: Pick<NamespaceMetaStore, 'state' | 'sync'>
  chunks: Pick<ChunkStore, 'isWriting'>
  registry: Pick<NodeRegistry, 'get' | 'ids' | 'health' | 'on' | 'off'>
  log: (message: string) => void
  /** A referenced chunk found on a node its ref does not list. */
  onExtraCopy?: (ref: ChunkRef, nodeId: string) => void
  /** The orphan hold of the metadata folder, if any (meta/orphanHold.ts): nothing is deleted while there is one. */
  hold?: () => Promise<OrphanHold | undefined>
  options?: OrphanCollectorOptions
  /** Clock (ms since epoch), for tests. */
  now?: () => number
}

export interface OrphanStatus {
  /** Unreferenced chunks waiting out the grace period (or still being written). */
  orphansPending: number
  /** Orphan copies deleted. */
  orphansRemoved: number
  /** Deletes or sweeps that failed (retried by a later sweep). */
  orphanFailures: number
  orphanSweeps: number
  /** Orphans due for deletion but kept because a metadata repair holds them. */
  orphansHeld: number
  /** That hold, when the last sweep found one. */
  orphanHold?: OrphanHold
}

interface Candidate {
  /** Nodes the last sweep found it on. */
  nodes: string[]
  /** When a sweep first saw it listed on a node and not being written; undefined while being written. */
  since: number | undefined
}

/** Nodes a chunk's orphan copies are deleted from at once. */
const DELETE_PARALLELISM = 8

export class OrphanCollector {
  readonly #meta: OrphanCollectorDeps['meta']
  readonly #chunks: OrphanCollectorDeps['chunks']
  readonly #registry: OrphanCollectorDeps['registry']
  readonly #log: (message: string) => void
  readonly #onExtraCopy: (ref: ChunkRef, nodeId: string) => void
  readonly #options: Required<OrphanCollectorOptions>
  readonly #now: () => number
  readonly #hold: () => Promise<OrphanHold | undefined>
  #held: { hold: OrphanHold; count: number } | undefined
  readonly #candidates = new Map<string, Candidate>()
  readonly #counts = { orphansRemoved: 0, orphanFailures: 0, orphanSweeps: 0 }
  /** Nodes whose listing failed at the last sweep (logged once until they answer again). */
  readonly #unlisted = new Set<string>()
  #started = false
  #stopped = false
  #timer: NodeJS.Timeout | undefined
  #timerAt = Infinity
  #sweeping: Promise<void> | undefined
  #sweepAgain = false
  /** How long the last sweep took (ms). */
  #lastSweepMs = 0

  constructor(deps: OrphanCollectorDeps) {
    this.#meta = deps.meta
    this.#chunks = deps.chunks
    this.#registry = deps.registry
    this.#log = deps.log
    this.#onExtraCopy = deps.onExtraCopy ?? (() => {})
    const given = Object.fromEntries(Object.entries(deps.options ?? {}).filter(([, v]) => v !== undefined))
    this.#options = { ...DEFAULT_ORPHAN_OPTIONS, ...given }
    this.#now = deps.now ?? Date.now
    this.#hold = deps.hold ?? (async () => undefined)
  }

  start(): void {
    if (this.#started) return
    this.#started = true
    this.#registry.on('report', this.#onReport)
    this.#registry.on('change', this.#onChange)
    this.#schedule(0)
  }

  async stop(): Promise<void> {
    if (!this.#started || this.#stopped) return
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#registry.off('report', this.#onReport)
    this.#registry.off('change', this.#onChange)
    await this.#sweeping
  }

  status(): OrphanStatus {
    return {
      orphansPending: this.#candidates.size,
      ...this.#counts,
      orphansHeld: this.#held?.count ?? 0,
      ...(this.#held ? { orphanHold: this.#held.hold } : {}),
    }
  }

  /** Sweep now (or right after the sweep under way). Resolves when that sweep is done. */
  async sweep(): Promise<void> {
    if (this.#stopped) return
    if (this.#sweeping) {
      this.#sweepAgain = true
      await this.#sweeping
      await (this.#sweeping as Promise<void> | undefined)
      return
    }
    const run = this.#sweep()
      .catch((err) => {
        this.#counts.orphanFailures++
        this.#log(`orphans: sweep failed: ${(err as Error).message}`)
      })
      .finally(() => {
        this.#sweeping = undefined
        if (this.#sweepAgain && !this.#stopped) {
          this.#sweepAgain = false
          void this.sweep()
        } else {
          this.#scheduleNext()
        }
      })
    this.#sweeping = run
    await run
  }

  /** A sweep soon (a node came back): requests arriving together share one. */
  requestSweep(): void {
    this.#schedule(Math.max(this.#options.hintDelayMs, 4 * this.#lastSweepMs))
  }

  readonly #onReport = (): void => this.requestSweep()

  readonly #onChange = (change: NodeHealthChange): void => {
    if (change.to === 'alive' && change.from !== 'alive') this.requestSweep()
  }

  /** A sweep in delayMs unless one is due sooner. */
  #schedule(delayMs: number): void {
    if (this.#stopped || !this.#started) return
    const at = this.#now() + delayMs
    if (this.#timer !== undefined && this.#timerAt <= at) return
    clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#timerAt = Infinity
      void this.sweep()
    }, Math.max(0, delayMs))
    this.#timer.unref()
  }

  /** The next sweep: when the first candidate comes due, else after the interval. */
  #scheduleNext(): void {
    let next = this.#options.intervalMs
    // Held candidates stay due: look at the hold again now and then, not at once.
    const soonest = this.#held ? this.#options.holdRecheckMs : 0
    for (const c of this.#candidates.values()) {
      // A chunk still being written: look again after a grace period.
      const due = c.since === undefined ? this.#options.graceMs : c.since + this.#options.graceMs - this.#now()
      next = Math.min(next, Math.max(soonest, due) + 10)
    }
    this.#schedule(next)
  }

  async #sweep(): Promise<void> {
    const startedAt = Date.now()
    // Every id a file references (a chunk, or each shard of a stripe under its own id: layout.ts), to
    // the piece (the nodes it lists are its own); a shard's stripe aside. The namespace's own objects:
    // a million entries, no new ones.
    const walkStartedAt = this.#now()
    const referenced = new Map<string, ChunkRef>()
    const stripeOf = new Map<string, ChunkRef>()
    for await (const batch of chunkBatches(this.#meta.state)) {
      if (this.#stopped) return
      for (const { ref } of batch) {
        for (const piece of storedPieces(ref)) {
          referenced.set(piece.id, piece)
          if (piece !== ref) stripeOf.set(piece.id, ref)
        }
      }
    }

    // What the nodes hold that the walk did not see: id -> nodes, and when first seen not being written.
    const held = new Map<string, string[]>()
    const listedAt = new Map<string, number>()
    const writing = new Set<string>()
    for (const nodeId of this.#registry.ids()) {
      const node = this.#registry.get(nodeId)
      if (!node || this.#registry.health(nodeId) === 'dead') continue
      try {
        // A page at a time, each checked in the turn it arrives (listPages.ts says why). Checked after
        // it was listed: an id listed and not being written now was recorded (if ever) by now. A
        // listing that fails partway leaves what it listed: each of those ids was there, unreferenced.
        for await (const ids of listPages(node)) {
          if (this.#stopped) return
          const checkedAt = this.#now()
          for (const id of ids) {
            const piece = referenced.get(id)
            if (piece) {
              if (!piece.nodes.includes(nodeId)) this.#onExtraCopy(stripeOf.get(id) ?? piece, nodeId)
              continue
            }
            const nodes = held.get(id)
            if (nodes) nodes.push(nodeId)
            else held.set(id, [nodeId])
            if (this.#chunks.isWriting(id)) writing.add(id)
            else if (!listedAt.has(id)) listedAt.set(id, checkedAt)
          }
          await new Promise<void>((resolve) => setImmediate(resolve))
        }
      } catch (err) {
        if (!this.#unlisted.has(nodeId)) this.#log(`orphans: listing node ${node.address} failed (tried again at the next sweep): ${(err as Error).message}`)
        this.#unlisted.add(nodeId)
        continue
      }
      if (this.#stopped) return
      this.#unlisted.delete(nodeId)
    }

    // What is left is referenced by nothing.
    for (const id of this.#candidates.keys()) if (!held.has(id)) this.#candidates.delete(id)
    const due: { id: string; nodes: string[] }[] = []
    for (const [id, nodes] of held) {
      if (writing.has(id) || this.#chunks.isWriting(id)) {
        this.#candidates.set(id, { nodes, since: undefined })
        continue
      }
      const since = this.#candidates.get(id)?.since
      if (since !== undefined && since + this.#options.graceMs <= walkStartedAt) due.push({ id, nodes })
      else this.#candidates.set(id, { nodes, since: since ?? listedAt.get(id) ?? walkStartedAt })
    }
    this.#counts.orphanSweeps++
    this.#lastSweepMs = Date.now() - startedAt
    if (due.length === 0) return

    const hold = await this.#hold()
    if (hold) {
      // Kept as candidates (still due): collected at the first sweep after the release.
      for (const { id, nodes } of due) this.#candidates.set(id, { nodes, since: this.#candidates.get(id)?.since ?? walkStartedAt })
      if (this.#held?.hold.since !== hold.since) this.#log(`orphans: ${due.length} unreferenced chunk file${due.length === 1 ? '' : 's'} ${describeHold(hold)}; release with dfs fsck --meta <dir> --release-orphans`)
      this.#held = { hold, count: due.length }
      return
    }
    this.#held = undefined

    // A chunk a record dropped stays until that record is durable: a crash before would bring it back.
    await this.#meta.sync()
    await this.#collect(due)
  }

  async #collect(due: { id: string; nodes: string[] }[]): Promise<void> {
    let removed = 0
    const queue = due.values()
    const worker = async () => {
      for (let next = queue.next(); !next.done && !this.#stopped; next = queue.next()) {
        const { id, nodes } = next.value
        this.#candidates.delete(id)
        const { dropped, failed } = await dropCopies(this.#registry, id, nodes)
        removed += dropped.length
        for (const f of failed) {
          this.#counts.orphanFailures++
          this.#log(`orphans: removing chunk ${id} from node ${this.#registry.get(f.nodeId)?.address ?? f.nodeId} failed (tried again at the next sweep): ${f.error.message}`)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(DELETE_PARALLELISM, due.length) }, worker))
    this.#counts.orphansRemoved += removed
    if (removed > 0) this.#log(`orphans: removed ${removed} chunk file${removed === 1 ? '' : 's'} no file references`)
  }
}
