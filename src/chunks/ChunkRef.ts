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
  /** Ids of the nodes holding a copy, in placement order. Fewer than R means under-replicated. */
  readonly nodes: readonly string[]
}
