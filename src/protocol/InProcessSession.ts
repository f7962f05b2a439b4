// The embedded transport: a client session on a NameNode in the same process. Plain calls, no
// socket, no copy of the namespace: `state` is the NameNode's own, so refresh() has nothing to wait
// for (unless a client over TCP holds the sole writer's lease: see refresh). This is what `dfs mount --meta … --nodes …` (and `npm run demo`) runs.

import { dfsError } from '../errors.js'
import type { ApplyResult } from '../meta/namespace/apply.js'
import type { ChunkRef, NamespaceState } from '../meta/namespace/types.js'
import { randomUUID } from 'node:crypto'
import type { NameNode, Session } from '../namenode/NameNode.js'
import type { FilePlacement } from './placement.js'
import type { ClientTable } from '../namenode/clients.js'
import type { ClientRecord, ClientReport, CommitOptions, NameNodeSession, SessionSettings } from './api.js'

/** What the NameNode host adds to a session; a file system core test without a cluster leaves them out. */
export interface InProcessParts {
  /** Where an inode's chunks are (absent: placement is ENOTSUP). */
  placement?: (ino: number, path?: string) => FilePlacement
  /** The NameNode's clients: this one reports there, with a direct call. */
  clients?: ClientTable
}

export class InProcessSession implements NameNodeSession {
  private readonly session: Session
  private readonly clientId = randomUUID()
  private ended = false

  constructor(
    private readonly nameNode: NameNode,
    readonly settings: SessionSettings,
    private readonly capacityOf: () => Promise<{ total: number; available: number }>,
    private readonly parts: InProcessParts = {},
  ) {
    this.session = nameNode.openSession(false)
  }

  get state(): NamespaceState {
    return this.nameNode.state
  }

  /** Nothing to wait for: the NameNode is in this process. */
  stopping(): void {}

  async commit(record: ClientRecord, options?: CommitOptions): Promise<ApplyResult> {
    // A client of this NameNode's server that holds the sole writer's lease gives it up first.
    for (let wait; (wait = this.nameNode.beforeLocalCommit?.());) await wait
    // One NameNode for the life of the session: the seq has nothing to tell it (see RemoteNameNode).
    return this.nameNode.commit(this.session, record, options).result
  }

  async sync(): Promise<void> {
    await this.nameNode.sync()
  }

  /**
   * `state` is the NameNode's own, so nothing is on its way, unless a client of the NameNode's
   * server holds the sole writer's lease: it answers creates before they reach here (a lease
   * granted before this session opened), so it gives the lease up first, as for a commit.
   */
  async refresh(): Promise<void> {
    for (let wait; (wait = this.nameNode.beforeLocalRefresh?.());) await wait
  }

  async opened(ino: number): Promise<void> {
    this.nameNode.opened(this.session, ino)
  }

  closed(ino: number): void {
    this.nameNode.closed(this.session, ino)
  }

  abandon(refs: readonly ChunkRef[]): void {
    this.nameNode.abandon(refs)
  }

  reportBadCopy(ref: ChunkRef, nodeId: string, reason: { code: string; message: string }): void {
    this.nameNode.reportBadCopy(ref, nodeId, reason)
  }

  report(report: ClientReport): void {
    // Its chunk store is the NameNode's own: inProcess says so, so its node I/O is not counted twice.
    if (!this.ended) this.parts.clients?.report(this.clientId, report, { inProcess: true })
  }

  capacity(): Promise<{ total: number; available: number }> {
    return this.capacityOf()
  }

  async placement(ino: number, path?: string): Promise<FilePlacement> {
    if (!this.parts.placement) throw dfsError('ENOTSUP', 'this session has no cluster to tell where chunks are', { ino })
    return this.parts.placement(ino, path)
  }

  async close(): Promise<void> {
    this.ended = true
    this.nameNode.endSession(this.session)
    this.parts.clients?.leave(this.clientId)
  }
}
