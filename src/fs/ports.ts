// What the file system core needs from the rooms below it. Naming the needs here (rather than
// importing the concrete classes) keeps the core testable and the dependency direction one way.

import type { ApplyResult } from '../meta/namespace/apply.js'
import type { NamespaceRecord } from '../meta/namespace/records.js'
import type { ChunkRef, NamespaceState } from '../meta/namespace/types.js'

/** The journaled namespace (MetaStore over the namespace machine). */
export interface NamespaceStore {
  readonly state: NamespaceState
  /** Validate, apply and journal one change; throws a DfsError (POSIX code) when it does not fit. */
  commit(record: NamespaceRecord): ApplyResult
  /** Resolves when every record committed so far is durable. */
  sync(): Promise<void>
  /** Run fn once every record committed so far is durable. */
  afterDurable(fn: () => void): void
}

/** Chunk I/O across the DataNodes (the ChunkStore). */
export interface ChunkIO {
  write(data: Buffer): Promise<ChunkRef>
  /** Verified bytes of a chunk, failing over between replicas. */
  read(ref: ChunkRef): Promise<Buffer>
  prefetch(ref: ChunkRef): void
  /** Make the given chunks durable on the nodes that hold them. */
  sync(refs: ChunkRef[]): Promise<void>
  delete(ids: string[]): Promise<void>
}

/** Capacity of the cluster as the file system reports it to statfs (bytes, after replication). */
export interface CapacityReport {
  capacity(): Promise<{ total: number; available: number }>
}
