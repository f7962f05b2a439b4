// No chunk is ever handed out without its checksum verified: this is the one place that checks.

import { dfsError } from '../errors.js'
import { sha256 } from '../util/sha256.js'
import type { ChunkRef } from './ChunkRef.js'

export { sha256 }

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
