// Recently read and written chunks, bounded in bytes. Chunks are immutable (an overwrite makes a new
// chunk with a new id), so an entry can never go stale: no invalidation beyond delete. Each entry
// keeps the SHA-256 it was verified against, so a lookup with a ref that disagrees (a metadata bug)
// misses instead of handing out bytes that were never checked against that ref.
//
// Memory the cache owns alone is recycled when it leaves (util/sha256.ts recycle): a chunk the store
// read (or prefetched) and handed to nobody, only copied out of (readInto), and a written chunk once
// its writer let go of it (adopt). A chunk whose buffer was handed out (get) is left to the garbage
// collector.

import { LRUCache } from 'lru-cache'
import type { ChunkId } from '../datanode/DataNode.js'
import type { ChunkRef } from './ChunkRef.js'
import { holdShared, recycle, releaseShared } from '../util/sha256.js'

interface Entry {
  data: Buffer
  sha256: string
  /** Only the cache references data: it may be recycled when the entry goes. */
  owned: boolean
  /** Handed out by get(): someone else may hold it for good, so the cache can never own it. */
  lent: boolean
}

export class ChunkCache {
  readonly maxBytes: number
  // Undefined when maxBytes is 0: caching is off.
  readonly #lru: LRUCache<ChunkId, Entry> | undefined

  constructor(maxBytes: number) {
    this.maxBytes = Math.max(0, Math.floor(maxBytes))
    this.#lru =
      this.maxBytes > 0
        ? new LRUCache<ChunkId, Entry>({
            maxSize: this.maxBytes,
            // lru-cache wants a positive size; an empty chunk still takes an entry.
            sizeCalculation: (entry) => Math.max(1, entry.data.length),
            dispose: (entry) => {
              if (entry.owned) recycle(entry.data)
            },
          })
        : undefined
  }

  /** The cached bytes of ref, if they are the bytes ref describes. Shared: do not modify them. */
  get(ref: Pick<ChunkRef, 'id' | 'len' | 'sha256'>): Buffer | undefined {
    const entry = this.#entry(ref)
    if (!entry) return undefined
    // Handed out: whoever holds it now may keep it.
    if (entry.owned) releaseShared(entry.data)
    entry.owned = false
    entry.lent = true
    return entry.data
  }

  /**
   * Copy bytes [from, from + length) of ref's cached bytes into out at `at`, without handing the
   * buffer out (so it stays the cache's to recycle). The number copied (short at the chunk's end),
   * or undefined when ref is not cached.
   */
  copy(ref: Pick<ChunkRef, 'id' | 'len' | 'sha256'>, from: number, out: Uint8Array, at: number, length: number): number | undefined {
    const entry = this.#entry(ref)
    if (!entry) return undefined
    return copyRange(entry.data, from, out, at, length)
  }

  #entry(ref: Pick<ChunkRef, 'id' | 'len' | 'sha256'>): Entry | undefined {
    const entry = this.#lru?.get(ref.id)
    if (!entry || entry.sha256 !== ref.sha256 || entry.data.length !== ref.len) return undefined
    return entry
  }

  has(id: ChunkId): boolean {
    return this.#lru?.has(id) ?? false
  }

  /**
   * Cache bytes verified against ref. The cache keeps this buffer, so nobody may modify it afterwards
   * (hand in a copy if the buffer is yours to reuse). A view into a larger buffer is copied, or it
   * would pin all of that memory while only its length counts. A chunk larger than the whole cache
   * is not stored. `owned`: nobody else references data (nor will): the cache may recycle it.
   */
  set(ref: Pick<ChunkRef, 'id' | 'sha256'>, data: Buffer, { owned = false } = {}): void {
    if (!this.#lru || data.length > this.maxBytes) return
    const old = this.#lru.peek(ref.id)
    if (old?.data === data) {
      // The same bytes again: replacing the entry would dispose of (recycle) what it still holds.
      if (old.owned && !owned) releaseShared(data)
      old.owned &&= owned
      return
    }
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
    const entry = { data: whole ? data : exactCopy(data), sha256: ref.sha256, owned: owned || !whole, lent: false }
    if (entry.owned) holdShared(entry.data)
    this.#lru.set(ref.id, entry)
  }

  /**
   * The one other holder of `data`, cached for ref by set() (its writer), no longer references it:
   * from now on the cache owns it and may recycle it, unless get() handed it out meanwhile.
   */
  adopt(ref: Pick<ChunkRef, 'id'>, data: Buffer): void {
    const entry = this.#lru?.peek(ref.id)
    if (!entry || entry.data !== data || entry.owned || entry.lent) return
    entry.owned = true
    holdShared(data)
  }

  delete(id: ChunkId): void {
    this.#lru?.delete(id)
  }

  clear(): void {
    this.#lru?.clear()
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#lru?.calculatedSize ?? 0
  }

  /** Number of chunks held now. */
  get size(): number {
    return this.#lru?.size ?? 0
  }
}

/** Copy data[from, from + length) into out at `at`, clipped to data's end: the bytes copied. */
export function copyRange(data: Uint8Array, from: number, out: Uint8Array, at: number, length: number): number {
  const end = Math.min(data.length, from + length)
  if (end <= from) return 0
  out.set(data.subarray(from, end), at)
  return end - from
}

/** A copy in memory of its own (Buffer.from would put a small one in Node's shared 8 KiB pool). */
export function exactCopy(data: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(data.length)
  copy.set(data)
  return copy
}
