// A node folder's running totals for usage(): how many chunks it holds and their bytes. Counting them
// takes a stat per chunk, seconds for a folder of a million (7 s warm, 9 s cold on the bench VM for
// 667,000), so it runs in the background after open, and opening a node (and so mounting) does not
// wait for it. Puts and deletes go on meanwhile and the count stays exact:
//
// - every change adds its delta to the totals at once, as after the count;
// - a subfolder is counted only while no change of it is in flight, and a change that starts while
//   it is being counted waits until that is done (a few milliseconds), so none falls in between;
// - the count of a subfolder finds what the changes before it left, so it takes the place of their
//   deltas: from then on that subfolder's share of the totals is exact.
// Meanwhile the totals are what is counted so far plus the changes since open (a delete of a chunk
// not counted yet can take them below the truth, never below zero as usage() reports them).
//
// A subfolder whose count fails (EMFILE, EIO, the thread died) is counted again after the others, up
// to COUNT_TRIES times. A count that still cannot finish (the folder is gone: the node is unavailable
// anyway) ends there, and the totals keep saying `counting` until the node is opened again: they are
// not the whole truth, and nothing may take them for it.

/** What a change added to the totals (negative: removed). */
export interface TallyDelta {
  bytes: number
  chunks: number
}

export const NO_CHANGE: TallyDelta = Object.freeze({ bytes: 0, chunks: 0 })

/** Counts of one subfolder tried before the first count gives up. */
export const COUNT_TRIES = 3

/** First counts wait for this: a process that is starting up holds them back (holdFirstCounts). */
let countsMayStart: Promise<void> = Promise.resolve()

/**
 * Hold back the first count of every node folder opened from now on until `until` settles: a mount
 * daemon holds them until it serves. Counting keeps a thread busy with stats for seconds at a large
 * node, and on a 2-core machine that took the cores a mount's own start-up needs (a million files:
 * ready in 4.95-5.21 s with the counts held back, 5.42-5.45 s without).
 */
export function holdFirstCounts(until: Promise<unknown>): void {
  const before = countsMayStart
  countsMayStart = Promise.all([before, until.then(() => {}, () => {})]).then(() => {})
}

interface Subfolder {
  state: 'pending' | 'counting' | 'counted'
  /** Changes under way that started while it was pending. */
  inFlight: number
  /** What the changes made while it was pending added: its count replaces them. */
  provisional: TallyDelta
  /** Wakes the count once inFlight is back to 0. */
  drained?: () => void
  /** Settles once its count is done (changes that arrived meanwhile wait for it). */
  counted?: Promise<void>
  /** Counts of it that failed. */
  failures: number
}

export class ChunkTally {
  #bytes = 0
  #chunks = 0
  /** Every subfolder's state while the first count runs; undefined once it is over. */
  #subfolders: Map<string, Subfolder> | undefined
  /** Settles once the first count is over (whether it finished or gave up). */
  readonly counted: Promise<void>

  /** Set when the first count ends early (a subfolder could not be counted, or the node closed): nothing more is counted. */
  #stopped = false
  /** The first count ended without counting everything: the totals stay marked as counting. */
  #incomplete = false

  /**
   * Count `subfolders` in the background, `parallelism` at a time, with `count` (the chunks one of
   * them holds now, and their bytes); a failed one is tried again after the others (see above). None
   * (a folder made just now): nothing to count, the totals are whole from the start.
   */
  constructor(subfolders: readonly string[], count: (subfolder: string) => Promise<TallyDelta>, parallelism: number) {
    this.#subfolders = subfolders.length === 0
      ? undefined
      : new Map(subfolders.map((name) => [name, { state: 'pending', inFlight: 0, provisional: { bytes: 0, chunks: 0 }, failures: 0 }]))
    const queue = [...subfolders]
    const worker = async (): Promise<void> => {
      for (let name; !this.#stopped && (name = queue.shift()) !== undefined;) {
        if (!(await this.#countOne(name, count))) queue.push(name)
      }
    }
    // Nothing to count: whole at once, whatever holds the counts back.
    const may = subfolders.length === 0 ? Promise.resolve() : countsMayStart
    this.counted = may.then(() => Promise.all(Array.from({ length: Math.max(1, parallelism) }, worker))).then(() => {
      const left = this.#subfolders
      this.#subfolders = undefined
      if (queue.length > 0) this.#incomplete = true
      // An early end leaves subfolders pending: their changes count as they come from now on.
      for (const sub of left?.values() ?? []) sub.drained?.()
    })
  }

  /** End the first count early (the node is closing): what is counted so far stays. */
  stop(): void {
    this.#stopped = true
  }

  /** Whether the totals are short of the whole: the first count is running, or ended before it was done. */
  get counting(): boolean {
    return this.#subfolders !== undefined || this.#incomplete
  }

  get bytes(): number {
    return Math.max(0, this.#bytes)
  }

  get chunks(): number {
    return Math.max(0, this.#chunks)
  }

  /** Run a change of `subfolder` that reports what it added, and keep the totals exact (see above). */
  change(subfolder: string, run: () => Promise<TallyDelta>): Promise<void> {
    // Once counted (every put and delete from then on): no bookkeeping on the way.
    if (!this.#subfolders) return run().then((delta) => this.#add(delta))
    return this.#changeWhileCounting(subfolder, run)
  }

  async #changeWhileCounting(subfolder: string, run: () => Promise<TallyDelta>): Promise<void> {
    let sub = this.#subfolders?.get(subfolder)
    while (sub?.state === 'counting') {
      await sub.counted
      sub = this.#subfolders?.get(subfolder)
    }
    if (sub?.state !== 'pending') {
      this.#add(await run())
      return
    }
    sub.inFlight++
    try {
      const delta = await run()
      this.#add(delta)
      sub.provisional = { bytes: sub.provisional.bytes + delta.bytes, chunks: sub.provisional.chunks + delta.chunks }
    } finally {
      if (--sub.inFlight === 0) sub.drained?.()
    }
  }

  /** Count one subfolder; false when its count failed and it should be tried again. */
  async #countOne(name: string, count: (subfolder: string) => Promise<TallyDelta>): Promise<boolean> {
    const sub = this.#subfolders?.get(name)
    if (!sub) return true
    sub.state = 'counting'
    let done!: () => void
    sub.counted = new Promise<void>((resolve) => (done = resolve))
    try {
      while (sub.inFlight > 0) await new Promise<void>((resolve) => (sub.drained = resolve))
      if (this.#stopped) {
        sub.state = 'pending' // not counted: its changes go on counting provisionally
        return false
      }
      const found = await count(name)
      // What it found includes what the changes before it did.
      this.#add({ bytes: found.bytes - sub.provisional.bytes, chunks: found.chunks - sub.provisional.chunks })
      sub.state = 'counted'
      return true
    } catch {
      // Pending again: its changes keep adding provisionally until a later count takes their place.
      sub.state = 'pending'
      if (++sub.failures >= COUNT_TRIES) this.#stopped = true
      return false
    } finally {
      done()
    }
  }

  #add(delta: TallyDelta): void {
    this.#bytes += delta.bytes
    this.#chunks += delta.chunks
  }
}
