// Recently read and written chunks, bounded in bytes. Chunks are immutable (an overwrite makes a new
// chunk with a new id), so an entry can never go stale: no invalidation beyond delete. Each entry
// keeps the SHA-256 it was verified against, so a lookup with a ref that disagrees (a metadata bug)
// misses instead of handing out bytes that were never checked against that ref.

import { LRUCache } from 'lru-cache'
import type { ChunkId } from '../datanode/DataNode.js'
import type { ChunkRef } from './ChunkRef.js'

interface Entry {
  data: Buffer
  sha256: string
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
          })
        : undefined
  }

  /** The cached bytes of ref, if they are the bytes ref describes. Shared: do not modify them. */
  get(ref: Pick<ChunkRef, 'id' | 'len' | 'sha256'>): Buffer | undefined {
    const entry = this.#lru?.get(ref.id)
    if (!entry || entry.sha256 !== ref.sha256 || entry.data.length !== ref.len) return undefined
    return entry.data
  }

  has(id: ChunkId): boolean {
    return this.#lru?.has(id) ?? false
  }

  /**
   * Cache bytes verified against ref. The cache keeps this buffer, so nobody may modify it afterwards
   * (hand in a copy if the buffer is yours to reuse). A view into a larger buffer is copied, or it
   * would pin all of that memory while only its length counts. A chunk larger than the whole cache
   * is not stored.
   */
  set(ref: Pick<ChunkRef, 'id' | 'sha256'>, data: Buffer): void {
    if (!this.#lru || data.length > this.maxBytes) return
    const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : exactCopy(data)
    this.#lru.set(ref.id, { data: own, sha256: ref.sha256 })
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

/** A copy in memory of its own (Buffer.from would put a small one in Node's shared 8 KiB pool). */
export function exactCopy(data: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(data.length)
  copy.set(data)
  return copy
}
