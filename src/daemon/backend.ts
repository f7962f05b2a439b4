// What a mount daemon serves a mount from: a NameNode session (the namespace), chunk I/O with the
// DataNodes, and the cluster commands. Two kinds: embedded (src/daemon/embedded.ts: the NameNode
// runs inside the daemon) and remote (src/client/remoteMount.ts: a `dfs namenode` over TCP).

import type { ChunkIO, NameNodeSession } from '../fs/ports.js'
import type { NamespaceRecord } from '../meta/namespace/records.js'
import type { ControlHandler } from './control.js'
import type { ChunkStore } from '../chunks/ChunkStore.js'

export interface MountBackend {
  session: NameNodeSession
  /** With its counters: the mount reports its chunk I/O per node and its failovers to the NameNode. */
  chunks: ChunkIO & Pick<ChunkStore, 'nodeIo' | 'stats'>
  chunkSize: number
  /** Other clients share the namespace (a NameNode's client): the kernel must not cache names. */
  shared: boolean
  /** Hear every change of the namespace, whoever makes it (embedded: every commit); see fuse/mount.ts. */
  onNamespaceChange?: (listener: (record?: NamespaceRecord) => void) => () => void
  /**
   * How long one kernel request may wait before libfuse answers it ETIMEDOUT (default 60 s): above
   * the longest wait the backend itself bounds, so that bound, not libfuse's, decides the error.
   */
  opTimeoutMs?: number
  /** For the "dfs: mounted" line: nodes, replicas, chunk size, where the metadata is. */
  summary: string
  /** Where the metadata lives, as the daemon registry records it (a folder, or the NameNode's address). */
  metaLabel: string
  /** `dfs status` for this mount. */
  status(mountpoint: string): Promise<unknown>
  /** `dfs balance | drain` and the rest of the cluster commands. */
  handlers(): Record<string, ControlHandler>
  /** The mount serves: start the background work held back until now (the embedded NameNode's services). */
  serving?(): void
  /** After the file system stored what it buffered: end the session, stop what runs, close. */
  close(): Promise<void>
}
