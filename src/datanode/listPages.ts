// A node's chunk ids a page at a time, whatever the transport. A sweep that checked a whole listing
// across many turns of the event loop kept two thirds of a million ids alive long enough for the
// garbage collector to move them to the old generation: some 40 MiB per node of a million-file
// namespace that stayed in the daemon's RSS until the next full collection. Pages checked in one
// turn each die young.

import type { ChunkId, DataNode } from './DataNode.js'

/** Ids per page: what a caller checks in one turn of the event loop. */
export const LIST_PAGE = 4096

/** The node's ids in pages of at most LIST_PAGE (its own paging when it has one, else its whole list cut up). */
export async function* listPages(node: Pick<DataNode, 'list' | 'listPages'>): AsyncGenerator<ChunkId[]> {
  if (node.listPages) {
    yield* node.listPages()
    return
  }
  yield* pagesOf(await node.list())
}

/** ids cut into pages of at most LIST_PAGE. */
export function* pagesOf(ids: readonly ChunkId[]): Generator<ChunkId[]> {
  for (let at = 0; at < ids.length; at += LIST_PAGE) yield ids.slice(at, at + LIST_PAGE)
}
