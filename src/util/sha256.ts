// SHA-256 of chunk-sized buffers, shared by the chunk layer (hash on write, verify on read) and the
// DataNodes (verify on put). The one place that decides where and how bytes are hashed.

import * as crypto from 'node:crypto'
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
  /** Hashed by the thread that read the bytes, as it read them (rememberHash). */
  whileRead: 0,
}

/**
 * Hashes computed by whoever filled a buffer, in the same job that filled it (a chunk reader thread:
 * datanode/chunkReaders.ts), keyed by the very buffer object handed out. Nothing writes to such a
 * buffer afterwards (chunks are immutable once read), so its hash is still the hash of its bytes.
 */
const knownHashes = new WeakMap<Uint8Array, string>()

/** Record the SHA-256 of data's bytes, computed as they were read into it: sha256(data) answers it. */
export function rememberHash(data: Uint8Array, hex: string): void {
  knownHashes.set(data, hex)
}

/**
 * SHA-256 on the calling thread, at once, as lowercase hex or as bytes. A file created hashes a few
 * small inputs on the thread that answers FUSE (its bytes, each node's placement score, each journal
 * record's checksum): node's one-shot crypto.hash (20.12 and later) makes no Hash object per call,
 * which cost about twice as much. Older versions take the Hash object.
 */
export const sha256Hex: (data: string | Uint8Array) => string = typeof crypto.hash === 'function'
  ? (data) => crypto.hash('sha256', data, 'hex')
  : (data) => crypto.createHash('sha256').update(data).digest('hex')
export const sha256Bytes: (data: string | Uint8Array) => Buffer = typeof crypto.hash === 'function'
  ? (data) => crypto.hash('sha256', data, 'buffer')
  : (data) => crypto.createHash('sha256').update(data).digest()

/** SHA-256 of data, lowercase hex. Large buffers from hashableBuffer() are hashed without a copy. */
export async function sha256(data: Uint8Array): Promise<string> {
  const known = knownHashes.get(data)
  if (known !== undefined) {
    hashCounts.whileRead++
    return known
  }
  if (data.length < OFF_THREAD_BYTES) {
    hashCounts.inline++
    return sha256Hex(data)
  }
  if (data.buffer instanceof SharedArrayBuffer) {
    hashCounts.shared++
    return hashShared(data)
  }
  hashCounts.copied++
  return Buffer.from(await crypto.webcrypto.subtle.digest('SHA-256', data)).toString('hex')
}

/**
 * Shared memory handed out and not yet collected, at most. V8 does not count shared memory towards
 * its garbage collection limits (ordinary buffers it does): dead chunk buffers of shared memory would
 * pile up until something else made it collect. Past this, buffers are ordinary memory (hashed
 * through a copy), whose pressure makes V8 collect, which frees the shared ones in turn.
 */
export const SHARED_LIMIT = 128 * 1024 * 1024
let sharedBytes = 0
/**
 * Shared memory known to be alive, held by its one owner: the chunk cache's own chunks (holdShared)
 * and recycled memory waiting for reuse. None of it is garbage V8 fails to see, so it does not count
 * towards SHARED_LIMIT: a full cache of chunks it read must not push every later read into ordinary
 * memory, hashed through a copy.
 */
let heldBytes = 0
const collected = new FinalizationRegistry<number>(size => { sharedBytes -= size })

/**
 * Zeroed memory for bytes that will be hashed (chunk buffers, chunks read from disk): shared memory
 * once large enough to be hashed off the thread (and while under SHARED_LIMIT), so sha256() hands it
 * to a worker as it is.
 */
export function hashableBuffer(size: number): Buffer {
  if (size < OFF_THREAD_BYTES || sharedBytes - heldBytes + size > SHARED_LIMIT) return Buffer.alloc(size)
  const memory = sharedMemory(size)
  sharedBytes += size
  // The memory object, not this view: every view of it (subarrays, the chunk cache's) keeps it.
  collected.register(memory, size)
  return Buffer.from(memory)
}

/**
 * Shared memory of a multiple of this size (and at least ALIGNED_MIN_BYTES) starts on a page
 * boundary, so a chunk file can be read into it with O_DIRECT (datanode/readWhole.ts). Memory from
 * `new SharedArrayBuffer` comes from malloc, 16 bytes past a page boundary, which O_DIRECT refuses; a
 * WebAssembly memory is mapped on its own pages, and its pages are 64 KiB.
 */
export const ALIGNED_UNIT = 64 * 1024
/**
 * Smaller memory is never aligned: only chunks this large are read with O_DIRECT (readWhole.ts says
 * why), and an aligned memory is dear in address space (ALIGNED_LIMIT).
 */
export const ALIGNED_MIN_BYTES = 1024 * 1024
/**
 * WebAssembly memories alive at most; past it, chunk memory is ordinary shared memory (read through
 * the page cache). V8 reserves about 10 GiB of address space for each one, whatever its size (guard
 * regions that spare bounds checks): some 13,000 alive take all of a process's 128 TiB, and then every
 * mmap fails (V8's own heap included) and each new memory costs three full collections first. A chunk
 * cache holds as many chunks as fit (--cache 1G of 1 MiB chunks: 1,024). 1,024 of them: 10 TiB.
 */
export const ALIGNED_LIMIT = 1024
let alignedAlive = 0
const alignedCollected = new FinalizationRegistry<undefined>(() => { alignedAlive-- })
/** The page-aligned memories handed out (WebAssembly memories' buffers), for isPageAligned(). */
const alignedMemories = new WeakSet<SharedArrayBuffer>()

/**
 * Whether data can be written or read with O_DIRECT as it is: it starts on a page boundary of an
 * aligned memory (see ALIGNED_UNIT) and is a whole number of ALIGNED_UNITs, at least ALIGNED_MIN_BYTES.
 */
export function isPageAligned(data: Uint8Array): boolean {
  return data.buffer instanceof SharedArrayBuffer && alignedMemories.has(data.buffer) &&
    data.byteOffset % ALIGNED_UNIT === 0 && data.byteLength % ALIGNED_UNIT === 0 && data.byteLength >= ALIGNED_MIN_BYTES
}

/** Zeroed shared memory, page-aligned when its size allows it (see ALIGNED_UNIT) and the engine does. */
function sharedMemory(size: number): SharedArrayBuffer {
  if (size >= ALIGNED_MIN_BYTES && size % ALIGNED_UNIT === 0 && alignedAlive < ALIGNED_LIMIT) {
    const pages = size / ALIGNED_UNIT
    try {
      // The buffer keeps the memory alive by itself; the Memory object may go.
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer as unknown as SharedArrayBuffer
      alignedAlive++
      alignedCollected.register(memory, undefined)
      alignedMemories.add(memory)
      return memory
    } catch {
      // Address space for WebAssembly memories exhausted: unaligned memory works too, read buffered.
    }
  }
  return new SharedArrayBuffer(size)
}

/**
 * Recycled chunk memory kept for reuse, at most. A cold sequential read fetches a chunk every few
 * milliseconds while the chunk cache evicts one: without reuse each fetch maps, faults in and zeroes
 * fresh memory (about a quarter of a cold read's CPU), and pushes V8 towards collections.
 */
export const RECYCLED_LIMIT = 32 * 1024 * 1024
/** Recycled memory by size, ready to hand out; recycled in this turn of the event loop (see recycle). */
const free = new Map<number, SharedArrayBuffer[]>()
let freeBytes = 0
let pending: SharedArrayBuffer[] = []

/** Where fillableBuffer() memory came from, for tests that pin its reuse. */
export const memoryCounts = {
  /** Recycled memory handed out again. */
  reused: 0,
  /** Memory allocated (fresh shared memory, or ordinary memory). */
  fresh: 0,
  /** Buffers given back to recycle() and kept. */
  recycled: 0,
}

/**
 * Hashable memory (as hashableBuffer) that the caller overwrites completely before anyone reads it:
 * a chunk read from disk or the network. It may be recycled memory, NOT zeroed.
 */
export function fillableBuffer(size: number): Buffer {
  const list = free.get(size)
  const memory = list?.pop()
  if (memory) {
    if (list!.length === 0) free.delete(size)
    freeBytes -= size
    heldBytes -= size
    memoryCounts.reused++
    return Buffer.from(memory)
  }
  memoryCounts.fresh++
  return hashableBuffer(size)
}

/**
 * Give back held memory (holdShared) that NOTHING else references any more, not even a view of it;
 * only its sole owner may (the chunk cache, for chunks it read and never handed out). Other memory
 * is ignored. It becomes reusable in a later turn of the event loop, never in this one: a
 * continuation still running in this turn may be copying out of it (ChunkStore.readInto).
 */
export function recycle(data: Uint8Array): void {
  const memory = wholeShared(data)
  if (!memory) return
  if (freeBytes + memory.byteLength > RECYCLED_LIMIT) dropFree(memory.byteLength)
  if (freeBytes + memory.byteLength > RECYCLED_LIMIT) {
    releaseShared(data)
    return
  }
  freeBytes += memory.byteLength
  memoryCounts.recycled++
  if (pending.length === 0) setImmediate(releasePending).unref()
  pending.push(memory)
}

/**
 * Make room for memory of `size` by letting go of free memory of other sizes, the sizes recycled
 * longest ago first: the last chunk of each file has a size of its own that may never be asked for
 * again, and must not keep chunk-sized memory out of the pool for good.
 */
function dropFree(size: number): void {
  for (const [each, list] of free) {
    if (each === size) continue
    while (list.length > 0 && freeBytes + size > RECYCLED_LIMIT) {
      list.pop()
      freeBytes -= each
      heldBytes -= each // no longer known to be alive: garbage, counted until collected
    }
    if (list.length === 0) free.delete(each)
    if (freeBytes + size <= RECYCLED_LIMIT) return
  }
}

function releasePending(): void {
  for (const memory of pending) {
    const list = free.get(memory.byteLength)
    if (list) list.push(memory)
    else free.set(memory.byteLength, [memory])
  }
  pending = []
}

/**
 * The sole owner of data (the chunk cache, for a chunk it read and handed to nobody) holds it from
 * now on, until it hands it out (releaseShared) or recycles it. Other memory is ignored.
 */
export function holdShared(data: Uint8Array): void {
  const memory = wholeShared(data)
  if (memory) heldBytes += memory.byteLength
}

/**
 * Give back fillableBuffer() memory whose one holder is done with it and never handed it on (a
 * DataNode server's PUT payload once the put has settled, a GET reply once the socket has sent it):
 * reused for the next chunk instead of fresh memory, whose first touch is dear on a VM. Only whole
 * shared memory is taken; other memory is left to the garbage collector.
 */
export function giveBack(data: Uint8Array): void {
  holdShared(data)
  recycle(data)
}

/** Held memory (holdShared) handed out: no longer known to be alive. */
export function releaseShared(data: Uint8Array): void {
  const memory = wholeShared(data)
  if (memory) heldBytes -= memory.byteLength
}

function wholeShared(data: Uint8Array): SharedArrayBuffer | undefined {
  const memory = data.buffer
  return memory instanceof SharedArrayBuffer && data.byteOffset === 0 && data.byteLength === memory.byteLength ? memory : undefined
}
