// A scripted FilePlacement served a page at a time, as filePlacement() pages it (a chunk range).

import type { ChunkRange } from '../../src/namenode/filePlacement.js'
import type { FilePlacement, PagedPlacement } from '../../src/protocol/placement.js'

/** Chunks from index `from`, `limit` of them; `next` where the rest begin. */
export function pagedPlacement(placement: FilePlacement, { from, limit }: ChunkRange): PagedPlacement {
  const rest = placement.chunks.filter(c => c.index >= from)
  return { ...placement, chunks: rest.slice(0, limit), ...(rest.length > limit ? { next: rest[limit]!.index } : {}) }
}
