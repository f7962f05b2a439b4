// Where a file's chunks are, as the NameNode tells it (the `placement` request, docs/protocol.md):
// what `dfs info --json`, the xattr user.dfs.placement and the dashboard's file view show. The
// NameNode computes it (namenode/filePlacement.ts); clients and tools only read it.

import type { NodeState } from '../cluster/nodeState.js'

/** One copy of a chunk (for an erasure-coded chunk: one shard, on its node). */
export interface CopyPlacement {
  /** Erasure-coded chunk: the index of the shard this node holds (shards: its id and SHA-256). */
  shard?: number
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
  /**
   * How the chunk is stored, as a policy is written: replicas:<R> or ec:<k>+<m>. (Absent from a
   * NameNode older than erasure coding: replicas, as many as the file's `replicas`.)
   */
  layout?: string
  /** Intact pieces the layout wants: R copies, or k + m shards. (Absent: the file's `replicas`.) */
  wanted?: number
  /** Intact pieces a read needs: one copy, or k shards. (Absent: 1.) */
  needed?: number
  /** Every node holding a piece: a copy, or for a stripe each shard's node (with `shard`). */
  copies: CopyPlacement[]
  /** Copies in state ok (a stripe: shards in state ok). */
  intact: number
  /** Erasure-coded: each shard, data shards first. */
  shards?: ShardPlacement[]
}

/** One shard of an erasure-coded chunk: its own chunk file on one node, verified by its own SHA-256. */
export interface ShardPlacement {
  index: number
  id: string
  length: number
  sha256: string
  /** The node holding it; absent while it is lost (not rebuilt yet). */
  nodeId?: string
  /** Its copy's state, or lost when no node holds it. */
  state: CopyPlacement['state'] | 'lost'
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
