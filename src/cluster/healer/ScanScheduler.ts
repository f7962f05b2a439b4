// When the healer scans: hints arriving together share one scan, a scan asked for while one runs
// follows it (one, however many asked), and under a storm of hints scans are spaced at least four
// times their own length apart, so scanning never takes more than a fifth of the time.

export class ScanScheduler {
  readonly #scan: () => Promise<void>
  readonly #onError: (err: unknown) => void
  readonly #hintDelayMs: number
  #started = false
  #stopped = false
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #again = false
  /** How long the last scan took (ms). */
  #lastMs = 0

  constructor(scan: () => Promise<void>, options: { hintDelayMs: number; onError: (err: unknown) => void }) {
    this.#scan = scan
    this.#hintDelayMs = options.hintDelayMs
    this.#onError = options.onError
  }

  /** The scan under way, if any. */
  get running(): Promise<void> | undefined {
    return this.#running
  }

  start(): void {
    this.#started = true
  }

  /** Take no more requests, and wait for the scan under way. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#running
  }

  /** A scan in delayMs (default: soon, spaced after the last scan); a sooner request wins. */
  request(delayMs = Math.max(this.#hintDelayMs, 4 * this.#lastMs)): void {
    if (this.#stopped || !this.#started) return
    if (this.#timer !== undefined) {
      if (delayMs > 0) return
      clearTimeout(this.#timer)
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.runNow()
    }, delayMs)
    this.#timer.unref()
  }

  /** Start a scan, or have one follow the scan under way. Resolves when the scan that covers this call is done. */
  async runNow(): Promise<void> {
    if (this.#stopped) return
    if (this.#running) {
      this.#again = true
      await this.#running
      // The scan under way started the one that covers this call as it ended.
      await (this.#running as Promise<void> | undefined)
      return
    }
    const startedAt = Date.now()
    const run = this.#scan()
      .catch(this.#onError)
      .finally(() => {
        this.#lastMs = Date.now() - startedAt
        this.#running = undefined
        if (this.#again && !this.#stopped) {
          this.#again = false
          void this.runNow()
        }
      })
    this.#running = run
    await run
  }
}
