// The one interface every DataNode transport implements (local folder now, TCP server later).
// A DataNode stores immutable chunks by id and knows nothing of files, inodes or replication:
// the chunk layer above decides what goes where and verifies every byte it reads back.

import type { ClaimRequest } from './claim.js'

/** 32 lowercase hex digits (128 random bits). Validated strictly: ids become file names. */
export type ChunkId = string

export interface NodeIdentity {
  /** Stable id of this node, written into its folder the first time it joins a cluster. */
  nodeId: string
  clusterId: string
}

export interface NodeUsage {
  /** Bytes the underlying storage can hold in total, and how many are still free. */
  capacity: number
  available: number
  /** Bytes and count of the chunks this node stores (those counted so far, while `counting`). */
  used: number
  chunks: number
  /**
   * The node is still counting its chunks after it opened (a stat per chunk: seconds for a million),
   * so `used` and `chunks` are short by the ones not reached yet. Absent once counted.
   */
  counting?: true
  /**
   * The filesystem holding the chunks (host id and device number; see device.ts). Nodes that name the
   * same device share its capacity. Absent from older TCP servers: such a node counts on its own.
   */
  device?: string
}

/** What the caller of a put knows that can spare the node work. */
export interface PutHint {
  /**
   * The caller made the id just now and puts it nowhere twice (a new chunk's first copies), so the
   * node holds no earlier copy to replace, and nobody asks for the id before this put returns (the
   * node may write it in place rather than whole-or-nothing). A repair or a retry must not say so.
   */
  fresh?: boolean
}

/** What a reader knows of the chunk it asks for (DataNode.get). */
export interface GetHint {
  /** The chunk's length, as its ref records it. */
  len?: number
}

export interface DataNode {
  readonly nodeId: string
  /** What the user typed to name this node: a folder path or tcp://host:port. */
  readonly address: string

  /**
   * Store a chunk under id. Atomic: a reader sees the whole chunk or none (but see PutHint.fresh).
   * Not yet durable (see sync).
   * `sha256` (lowercase hex) is the hash the writer computed and will record: a node refuses bytes
   * that do not have it (CHUNK_HASH_MISMATCH) and stores nothing, so no chunk is ever stored with a
   * hash of other bytes.
   */
  put(id: ChunkId, data: Buffer, sha256: string, hint?: PutHint): Promise<void>
  /**
   * The chunk's bytes; CHUNK_MISSING when this node does not have it. Callers verify the hash.
   * `hint.len`: the length the caller's ref records (a node may read a chunk of that length faster).
   */
  get(id: ChunkId, hint?: GetHint): Promise<Buffer>
  has(id: ChunkId): Promise<boolean>
  /** Remove a chunk; removing one that is not there is not an error. */
  delete(id: ChunkId): Promise<void>
  /** Every chunk id this node stores. */
  list(): Promise<ChunkId[]>
  /**
   * The same ids a page at a time (listPages.ts): a caller that checks each page as it comes never
   * holds a node's whole listing (two thirds of a million ids for a node of a million-file namespace).
   * Optional: stand-ins in tests list only whole.
   */
  listPages?(): AsyncIterable<ChunkId[]>
  usage(): Promise<NodeUsage>
  /** Make earlier puts of these ids durable (fsync the files and their folders). */
  sync(ids: ChunkId[]): Promise<void>
  /**
   * Fencing (claim.ts): take, refresh or (with check) test a NameNode epoch claim. Deletes are
   * refused (FENCED) from anyone but the holder of the node's current claim. Optional: stand-ins in
   * tests have no claim and are not fenced.
   */
  claim?(request: ClaimRequest): Promise<unknown>
  /** Liveness check: resolves when the node is there and is the node it claims to be. */
  ping(): Promise<void>
  close(): Promise<void>
}
