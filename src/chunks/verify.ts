// No chunk is ever handed out without its checksum verified: this is the one place that checks.

import { createHash, webcrypto } from 'node:crypto'
import { dfsError } from '../errors.js'
import type { ChunkRef } from './ChunkRef.js'

/**
 * Below this size a chunk is hashed on the calling thread; above it, on libuv's thread pool, so the
 * one thread that answers FUSE is not busy hashing (about 2 ms per 4 MiB chunk). Handing work to the
 * pool costs more than hashing a small chunk outright.
 */
const OFF_THREAD_BYTES = 64 * 1024

/** SHA-256 of data, lowercase hex. */
export async function sha256(data: Uint8Array): Promise<string> {
  if (data.length < OFF_THREAD_BYTES) return createHash('sha256').update(data).digest('hex')
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', data)).toString('hex')
}

/** Throw CHUNK_CORRUPT unless data has the length and SHA-256 the ref records. */
export async function verifyChunk(ref: Pick<ChunkRef, 'id' | 'len' | 'sha256'>, data: Buffer, context: Record<string, unknown> = {}): Promise<void> {
  if (data.length !== ref.len) {
    throw dfsError('CHUNK_CORRUPT', `chunk ${ref.id} has ${data.length} bytes, expected ${ref.len}`, {
      ...context,
      chunk: ref.id,
      len: data.length,
      expectedLen: ref.len,
    })
  }
  const actual = await sha256(data)
  if (actual !== ref.sha256) {
    throw dfsError('CHUNK_CORRUPT', `chunk ${ref.id} fails its SHA-256 check`, {
      ...context,
      chunk: ref.id,
      sha256: actual,
      expectedSha256: ref.sha256,
    })
  }
}
