// A DataNode stores a chunk only with the bytes its writer hashed: the writer's SHA-256 travels with
// every put and is checked here, by every transport, before the chunk becomes visible. A writer that
// changed its bytes after hashing them (or a network that damaged them) gets a refusal, not a chunk
// that every later read calls corrupt.
//
// A writer in this process puts one Buffer on R local nodes at once: the checks of those puts share
// one hash of it. It is still taken at put time (a writer that changed the bytes after its own hash is
// still caught), only not once per node, since the nodes would all read the same memory.

import { dfsError } from '../errors.js'
import { sha256 } from '../util/sha256.js'
import type { ChunkId } from './DataNode.js'

/** Hashes of buffers being checked right now, by the buffer: what a concurrent put of it reuses. */
const checking = new WeakMap<Uint8Array, Promise<string>>()

/** Throw CHUNK_HASH_MISMATCH unless data has the SHA-256 (lowercase hex) its put carries. */
export async function checkPutHash(id: ChunkId, data: Uint8Array, expected: string, node: string): Promise<void> {
  let hashing = checking.get(data)
  if (!hashing) {
    const started = sha256(data)
    hashing = started
    checking.set(data, started)
    const forget = () => { if (checking.get(data) === started) checking.delete(data) }
    started.then(forget, forget)
  }
  const actual = await hashing
  if (actual === expected) return
  throw dfsError(
    'CHUNK_HASH_MISMATCH',
    `node ${node} refused chunk ${id}: its ${data.length} bytes do not have the SHA-256 the put carries`,
    { node, chunk: id, len: data.length, sha256: actual, expectedSha256: expected },
  )
}
