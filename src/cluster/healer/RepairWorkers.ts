// The healer's workers: a queue served fewest good copies first (RepairQueue.ts), at most
// `concurrency` chunks repaired at once and of those at most `largeConcurrency` large ones, each
// under the chunk's lock shared with the rebalancer. Two bounds because the two kinds of chunk cost
// differently: a small file's chunk is a read, a put and a sync, mostly waiting, so many at once
// overlap their waits; a large chunk's repair takes its bytes' time, and its memory, so a few at
// once keep the disks busy. The head of the queue starts first, always: when it is large and the
// large ones are all running, nothing overtakes it.
// A chunk someone else holds (a move) is skipped and looked at again once free. Work from the moment
// the queue gets some until no repair runs any more is one pass, with one summary line and at most
// one event of each kind (HealPass.ts).
// A repair that throws is logged and counted, and retried by a later scan.

import type { Log } from '../../log/Log.js'
import type { EmitEvent } from '../EventBurst.js'
import type { ChunkLocks } from '../chunkLocks.js'
import { HealPass } from './HealPass.js'
import type { HealerCounts } from './HealerCounts.js'
import { type RepairItem, RepairQueue } from './RepairQueue.js'
import type { RepairHints } from './RepairHints.js'

/** A chunk this long or longer is a large one (RepairWorkersDeps.largeConcurrency). */
export const LARGE_CHUNK_BYTES = 1024 * 1024

export interface RepairWorkersDeps {
  /** Chunks repaired at once, at most. */
  concurrency: number
  /** Of those, chunks of LARGE_CHUNK_BYTES or more, at most. */
  largeConcurrency: number
  locks: ChunkLocks
  counts: HealerCounts
  hints: RepairHints
  log: Log
  /** Repair one chunk (its lock held). */
  repair: (item: RepairItem) => Promise<void>
  /** Ask for a scan: a chunk was held by a move, or news about it came while it was repaired. */
  rescan: () => void
  stopped: () => boolean
  /** Told of each pass's events (healed N chunks, repaired N corrupt copies, N chunks lost). */
  onEvent?: EmitEvent | undefined
}

export class RepairWorkers {
  readonly #deps: RepairWorkersDeps
  readonly #queue = new RepairQueue()
  /** Chunks being repaired now. */
  readonly #active = new Map<string, RepairItem>()
  readonly #running = new Set<Promise<void>>()
  /** Repairs started and not ended: counted before a repair's first step runs, unlike #running. */
  #started = 0
  #largeRunning = 0
  /** The pass under way: work queued until no repair runs any more. */
  #pass: HealPass | undefined

  constructor(deps: RepairWorkersDeps) {
    this.#deps = deps
  }

  get pass(): HealPass | undefined {
    return this.#pass
  }

  get queued(): number {
    return this.#queue.size
  }

  /** Chunks queued or being repaired. */
  get busy(): boolean {
    return this.#active.size > 0 || this.#queue.size > 0
  }

  /** Whether a repair runs. */
  get working(): boolean {
    return this.#running.size > 0
  }

  isActive(id: string): boolean {
    return this.#active.has(id)
  }

  /** One of the chunks being repaired now. */
  current(): RepairItem | undefined {
    return this.#active.values().next().value
  }

  /** Queue what a scan found (chunks being repaired now are left to their repair) and start repairs. */
  add(items: Iterable<RepairItem>): void {
    for (const item of items) if (!this.#active.has(item.id)) this.#queue.add(item)
    this.#pump()
  }

  /** Resolves once every repair running now has ended (none starts once stopped). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#running])
  }

  /** Start repairs from the head of the queue while the bounds allow. */
  #pump(): void {
    const { concurrency, largeConcurrency, locks, stopped } = this.#deps
    while (!stopped() && this.#started < concurrency) {
      const item = this.#queue.peek()
      if (!item) break
      const large = item.bytes >= LARGE_CHUNK_BYTES
      if (large && this.#largeRunning >= largeConcurrency) break
      this.#queue.delete(item.id)
      const release = locks.tryAcquire(item.id)
      if (!release) {
        // Being moved (rebalance, drain): look at it again once that is done.
        void locks.whenFree(item.id).then(() => this.#deps.rescan())
        continue
      }
      this.#pass ??= new HealPass(this.#deps.counts.totals)
      this.#started++
      if (large) this.#largeRunning++
      const repair = this.#repairOne(item, release).finally(() => {
        this.#running.delete(repair)
        this.#started--
        if (large) this.#largeRunning--
        // Start what can start before asking whether the pass is over.
        this.#pump()
        if (this.#started === 0) this.#endPass()
      })
      this.#running.add(repair)
    }
  }

  #endPass(): void {
    const pass = this.#pass
    this.#pass = undefined
    if (!pass) return
    const totals = this.#deps.counts.totals
    const summary = pass.summary(totals)
    if (summary) this.#deps.log[summary.level](summary.message, summary.context)
    if (this.#deps.onEvent) for (const event of pass.events(totals)) this.#deps.onEvent(event)
  }

  /** Rejects only if the rescan it may ask for throws. */
  async #repairOne(item: RepairItem, release: () => void): Promise<void> {
    this.#active.set(item.id, item)
    const startedAt = Date.now()
    try {
      await this.#deps.repair(item)
    } catch (err) {
      this.#deps.counts.totals.failed++
      const message = `repair of chunk ${item.id} (inode ${item.ino}, chunk ${item.index}) failed: ${(err as Error).message}`
      this.#pass?.failure(message)
      this.#deps.log.debug(`healer: ${message}`)
    } finally {
      this.#active.delete(item.id)
      release()
    }
    // News about this chunk that arrived while it was being repaired: look again.
    if (this.#deps.hints.freshSince(item.id, startedAt)) this.#deps.rescan()
  }
}
