// SHA-256 of chunk-sized buffers, shared by the chunk layer (hash on write, verify on read) and the
// DataNodes (verify on put).

import { createHash, webcrypto } from 'node:crypto'

/**
 * Below this size a chunk is hashed on the calling thread; above it, on libuv's thread pool, so the
 * one thread that answers FUSE is not busy hashing (about 2 ms per 4 MiB chunk). Handing work to the
 * pool costs more than hashing a small chunk outright. WebCrypto hashes a copy taken at the call.
 */
const OFF_THREAD_BYTES = 64 * 1024

/** SHA-256 of data, lowercase hex. */
export async function sha256(data: Uint8Array): Promise<string> {
  if (data.length < OFF_THREAD_BYTES) return createHash('sha256').update(data).digest('hex')
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', data)).toString('hex')
}
