import type { ChunkId } from '../datanode/DataNode.js'

/**
 * Where a chunk is and how to recognise it intact: what the namespace records per chunk of a file.
 * The bytes are immutable: new content means a new chunk id. Read-only, as the namespace keeps them frozen.
 */
export interface ChunkRef {
  readonly id: ChunkId
  /** Length in bytes. */
  readonly len: number
  /** SHA-256 of the bytes, lowercase hex. Every read is checked against it. */
  readonly sha256: string
  /**
   * Ids of the nodes holding a copy, in placement order. Fewer than the copies wanted means
   * under-replicated. Empty for an erasure-coded chunk: its bytes live in its shards (`ec`).
   */
  readonly nodes: readonly string[]
  /**
   * Copies wanted, when the file's directory policy (`replicas:<R>`) differs from the cluster's R.
   * Absent: the cluster's R. Never set on an erasure-coded chunk or on a shard.
   */
  readonly copies?: number
  /** Erasure-coded (`ec:<k>+<m>`): the chunk is stored as k data and m parity shards, no copies. */
  readonly ec?: Stripe
}

/**
 * The shards of an erasure-coded chunk (chunks/layout.ts). Shard i < k holds bytes
 * [i * shardLen, (i + 1) * shardLen) of the chunk, zero-padded past its end; shards k.. are
 * Reed-Solomon parity. Each shard is itself a ChunkRef: its own id (a chunk file on one node), its
 * length (shardLen, the same for all, a multiple of 8), its own SHA-256 verified on every read, and
 * the node holding it (nodes: one id; empty while it is lost and not yet rebuilt). No two shards of
 * a stripe are on the same node. The chunk's own `sha256` is of its `len` bytes, as for any chunk.
 */
export interface Stripe {
  readonly k: number
  readonly m: number
  /** k + m of them, data shards first. */
  readonly shards: readonly ChunkRef[]
}
