// Bytes per second over the last few seconds: what `dfs status` shows as the healer's speed.

export class RateMeter {
  readonly #windowMs: number
  readonly #now: () => number
  readonly #samples: { at: number; bytes: number }[] = []

  constructor(windowMs = 5_000, now: () => number = Date.now) {
    this.#windowMs = windowMs
    this.#now = now
  }

  add(bytes: number): void {
    this.#samples.push({ at: this.#now(), bytes })
    this.#prune()
  }

  /** Mean rate over the window (bytes/s); 0 when nothing moved in it. */
  perSecond(): number {
    this.#prune()
    const total = this.#samples.reduce((sum, s) => sum + s.bytes, 0)
    return Math.round(total / (this.#windowMs / 1000))
  }

  #prune(): void {
    const oldest = this.#now() - this.#windowMs
    while (this.#samples.length > 0 && this.#samples[0].at < oldest) this.#samples.shift()
  }
}
