// Bounds the memory held by written-but-not-yet-stored chunk buffers across all open files.
// Writes are acknowledged from memory (one round trip per 128 KiB write would cap throughput), so
// without a bound a fast writer or a random writer to a huge file could hold gigabytes.

export class DirtyBudget {
  private held = 0
  private waiters: (() => void)[] = []

  /**
   * @param limit bytes of chunk buffers allowed before writers wait
   * @param relieve asked to start storing buffered chunks when writers have to wait
   */
  constructor(readonly limit: number, private readonly relieve: () => void) {}

  get bytes(): number {
    return this.held
  }

  take(bytes: number): void {
    this.held += bytes
  }

  give(bytes: number): void {
    this.held -= bytes
    if (this.held < this.limit) this.wake()
  }

  /** Let waiters look again (a chunk failed to store: they may have an error to report). */
  wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }

  /**
   * Resolves once the buffers held are below the limit, sealing buffered chunks to get there.
   * `check` runs after every wake-up and throws to give up (the writer's own chunk failed to store).
   */
  async waitForRoom(check: () => void): Promise<void> {
    while (this.held >= this.limit) {
      check()
      this.relieve()
      await new Promise<void>(resolve => this.waiters.push(resolve))
    }
    check()
  }
}
