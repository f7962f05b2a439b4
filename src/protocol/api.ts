// The one protocol between the client side (fs/, fuse/, the chunk cache) and the NameNode side
// (namenode/, meta/, cluster/). A client sees the NameNode only through NameNodeSession; two
// transports implement it: InProcessSession (the embedded default: `dfs mount --meta … --nodes …`,
// plain calls, no socket) and RemoteNameNode (TCP to `dfs namenode`). docs/protocol.md describes the
// wire form of every call below; keep the two in step.
//
// What a session promises (the consistency clients rely on):
// - `state` is the namespace as this client sees it. Embedded it is the NameNode's own; over TCP it
//   is a replica the NameNode keeps current by pushing every journal record, in order, on the
//   session's connection before it answers any later call. So a commit's answer finds its own record
//   applied, and invalidation is by push, not by a timer.
// - `refresh()` is the close-to-open point: once it resolves, `state` holds every record any client
//   committed before the call. Opens call it.
// - All chunk deletions happen at the NameNode: records that drop chunks (a replaced chunk, a
//   truncate, an inode that lost its last name and its last open) are followed there by deletes once
//   durable. A client only says which chunks it stored but never committed (`abandon`).

import type { DfsError } from '../errors.js'
import type { ApplyResult } from '../meta/namespace/apply.js'
import type { NamespaceRecord } from '../meta/namespace/records.js'
import type { ChunkRef, NamespaceState } from '../meta/namespace/types.js'
import type { FilePlacement } from './placement.js'
import type { ClientAbout, ClientCounters } from './clientStats.js'

/** Records a client may commit. `forget` and `replicas` are the NameNode's own. */
export type ClientRecord = Exclude<NamespaceRecord, { op: 'forget' } | { op: 'replicas' }>
export const CLIENT_OPS: ReadonlySet<string> = new Set<ClientRecord['op']>([
  'mknod', 'link', 'unlink', 'rename', 'setattr', 'chunk', 'truncate', 'xattr',
])

export interface CommitOptions {
  /** Register the inode the record makes (mknod) as open by this session, in the same step (create). */
  open?: boolean
  /**
   * A mknod the client answered ahead of the NameNode (docs/protocol.md, "Creates answered
   * ahead"): the inode number it gave the new inode. The NameNode refuses the record
   * (CREATE_AHEAD_REFUSED) when its next inode number is another, so the two never disagree on it.
   */
  ino?: number
}

/** What a mount tells its NameNode about itself: who it is, and its counters since it started. */
export interface ClientReport {
  about: ClientAbout
  counters: ClientCounters
}

/** The cluster's fixed settings, as a client needs them. */
export interface SessionSettings {
  clusterId: string
  chunkSize: number
  replicas: number
}

export interface NameNodeSession {
  readonly settings: SessionSettings
  /** The namespace as this client sees it (see the top of the file). */
  readonly state: NamespaceState
  /** Validate, apply and journal one change at the NameNode; throws a DfsError (POSIX code) when it does not fit. */
  commit(record: ClientRecord, options?: CommitOptions): Promise<ApplyResult>
  /** Resolves when every record this client committed is durable in the NameNode's journal. */
  sync(): Promise<void>
  /**
   * The mount is stopping: when the NameNode cannot be reached (now, or once lost later), requests
   * wait for it one --namenode-timeout from then, and after that fail at once (NAMENODE_UNAVAILABLE)
   * while it stays unreachable; one that comes back is waited for afresh if lost again. So a stop
   * waits for a NameNode that went away once per outage, not once per request it still makes. And a
   * sync that one before it already covered is not asked (nothing to wait for).
   */
  stopping(): void
  /**
   * Hear of a file this client made that the NameNode never took (a create answered ahead, over TCP;
   * never in process): its open files must fail and commit nothing more, as its inode number may be
   * another file's at the NameNode.
   */
  onInodeLost?(listener: (ino: number, err: DfsError) => void): void
  /** Close-to-open: resolves once `state` holds every record committed anywhere before the call. */
  refresh(): Promise<void>
  /** This client opened the inode: a file that loses its last name stays until `closed`. */
  opened(ino: number): Promise<void>
  closed(ino: number): void
  /** Chunks this client stored but never committed: the NameNode deletes them. */
  abandon(refs: readonly ChunkRef[]): void
  /** A copy this client found missing, corrupt or unreachable (the NameNode repairs it). */
  reportBadCopy(ref: ChunkRef, nodeId: string, reason: { code: string; message: string }): void
  /**
   * Who this client is and its counters so far (cumulative: the latest report replaces the one
   * before). One-way; the NameNode shows its clients from these (`dfs status`, the dashboard).
   */
  report(report: ClientReport): void
  /** Cluster capacity in bytes after replication (statfs). */
  capacity(): Promise<{ total: number; available: number }>
  /** Where an inode's chunks are and how each copy stands (`dfs info`, user.dfs.placement); `path` is echoed back. */
  placement(ino: number, path?: string): Promise<FilePlacement>
  /** End the session (its opens are released). */
  close(): Promise<void>
}
