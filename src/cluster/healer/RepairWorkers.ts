// The healer's workers: a queue served fewest good copies first (RepairQueue.ts), `concurrency`
// workers, one chunk in one worker at a time, each under the chunk's lock shared with the rebalancer
// and within the bytes the repairs may hold together (RepairMemory.ts).
// A chunk someone else holds (a move) is skipped and looked at again once free. Work from the moment
// the queue gets some until the workers are idle again is one pass, with one summary line and at
// most one event of each kind (HealPass.ts).
// A repair that throws is logged and counted, and retried by a later scan.

import type { Log } from '../../log/Log.js'
import type { EmitEvent } from '../EventBurst.js'
import type { ChunkLocks } from '../chunkLocks.js'
import { HealPass } from './HealPass.js'
import type { HealerCounts } from './HealerCounts.js'
import type { RepairMemory } from './RepairMemory.js'
import { type RepairItem, RepairQueue } from './RepairQueue.js'
import type { RepairHints } from './RepairHints.js'

export interface RepairWorkersDeps {
  concurrency: number
  /** Chunk data the repairs under way may hold together. */
  memory: RepairMemory
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
  readonly #workers = new Set<Promise<void>>()
  /** The pass under way: work queued until the workers are idle again. */
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

  /** Whether a worker runs. */
  get working(): boolean {
    return this.#workers.size > 0
  }

  isActive(id: string): boolean {
    return this.#active.has(id)
  }

  /** One of the chunks being repaired now. */
  current(): RepairItem | undefined {
    return this.#active.values().next().value
  }

  /** Queue what a scan found (chunks being repaired now are left to their worker) and start workers. */
  add(items: Iterable<RepairItem>): void {
    for (const item of items) if (!this.#active.has(item.id)) this.#queue.add(item)
    this.#pump()
  }

  /** Resolves once every worker running now has ended. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#workers])
  }

  #pump(): void {
    while (!this.#deps.stopped() && this.#workers.size < this.#deps.concurrency && this.#queue.size > 0) {
      this.#pass ??= new HealPass(this.#deps.counts.totals)
      const worker = this.#work().finally(() => {
        this.#workers.delete(worker)
        if (this.#workers.size === 0) this.#endPass()
      })
      this.#workers.add(worker)
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

  async #work(): Promise<void> {
    const { locks, hints, log } = this.#deps
    for (let item = this.#queue.shift(); item && !this.#deps.stopped(); item = this.#queue.shift()) {
      if (this.#active.has(item.id)) continue
      const release = locks.tryAcquire(item.id)
      if (!release) {
        // Being moved (rebalance, drain): look at it again once that is done.
        void locks.whenFree(item.id).then(() => this.#deps.rescan())
        continue
      }
      this.#active.set(item.id, item)
      const startedAt = Date.now()
      await this.#deps.memory.enter(item.bytes)
      try {
        await this.#deps.repair(item)
      } catch (err) {
        this.#deps.counts.totals.failed++
        const message = `repair of chunk ${item.id} (inode ${item.ino}, chunk ${item.index}) failed: ${(err as Error).message}`
        this.#pass?.failure(message)
        log.debug(`healer: ${message}`)
      } finally {
        this.#deps.memory.leave(item.bytes)
        this.#active.delete(item.id)
        release()
      }
      // News about this chunk that arrived while it was being repaired: look again.
      if (hints.freshSince(item.id, startedAt)) this.#deps.rescan()
    }
  }
}
