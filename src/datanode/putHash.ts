// A DataNode stores a chunk only with the bytes its writer hashed: the writer's SHA-256 travels with
// every put and is checked here, by every transport, before the chunk becomes visible. A writer that
// changed its bytes after hashing them (or a network that damaged them) gets a refusal, not a chunk
// that every later read calls corrupt.

import { dfsError } from '../errors.js'
import { sha256 } from '../util/sha256.js'
import type { ChunkId } from './DataNode.js'

/** Throw CHUNK_HASH_MISMATCH unless data has the SHA-256 (lowercase hex) its put carries. */
export async function checkPutHash(id: ChunkId, data: Uint8Array, expected: string, node: string): Promise<void> {
  const actual = await sha256(data)
  if (actual === expected) return
  throw dfsError(
    'CHUNK_HASH_MISMATCH',
    `node ${node} refused chunk ${id}: its ${data.length} bytes do not have the SHA-256 the put carries`,
    { node, chunk: id, len: data.length, sha256: actual, expectedSha256: expected },
  )
}
