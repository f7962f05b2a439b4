// Where a file's chunks are, as the NameNode tells it (the `placement` request, docs/protocol.md):
// what `dfs info --json`, the xattr user.dfs.placement and the dashboard's file view show. The
// NameNode computes it (namenode/filePlacement.ts); clients and tools only read it.

import type { NodeState } from '../cluster/nodeState.js'

/** One copy of a chunk. */
export interface CopyPlacement {
  nodeId: string
  /** Where the node is ('?' for a node the registry does not know). */
  address: string
  /** The node's state in one word (cluster/nodeState.ts), or unknown (a node the registry does not know). */
  node: NodeState | 'unknown'
  /** This copy: ok, bad (the healer knows it is corrupt or missing), unreachable (its node is not alive). */
  state: 'ok' | 'bad' | 'unreachable'
  /** When this copy's SHA-256 last checked out (the scrubber, a repair's read or put), ms since the epoch (whole seconds). */
  verifiedAt?: number
}

export interface ChunkPlacement {
  index: number
  id: string
  offset: number
  length: number
  sha256: string
  copies: CopyPlacement[]
  /** Copies in state ok. */
  intact: number
}

export interface FilePlacement {
  /** The path asked about (empty when asked by inode number only). */
  path: string
  ino: number
  type: 'file' | 'dir' | 'symlink' | 'other'
  size: number
  chunkSize: number
  replicas: number
  /** Holes (never written) are left out; a directory, symlink or special file has none. */
  chunks: ChunkPlacement[]
}

/** A page of a file's chunks (a ChunkRange asked for): `next` is the chunk index the next page starts at. */
export type PagedPlacement = FilePlacement & { next?: number }
