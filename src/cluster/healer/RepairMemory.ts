// How much chunk data the repairs under way may hold at once. A repair holds its chunk whole (read
// from one copy, then put to the new nodes; a stripe's shards and the ones rebuilt from them), so
// the number of repairs at once is bounded twice: by the workers, which makes many small chunks
// overlap their waits (a 4 KiB chunk's read, put and sync are mostly waiting), and by the bytes
// here, which keeps large chunks to a few at a time, whatever the chunk size.
//
// Repairs enter in the order they ask, so a large chunk is not overtaken forever by small ones. One
// larger than the whole budget enters alone, once nothing else holds any.

export class RepairMemory {
  readonly #limit: number
  #held = 0
  readonly #waiting: { bytes: number; enter: () => void }[] = []

  /** limit: bytes the repairs may hold together. */
  constructor(limit: number) {
    this.#limit = limit
  }

  /** Bytes held by repairs that have entered. */
  get held(): number {
    return this.#held
  }

  /** Resolves once a repair holding `bytes` fits; call leave(bytes) when it is done. */
  async enter(bytes: number): Promise<void> {
    if (this.#waiting.length === 0 && this.#fits(bytes)) {
      this.#held += bytes
      return
    }
    await new Promise<void>((enter) => this.#waiting.push({ bytes, enter }))
  }

  leave(bytes: number): void {
    this.#held -= bytes
    while (this.#waiting.length > 0 && this.#fits(this.#waiting[0]!.bytes)) {
      const next = this.#waiting.shift()!
      this.#held += next.bytes
      next.enter()
    }
  }

  #fits(bytes: number): boolean {
    return this.#held === 0 || this.#held + bytes <= this.#limit
  }
}
