// What the file system core needs from the rooms below it. Naming the needs here (rather than
// importing the concrete classes) keeps the core testable and the dependency direction one way.
// The namespace is reached only through a NameNode session (src/protocol/api.ts): in-process in the
// embedded mount, over TCP for `dfs mount --namenode`.

import type { Layout } from '../chunks/layout.js'
import type { ChunkRef } from '../meta/namespace/types.js'

export type { NameNodeSession } from '../protocol/api.js'

/** Chunk I/O with the DataNodes (the ChunkStore). Deleting is not here: only the NameNode deletes. */
export interface ChunkIO {
  /** Store data as a new chunk in `layout` (copies or a stripe); absent: the cluster's R copies. */
  write(data: Buffer, layout?: Layout): Promise<ChunkRef>
  /** Verified bytes of a chunk, failing over between replicas. */
  read(ref: ChunkRef): Promise<Buffer>
  /**
   * Copy bytes [from, from + length) of a chunk, verified as read() verifies them, into out at `at`:
   * the number copied (short at the chunk's end). The reader never holds the chunk's buffer.
   */
  readInto(ref: ChunkRef, from: number, out: Uint8Array, at: number, length: number): Promise<number>
  prefetch(ref: ChunkRef): void
  /** The writer of data (written as ref) holds it no more: its memory may be recycled (ChunkStore.release). */
  release(ref: ChunkRef, data: Buffer): void
  /** Make the given chunks durable on the nodes that hold them. */
  sync(refs: ChunkRef[]): Promise<void>
}

/** Capacity of the cluster as the file system reports it to statfs (bytes, after replication). */
export interface CapacityReport {
  capacity(): Promise<{ total: number; available: number }>
}
