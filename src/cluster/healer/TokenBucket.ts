// A bandwidth limit: a token bucket of bytes that refills at `bytesPerSec` and holds at most a tenth
// of a second's worth, so a burst after a quiet spell stays short. A request larger than the bucket
// (one 4 MiB chunk under a 1 MiB/s limit) is let through on credit: the balance goes negative and the
// next caller waits it off. Callers are served in order. Waits end early when the signal aborts.
// One bucket may be shared: the healer and the rebalancer copy within one --heal-bandwidth budget
// (namenode/ClusterServices.ts makes it and hands it to both).

const BURST_SECONDS = 0.1

export class TokenBucket {
  readonly bytesPerSec: number
  readonly #capacity: number
  readonly #now: () => number
  readonly #sleep: typeof sleep
  #tokens: number
  #updatedAt: number
  /** The previous caller's turn: callers take tokens one after another. */
  #queue: Promise<void> = Promise.resolve()

  /** `bytesPerSec` 0 or Infinity means no limit. `now` and `wait` are the clock (injected by tests). */
  constructor(bytesPerSec: number, now: () => number = Date.now, wait: typeof sleep = sleep) {
    this.bytesPerSec = bytesPerSec > 0 ? bytesPerSec : Infinity
    this.#capacity = this.bytesPerSec * BURST_SECONDS
    this.#now = now
    this.#sleep = wait
    this.#tokens = this.#capacity
    this.#updatedAt = now()
  }

  get unlimited(): boolean {
    return this.bytesPerSec === Infinity
  }

  /** Resolves once `bytes` may be sent. Resolves at once (without taking) if the signal aborts. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.unlimited) return Promise.resolve()
    const turn = this.#queue.then(() => this.#take(bytes, signal))
    this.#queue = turn
    return turn
  }

  async #take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return
    this.#refill()
    this.#tokens -= bytes
    if (this.#tokens < 0) await this.#sleep((-this.#tokens / this.bytesPerSec) * 1000, signal)
  }

  #refill(): void {
    const now = this.#now()
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#updatedAt) / 1000) * this.bytesPerSec)
    this.#updatedAt = now
  }
}

/** Wait ms, or less if the signal aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, Math.max(0, ms))
    timer.unref() // a background wait never keeps the process alive
    signal?.addEventListener('abort', done, { once: true })
  })
}
