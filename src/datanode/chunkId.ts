// Chunk ids become file names on a DataNode's disk and, later, arrive from the network. So they are
// validated strictly, by every transport method, before anything touches the disk: exactly 32
// lowercase hex digits, which can never be "..", contain a slash, or differ only in case.

import { randomBytes } from 'node:crypto'
import { dfsError } from '../errors.js'
import type { ChunkId } from './DataNode.js'

export const CHUNK_ID = /^[0-9a-f]{32}$/

/** Ids whose random bits are fetched in one call: one call into the generator per 256 chunks, not per chunk. */
const IDS_PER_FILL = 256
let pool = Buffer.alloc(0)
let taken = 0

/** A fresh chunk id: 128 random bits, so ids never collide and never need coordination. */
export function newChunkId(): ChunkId {
  if (taken === pool.length) {
    pool = randomBytes(16 * IDS_PER_FILL)
    taken = 0
  }
  const id = pool.toString('hex', taken, taken + 16)
  taken += 16
  return id
}

export function isChunkId(id: unknown): boolean {
  return typeof id === 'string' && CHUNK_ID.test(id)
}

/** Throw CHUNK_ID_INVALID unless id is 32 lowercase hex digits. `context` says where it came from. */
export function assertChunkId(id: unknown, context: Record<string, unknown> = {}): asserts id is ChunkId {
  if (isChunkId(id)) return
  throw dfsError('CHUNK_ID_INVALID', `invalid chunk id ${describe(id)}: expected 32 lowercase hex digits`, {
    ...context,
    chunk: typeof id === 'string' ? id.slice(0, 80) : String(id),
  })
}

// Keep messages short and printable whatever arrived (a network peer may send megabytes of junk).
function describe(id: unknown): string {
  if (typeof id !== 'string') return `of type ${id === null ? 'null' : typeof id}`
  const shown = id.length > 40 ? `${id.slice(0, 40)}...` : id
  return JSON.stringify(shown)
}
