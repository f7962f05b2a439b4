// The NameNode's namespace service: what every client session asks of it. It applies client records
// through the journaled store, and owns what follows from them: chunks a record dropped are deleted
// once the record is durable, and an inode that lost its last name is forgotten once no session has
// it open (like ext4's orphan list, across clients). Sessions are the clients: the embedded mount's
// in-process one, and one per TCP connection (src/namenode/server.ts).

import { isShort, storedIds } from '../chunks/layout.js'
import { type DfsError, dfsError } from '../errors.js'
import { levelled } from '../log/Log.js'
import type { ApplyResult, RenameResult } from '../meta/namespace/apply.js'
import { type NamespaceRecord, namedInodes } from '../meta/namespace/records.js'
import { type ChunkRef, type Inode, type NamespaceState } from '../meta/namespace/types.js'
import { CLIENT_OPS, type ClientRecord, type CommitOptions } from '../protocol/api.js'
import { checkPolicyRecord } from './policyCheck.js'

/** The journaled namespace as the NameNode uses it (MetaStore over the namespace machine). */
export interface NamespaceLog {
  readonly state: NamespaceState
  /** The journal seq of the last record committed (or replayed). */
  readonly lastSeq: number
  commit(record: NamespaceRecord): ApplyResult
  sync(): Promise<void>
  afterDurable(fn: () => void): void
}

export interface NameNodeOptions {
  meta: NamespaceLog
  replicas: number
  /** Delete chunks from every node (the NameNode's ChunkStore.delete). */
  deleteChunks(ids: string[]): Promise<void>
  /** A client found a bad copy; a client committed a chunk with fewer than R copies. */
  onBadCopy?(ref: ChunkRef, nodeId: string, reason: { code: string; message: string }): void
  onUnderReplicated?(ref: ChunkRef): void
  /** DataNodes the cluster has: a storage policy wider than this is refused (policyCheck.ts). Absent: not checked. */
  nodeCount?(): number
  /** Before a sync is acknowledged: this NameNode still holds the cluster (rejects when a newer one took over). */
  confirmClaim?(): Promise<void>
  log: (message: string) => void
}

/**
 * A client's commit as the NameNode did it: what apply returned, and the journal seq of the record.
 * The seq tells a client, after the NameNode changed, whether the new one's history holds its
 * record (docs/protocol.md, "A NameNode change").
 */
export interface Committed {
  result: ApplyResult
  seq: number
}

export interface Session {
  readonly id: number
  /** A client in another process: its chunk writes are not seen by this process's chunk store. */
  readonly remote: boolean
  /** Inode -> open count. */
  readonly opens: Map<number, number>
  /**
   * Inode numbers of this session's creates answered ahead that were refused since its connection
   * began (refusedAhead): its later commits that name one (a file in a folder that was not made,
   * the chunk of a file that was not made) are refused too, since the number may be another's now.
   */
  refusedAhead?: Set<number>
}

export class NameNode {
  private readonly sessions = new Map<number, Session>()
  private nextSession = 1
  private orphanTimer: NodeJS.Timeout | undefined
  /** Set once a newer NameNode took the cluster over: no change is taken or acknowledged after. */
  private superseded: DfsError | undefined

  constructor(private readonly opts: NameNodeOptions) {}

  get state(): NamespaceState {
    return this.opts.meta.state
  }

  /**
   * Inodes a crash left without names while they were open are forgotten after `graceMs`: long enough
   * for clients that had them open to come back and say so (0 in the embedded mount: none can).
   */
  start(graceMs: number): void {
    const forgetNow = () => {
      this.orphanTimer = undefined
      for (const inode of [...this.state.inodes.values()]) if (inode.nlink === 0) this.forgetIfUnused(inode.ino)
    }
    if (graceMs <= 0) forgetNow()
    else this.orphanTimer = setTimeout(forgetNow, graceMs).unref()
  }

  stop(): void {
    clearTimeout(this.orphanTimer)
  }

  /** A newer NameNode holds the cluster (fencing.ts): refuse every change and every sync from now on. */
  supersede(err: DfsError): void {
    this.superseded ??= err
    this.stop()
  }

  openSession(remote: boolean): Session {
    const session: Session = { id: this.nextSession++, remote, opens: new Map() }
    this.sessions.set(session.id, session)
    return session
  }

  /** The session is gone (closed, or its client died): its opens go, and with them unnamed inodes. */
  endSession(session: Session): void {
    if (!this.sessions.delete(session.id)) return
    for (const ino of session.opens.keys()) this.forgetIfUnused(ino)
  }

  get sessionCount(): number {
    return this.sessions.size
  }

  /**
   * Set by a NameNode server that grants the sole writer's lease: before an in-process session's
   * commit, undefined when it may go at once, else a promise to wait for (and ask again after). A
   * lease granted before that session opened is held by a client that did not see it coming.
   */
  beforeLocalCommit: (() => Promise<void> | undefined) | undefined
  /** The same before an in-process session's refresh (a lookup that missed): a lease's holder answers creates ahead. */
  beforeLocalRefresh: (() => Promise<void> | undefined) | undefined

  /** Sessions in this process (an embedded mount's): while there is one, no lease is granted. */
  get localSessions(): number {
    let n = 0
    for (const session of this.sessions.values()) if (!session.remote) n++
    return n
  }

  commit(session: Session, record: ClientRecord, options: CommitOptions = {}): Committed {
    if (this.superseded) throw this.superseded
    if (!CLIENT_OPS.has(record?.op)) {
      throw dfsError('EINVAL', `a client cannot commit a "${String(record?.op)}" record`, { op: record?.op })
    }
    record = checkPolicyRecord(record, this.state, this.opts.nodeCount?.())
    const refused = session.refusedAhead ? namedInodes(record).find(ino => session.refusedAhead!.has(ino)) : undefined
    if (refused !== undefined) {
      throw this.refuseAhead(session, options.ino, `it names inode ${refused}, a create of this client the NameNode did not take`)
    }
    if (options.ino !== undefined && (record.op !== 'mknod' || options.ino !== this.state.nextIno)) {
      throw this.refuseAhead(session, options.ino, `it was answered ahead as inode ${options.ino}, but the next inode here is ${this.state.nextIno}`)
    }
    let result: ApplyResult
    try {
      result = this.opts.meta.commit(record)
    } catch (err) {
      if (options.ino !== undefined) (session.refusedAhead ??= new Set()).add(options.ino)
      throw err
    }
    // Read before what follows from it (a `forget`) takes the next seqs.
    const seq = this.opts.meta.lastSeq
    switch (record.op) {
      case 'mknod':
        if (options.open) this.addOpen(session, (result as Inode).ino)
        break
      case 'chunk':
        // A commit sent again (after a reconnect) replaces a chunk by itself: that one stays.
        if (result && (result as ChunkRef).id !== record.ref?.id) this.dropAfterDurable([result as ChunkRef])
        if (session.remote && record.ref && isShort(record.ref, this.opts.replicas)) this.opts.onUnderReplicated?.(record.ref)
        break
      case 'truncate':
        this.dropAfterDurable(result as ChunkRef[])
        break
      case 'unlink':
        this.forgetIfUnused((result as Inode).ino)
        break
      case 'rename': {
        const replaced = (result as RenameResult).replaced
        if (replaced) this.forgetIfUnused(replaced.ino)
        break
      }
    }
    return { result, seq }
  }

  opened(session: Session, ino: number): void {
    if (!this.state.inodes.has(ino)) throw dfsError('ENOENT', `inode ${ino} is gone`, { ino })
    this.addOpen(session, ino)
  }

  /**
   * A commit of `session` refused because it was answered ahead (or depends on one that was): the
   * error to throw. Its inode number joins the session's refusals, so what names it is refused too.
   */
  refuseAhead(session: Session, ino: number | undefined, why: string): DfsError {
    if (ino !== undefined) (session.refusedAhead ??= new Set()).add(ino)
    return dfsError('CREATE_AHEAD_REFUSED', `a create answered ahead was not taken: ${why}`, { ...(ino === undefined ? {} : { ino }) })
  }

  /** The client knows its create answered ahead as `ino` was refused: what it sends after names another inode of that number, if any. */
  aheadLost(session: Session, ino: number): void {
    session.refusedAhead?.delete(ino)
  }

  /**
   * A client that reconnected says which inodes it has open now: those replace what its session
   * held, and an unnamed inode it closed while away goes (unless another session has it open). Its
   * refused creates are forgotten: it took a fresh copy, and drops whatever named one before it
   * sends anything (its `reopen` comes first on a connection).
   */
  reopen(session: Session, inos: readonly number[]): void {
    session.refusedAhead = undefined
    const before = [...session.opens.keys()]
    session.opens.clear()
    for (const ino of inos) if (this.state.inodes.has(ino)) this.addOpen(session, ino)
    for (const ino of before) if (!session.opens.has(ino)) this.forgetIfUnused(ino)
  }

  closed(session: Session, ino: number): void {
    const count = session.opens.get(ino)
    if (count === undefined) return
    if (count > 1) session.opens.set(ino, count - 1)
    else {
      session.opens.delete(ino)
      this.forgetIfUnused(ino)
    }
  }

  /**
   * Chunks a client stored but never committed. Rare (a seal superseded or refused), so a scan for
   * references is affordable, and it keeps a confused or hostile client from deleting live data.
   */
  abandon(refs: readonly ChunkRef[]): void {
    const ids = new Set(refs.flatMap(abandonedIds))
    if (ids.size === 0) return
    for (const inode of this.state.inodes.values()) {
      for (const ref of inode.chunks ?? []) if (ref) for (const id of storedIds(ref)) ids.delete(id)
    }
    // After what is committed now is durable everywhere (a standby included): a record the standby
    // does not have yet may still name an id no inode here names any more.
    if (ids.size > 0) this.opts.meta.afterDurable(() => this.deleteChunks([...ids]))
  }

  reportBadCopy(ref: ChunkRef, nodeId: string, reason: { code: string; message: string }): void {
    this.opts.onBadCopy?.(ref, nodeId, reason)
  }

  /** Makes every record committed so far durable; resolves with the seq of the last of them. */
  async sync(): Promise<number> {
    const seq = this.opts.meta.lastSeq
    await this.opts.meta.sync()
    // A sync that became durable here after the takeover is no acknowledgement: the cluster went on without it.
    await this.opts.confirmClaim?.()
    if (this.superseded) throw this.superseded
    return seq
  }

  private addOpen(session: Session, ino: number): void {
    session.opens.set(ino, (session.opens.get(ino) ?? 0) + 1)
  }

  private isOpen(ino: number): boolean {
    for (const session of this.sessions.values()) if (session.opens.has(ino)) return true
    return false
  }

  /** An inode without names and without opens is dropped; its chunks go once that is durable. */
  private forgetIfUnused(ino: number): void {
    if (this.superseded) return // the namespace is the newer NameNode's now: its sessions decide
    const inode = this.state.inodes.get(ino)
    if (!inode || inode.nlink !== 0 || this.isOpen(ino)) return
    const refs = this.opts.meta.commit({ op: 'forget', ino }) as ChunkRef[]
    this.dropAfterDurable(refs)
  }

  private dropAfterDurable(refs: readonly ChunkRef[]): void {
    if (refs.length === 0) return
    // What is stored for each: the chunk's copies, or every shard of a stripe (layout.ts).
    const ids = refs.flatMap(storedIds)
    this.opts.meta.afterDurable(() => this.deleteChunks(ids))
  }

  private deleteChunks(ids: string[]): void {
    this.opts.deleteChunks(ids).catch(err =>
      levelled(this.opts.log).warn(`removing ${ids.length} unused chunks failed: ${(err as Error).message}`))
  }
}

/**
 * The stored pieces a client says it wrote and will not commit: the chunk, or the shards of a
 * stripe. An abandon is checked only for its ids on the wire, so a malformed stripe yields no id.
 */
function abandonedIds(ref: ChunkRef): string[] {
  const shards = (ref as { ec?: { shards?: unknown } }).ec?.shards
  const ids: unknown[] = ref.ec === undefined ? [ref.id] : Array.isArray(shards) ? shards.map(s => (s as { id?: unknown } | null)?.id) : []
  return ids.filter((id): id is string => typeof id === 'string' && /^[0-9a-f]{32}$/.test(id))
}
