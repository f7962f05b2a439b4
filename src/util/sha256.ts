// SHA-256 of chunk-sized buffers, shared by the chunk layer (hash on write, verify on read) and the
// DataNodes (verify on put). The one place that decides where and how bytes are hashed.

import { createHash, webcrypto } from 'node:crypto'
import { hashShared } from './hashPool.js'

/**
 * Below this size a buffer is hashed on the calling thread; above it, off the thread, so the one
 * thread that answers FUSE is not busy hashing (about 2 ms per 4 MiB chunk). Handing work to another
 * thread costs more than hashing a small buffer outright.
 */
const OFF_THREAD_BYTES = 64 * 1024

/** How each hash was computed, for tests that pin the copies and hashes per operation. */
export const hashCounts = {
  /** Small buffers, hashed on the calling thread. */
  inline: 0,
  /** Shared memory, hashed on a worker thread without a copy (hashPool.ts). */
  shared: 0,
  /** Other memory, copied on the calling thread by WebCrypto, then hashed on libuv's pool. */
  copied: 0,
}

/** SHA-256 of data, lowercase hex. Large buffers from hashableBuffer() are hashed without a copy. */
export async function sha256(data: Uint8Array): Promise<string> {
  if (data.length < OFF_THREAD_BYTES) {
    hashCounts.inline++
    return createHash('sha256').update(data).digest('hex')
  }
  if (data.buffer instanceof SharedArrayBuffer) {
    hashCounts.shared++
    return hashShared(data)
  }
  hashCounts.copied++
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', data)).toString('hex')
}

/**
 * Shared memory handed out and not yet collected, at most. V8 does not count shared memory towards
 * its garbage collection limits (ordinary buffers it does): dead chunk buffers of shared memory would
 * pile up until something else made it collect. Past this, buffers are ordinary memory (hashed
 * through a copy), whose pressure makes V8 collect, which frees the shared ones in turn.
 */
export const SHARED_LIMIT = 128 * 1024 * 1024
let sharedBytes = 0
const collected = new FinalizationRegistry<number>(size => { sharedBytes -= size })

/**
 * Zeroed memory for bytes that will be hashed (chunk buffers, chunks read from disk): shared memory
 * once large enough to be hashed off the thread (and while under SHARED_LIMIT), so sha256() hands it
 * to a worker as it is.
 */
export function hashableBuffer(size: number): Buffer {
  if (size < OFF_THREAD_BYTES || sharedBytes + size > SHARED_LIMIT) return Buffer.alloc(size)
  const memory = new SharedArrayBuffer(size)
  sharedBytes += size
  // The memory object, not this view: every view of it (subarrays, the chunk cache's) keeps it.
  collected.register(memory, size)
  return Buffer.from(memory)
}
