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

/** What a change added to the totals (negative: removed). */
export interface TallyDelta {
  bytes: number
  chunks: number
}

export const NO_CHANGE: TallyDelta = Object.freeze({ bytes: 0, chunks: 0 })

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
}

export class ChunkTally {
  #bytes = 0
  #chunks = 0
  /** Every subfolder's state while the first count runs; undefined once it is over. */
  #subfolders: Map<string, Subfolder> | undefined
  /** Settles once the first count is over (whether it finished or gave up). */
  readonly counted: Promise<void>

  /** Set when the first count ends early (a count failed, or the node closed): nothing more is counted. */
  #stopped = false

  /**
   * Count `subfolders` in the background, `parallelism` at a time, with `count` (the chunks one of
   * them holds now, and their bytes). A count that fails (the folder went) ends the first count with
   * what it has: a node whose folder is gone answers nothing anyway.
   */
  constructor(subfolders: readonly string[], count: (subfolder: string) => Promise<TallyDelta>, parallelism: number) {
    this.#subfolders = new Map(subfolders.map((name) => [name, { state: 'pending', inFlight: 0, provisional: { bytes: 0, chunks: 0 } }]))
    const queue = [...subfolders]
    const worker = async (): Promise<void> => {
      for (let name; !this.#stopped && (name = queue.shift()) !== undefined;) await this.#countOne(name, count)
    }
    this.counted = Promise.all(Array.from({ length: Math.max(1, parallelism) }, worker)).then(() => {
      const left = this.#subfolders
      this.#subfolders = undefined
      // An early end leaves subfolders pending: their changes count as they come from now on.
      for (const sub of left?.values() ?? []) sub.drained?.()
    })
  }

  /** End the first count early (the node is closing): what is counted so far stays. */
  stop(): void {
    this.#stopped = true
  }

  /** Whether the first count is still running (the totals are those counted so far). */
  get counting(): boolean {
    return this.#subfolders !== undefined
  }

  get bytes(): number {
    return Math.max(0, this.#bytes)
  }

  get chunks(): number {
    return Math.max(0, this.#chunks)
  }

  /** Run a change of `subfolder` that reports what it added, and keep the totals exact (see above). */
  async change(subfolder: string, run: () => Promise<TallyDelta>): Promise<void> {
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

  async #countOne(name: string, count: (subfolder: string) => Promise<TallyDelta>): Promise<void> {
    const sub = this.#subfolders?.get(name)
    if (!sub) return
    sub.state = 'counting'
    let done!: () => void
    sub.counted = new Promise<void>((resolve) => (done = resolve))
    try {
      while (sub.inFlight > 0) await new Promise<void>((resolve) => (sub.drained = resolve))
      if (!this.#stopped) {
        const found = await count(name)
        // What it found includes what the changes before it did.
        this.#add({ bytes: found.bytes - sub.provisional.bytes, chunks: found.chunks - sub.provisional.chunks })
      }
    } catch {
      this.#stopped = true
    } finally {
      sub.state = 'counted' // counted, or given up on: its later changes count as they come
      done()
    }
  }

  #add(delta: TallyDelta): void {
    this.#bytes += delta.bytes
    this.#chunks += delta.chunks
  }
}
