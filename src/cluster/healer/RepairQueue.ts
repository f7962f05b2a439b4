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

/** A place in a level: the item as queued; `live` goes false when it leaves (served, dropped, moved up). */
interface Entry {
  item: RepairItem
  live: boolean
}

/** One level's entries in arrival order; those before `head` are gone. */
interface Level {
  entries: Entry[]
  head: number
  live: number
}

// Each level is an array read from a moving head, not a Map read from its start: a Map iterator
// steps over every entry deleted before it until the table is rebuilt, so serving a queue of n chunks
// from the front cost time in n squared (200,000 chunks: 5.8 s of the event loop; now 72 ms, and a
// million 0.5 s). Entries that leave from the middle are marked and skipped; a level is cut down
// once most of it is behind its head.
export class RepairQueue {
  /** levels[g]: chunks with g good copies. */
  readonly #levels: Level[] = []
  readonly #entryOf = new Map<string, { entry: Entry; level: number }>()

  get size(): number {
    return this.#entryOf.size
  }

  has(id: string): boolean {
    return this.#entryOf.has(id)
  }

  add(item: RepairItem): void {
    const level = Math.max(0, Math.floor(item.urgency ?? item.good))
    const current = this.#entryOf.get(item.id)
    if (current !== undefined) {
      if (current.level <= level) return
      this.delete(item.id)
    }
    while (this.#levels.length <= level) this.#levels.push({ entries: [], head: 0, live: 0 })
    const entry: Entry = { item, live: true }
    const into = this.#levels[level]!
    into.entries.push(entry)
    into.live++
    this.#entryOf.set(item.id, { entry, level })
  }

  /** The most urgent item, left in the queue. */
  peek(): RepairItem | undefined {
    for (const level of this.#levels) {
      if (level.live === 0) continue
      while (!level.entries[level.head]!.live) level.head++
      if (level.head > 1024 && level.head * 2 > level.entries.length) {
        level.entries = level.entries.slice(level.head)
        level.head = 0
      }
      return level.entries[level.head]!.item
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
    const found = this.#entryOf.get(id)
    if (found === undefined) return
    found.entry.live = false
    const level = this.#levels[found.level]!
    if (--level.live === 0) {
      level.entries = []
      level.head = 0
    }
    this.#entryOf.delete(id)
  }

  /** How many queued chunks have fewer than `replicas` good copies. */
  countBelow(replicas: number): number {
    let n = 0
    for (let g = 0; g < Math.min(replicas, this.#levels.length); g++) n += this.#levels[g]!.live
    return n
  }

  clear(): void {
    this.#levels.length = 0
    this.#entryOf.clear()
  }
}
