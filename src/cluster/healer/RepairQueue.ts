// The healer's work list: one entry per chunk, served fewest good copies first (a chunk with one copy
// left is one failure from being lost; one with two of three can wait; a stripe ranks by the shards
// it can still lose, see `urgency`). Within a level, first come
// first served. Adding a chunk that is already queued keeps one entry, at the more urgent level.

export interface RepairItem {
  /** Chunk id: the key. */
  id: string
  /** Where the namespace references it (chunk ids are referenced from one place only). */
  ino: number
  index: number
  /** Good copies (or shards) when it was queued. R (k + m) or more means only trimming or a list fix. */
  good: number
  /**
   * Its place in the queue when that is not `good`: an erasure-coded chunk with k + 1 good shards
   * can lose one more, as a replicated chunk with 2 copies can, so both rank 2 (good - k + 1).
   */
  urgency?: number
  /** The chunk's length: a large chunk's repair is bounded apart (RepairWorkers.ts). */
  bytes: number
}

export class RepairQueue {
  /** levels[g]: chunks with g good copies, in arrival order. */
  readonly #levels: Map<string, RepairItem>[] = []
  readonly #levelOf = new Map<string, number>()

  get size(): number {
    return this.#levelOf.size
  }

  has(id: string): boolean {
    return this.#levelOf.has(id)
  }

  add(item: RepairItem): void {
    const level = Math.max(0, Math.floor(item.urgency ?? item.good))
    const current = this.#levelOf.get(item.id)
    if (current !== undefined) {
      if (current <= level) return
      this.#levels[current].delete(item.id)
    }
    while (this.#levels.length <= level) this.#levels.push(new Map())
    this.#levels[level].set(item.id, item)
    this.#levelOf.set(item.id, level)
  }

  /** The most urgent item, left in the queue. */
  peek(): RepairItem | undefined {
    for (const level of this.#levels) {
      const first = level.values().next()
      if (!first.done) return first.value
    }
    return undefined
  }

  /** The most urgent item, removed from the queue. */
  shift(): RepairItem | undefined {
    const item = this.peek()
    if (item) this.delete(item.id)
    return item
  }

  delete(id: string): void {
    const level = this.#levelOf.get(id)
    if (level === undefined) return
    this.#levels[level].delete(id)
    this.#levelOf.delete(id)
  }

  /** How many queued chunks have fewer than `replicas` good copies. */
  countBelow(replicas: number): number {
    let n = 0
    for (let g = 0; g < Math.min(replicas, this.#levels.length); g++) n += this.#levels[g].size
    return n
  }

  clear(): void {
    this.#levels.length = 0
    this.#levelOf.clear()
  }
}
