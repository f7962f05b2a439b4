// Where a file's chunks live (`dfs info`, the xattr user.dfs.placement, the dashboard's file view).
// CONTRACT ONLY: the info part of issue 10 implements filePlacement() here.

/** One copy of a chunk. */
export interface CopyPlacement {
  nodeId: string
  address: string
  /** The node's health (alive, suspect, dead; full, draining). */
  node: string
  /** This copy: ok, bad (the healer knows it is corrupt or missing), unreachable (its node is not alive). */
  state: 'ok' | 'bad' | 'unreachable'
  /** When the scrubber (or a read) last verified this copy's SHA-256, ms since the epoch. */
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
  path: string
  ino: number
  size: number
  chunkSize: number
  replicas: number
  /** Holes (never written) are left out. */
  chunks: ChunkPlacement[]
}
