// One repair or move of a chunk at a time. The healer and the rebalancer both rewrite a chunk's
// replica list and delete copies it no longer names; two of them at work on one chunk could each
// drop a copy the other counted on. Both take this lock for the chunk first: the healer skips a
// chunk that is held (and scans again once it is free), a move waits for the repair under way.

export type Release = () => void

export class ChunkLocks {
  readonly #held = new Map<string, { released: Promise<void>; release: Release }>()

  /** Take the lock on a chunk if nobody holds it; undefined when held. */
  tryAcquire(id: string): Release | undefined {
    if (this.#held.has(id)) return undefined
    let resolve!: () => void
    const released = new Promise<void>((r) => (resolve = r))
    const entry = {
      released,
      release: () => {
        if (this.#held.get(id) !== entry) return // released twice
        this.#held.delete(id)
        resolve()
      },
    }
    this.#held.set(id, entry)
    return entry.release
  }

  /** Wait until the chunk is free, then take it; undefined if the signal aborts first. */
  async acquire(id: string, signal?: AbortSignal): Promise<Release | undefined> {
    for (;;) {
      if (signal?.aborted) return undefined
      const release = this.tryAcquire(id)
      if (release) return release
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done)
          resolve()
        }
        signal?.addEventListener('abort', done, { once: true })
        void this.#held.get(id)?.released.then(done)
      })
    }
  }

  /** Resolves once nobody holds the chunk (at once if nobody does). */
  async whenFree(id: string): Promise<void> {
    while (this.#held.has(id)) await this.#held.get(id)?.released
  }

  isHeld(id: string): boolean {
    return this.#held.has(id)
  }
}
