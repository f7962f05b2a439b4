// When each copy of each chunk last had its SHA-256 verified (by the scrubber, or a repair of the
// healer that read or wrote it), for `dfs info`, the xattr user.dfs.placement and the dashboard's
// file view ("verified when").
//
// Memory. A cluster may hold millions of chunks; this record must not cost what the namespace does.
// So no object per chunk: a Map from chunk id (the namespace's own string, not a copy) to a slot
// number, and per slot a few (node, time) pairs in typed arrays: node ids as indices into one list
// of interned ids, times in whole seconds (Uint32: good until 2106). About 60 bytes per chunk, most
// of it the Map's entry. A slot keeps COPIES pairs; a chunk verified on more nodes than that (a
// copy moving, over-replication) forgets its oldest.
//
// Forgetting. The NameNode forgets a chunk's entry when it deletes the chunk (forgetChunks), so the
// record holds at most the referenced chunks, also with the scrubber off (the healer records too).
// As a second net, entries of chunks no file references any more go at the end of a full pass
// (prune): a pass touches every referenced chunk, so what it did not touch, and nobody recorded
// during it, is gone (a record that raced a delete). Chunk ids are never reused, so a stale entry is
// never shown for another chunk.

/** (node, time) pairs kept per chunk. */
const COPIES = 4

export class VerifiedCopies {
  readonly #slots = new Map<string, number>()
  readonly #freeSlots: number[] = []
  /** Node id -> its index (interned: a slot holds the index, not the string). */
  readonly #nodeIndex = new Map<string, number>()
  /** Per slot × COPIES: node index + 1 (0: empty), and seconds since the epoch. */
  #node = new Uint16Array(COPIES * 1024)
  #at = new Uint32Array(COPIES * 1024)
  /** Per slot: the pass that last touched it. */
  #pass = new Uint32Array(1024)
  #currentPass = 1
  #used = 0

  /** Chunks with at least one verified copy. */
  get size(): number {
    return this.#slots.size
  }

  /** The copy of chunkId on nodeId verified intact at `at` (ms since the epoch). */
  record(chunkId: string, nodeId: string, at = Date.now()): void {
    const node = this.#nodeNumber(nodeId)
    let slot = this.#slots.get(chunkId)
    if (slot === undefined) {
      slot = this.#newSlot()
      this.#slots.set(chunkId, slot)
    }
    this.#pass[slot] = this.#currentPass
    const base = slot * COPIES
    let target = -1
    let oldest = base
    for (let i = base; i < base + COPIES; i++) {
      if (this.#node[i] === node) { target = i; break }
      if (target < 0 && this.#node[i] === 0) target = i
      if (this.#at[i] < this.#at[oldest]) oldest = i
    }
    if (target < 0) target = oldest
    this.#node[target] = node
    this.#at[target] = Math.floor(at / 1000)
  }

  /** When the copy of chunkId on nodeId was last verified (ms since the epoch, whole seconds), if ever. */
  get(chunkId: string, nodeId: string): number | undefined {
    const slot = this.#slots.get(chunkId)
    const node = this.#nodeIndex.get(nodeId)
    if (slot === undefined || node === undefined) return undefined
    for (let i = slot * COPIES; i < (slot + 1) * COPIES; i++) {
      if (this.#node[i] === node + 1) return this.#at[i] * 1000
    }
    return undefined
  }

  /** The copy on nodeId is no longer known intact (it failed a check). */
  forgetCopy(chunkId: string, nodeId: string): void {
    const slot = this.#slots.get(chunkId)
    const node = this.#nodeIndex.get(nodeId)
    if (slot === undefined || node === undefined) return
    for (let i = slot * COPIES; i < (slot + 1) * COPIES; i++) {
      if (this.#node[i] === node + 1) this.#node[i] = 0
    }
  }

  /** The chunks were deleted (no file references them): their entries go now. */
  forgetChunks(chunkIds: Iterable<string>): void {
    for (const chunkId of chunkIds) {
      const slot = this.#slots.get(chunkId)
      if (slot !== undefined) this.#free(chunkId, slot)
    }
  }

  /** The chunk is still referenced (a pass walked past it): its entry survives this pass's prune. */
  touch(chunkId: string): void {
    const slot = this.#slots.get(chunkId)
    if (slot !== undefined) this.#pass[slot] = this.#currentPass
  }

  /** A full pass ended: drop every chunk neither touched nor recorded since the last prune. */
  prune(): void {
    for (const [chunkId, slot] of this.#slots) {
      if (this.#pass[slot] !== this.#currentPass) this.#free(chunkId, slot)
    }
    this.#currentPass++
  }

  #free(chunkId: string, slot: number): void {
    this.#slots.delete(chunkId)
    this.#node.fill(0, slot * COPIES, (slot + 1) * COPIES)
    this.#freeSlots.push(slot)
  }

  #nodeNumber(nodeId: string): number {
    let index = this.#nodeIndex.get(nodeId)
    if (index === undefined) {
      index = this.#nodeIndex.size
      if (index >= 0xfffe) throw new Error('VerifiedCopies: more than 65534 node ids')
      this.#nodeIndex.set(nodeId, index)
    }
    return index + 1
  }

  #newSlot(): number {
    const reused = this.#freeSlots.pop()
    if (reused !== undefined) return reused
    const slot = this.#used++
    if (slot >= this.#pass.length) {
      const grow = <T extends Uint16Array | Uint32Array>(a: T, make: (n: number) => T): T => {
        const bigger = make(a.length * 2)
        bigger.set(a)
        return bigger
      }
      this.#node = grow(this.#node, n => new Uint16Array(n))
      this.#at = grow(this.#at, n => new Uint32Array(n))
      this.#pass = grow(this.#pass, n => new Uint32Array(n))
    }
    return slot
  }
}
