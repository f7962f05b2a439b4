// A standby NameNode (`dfs namenode --standby-of tcp://<primary> --meta <dir>`): it follows the
// primary's journal into a metadata folder of its own and serves nobody, so that `dfs namenode
// --promote` can take over with everything the primary acknowledged. The primary's end is
// standbyLink.ts; the messages are in protocol/wire.ts (follow, snap, rec with its seq, settings, ack).
//
// Each connection starts over from a snapshot: the standby's folder becomes the primary's state at
// that seq (MetaStore.replaceWith), then takes every record under the primary's seq and acks what is
// durable. Starting over each time is what keeps it simple and right when the primary restarted and
// lost an unsynced tail the standby had already seen: the standby never keeps a history the primary
// no longer has. The folder carries standby.json (meta/standbyMark.ts), so only --promote opens it
// as a primary, and epoch.json with the primary's claim, so a promotion claims the DataNodes from it.

import { rename, mkdir, readdir } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { join, resolve } from 'node:path'
import { randomUUID } from 'node:crypto'
import type { NamespaceMetaStore } from '../cluster/openCluster.js'
import { parseSettings } from '../cluster/settings.js'
import { parseTcpAddress } from '../datanode/tcp/protocol.js'
import { type DfsError, dfsError, isDfsError } from '../errors.js'
import { levelled, type Log } from '../log/Log.js'
import { EPOCH_FILE, readMetaEpoch, writeMetaEpoch } from '../meta/epochClaim.js'
import { checkMetaUnlocked } from '../meta/lock.js'
import { type MetaFormat, inspectMetaFolder, readFormat, writeFormat } from '../meta/metaFormat.js'
import { MetaStore } from '../meta/MetaStore.js'
import { namespaceMachine } from '../meta/namespace/machine.js'
import { readStandbyMark, writeStandbyMark } from '../meta/standbyMark.js'
import { fsyncPath } from '../util/files.js'
import { adoptHistory, type History } from './history.js'
import {
  HANDSHAKE_MAX_BYTES, MAX_PUSH_BYTES, MessageReader, NAMENODE_PROTOCOL_VERSION, type FollowMessage, type Message,
  clientProof, newNonce, notANameNode, proofMatches, send, serverProof,
} from '../protocol/wire.js'

export interface StandbyOptions {
  /** The standby's metadata folder: missing or empty (a new standby), a standby's, or a superseded primary's. */
  meta: string
  /** tcp://host:port of the primary. */
  primary: string
  secret: Buffer
  log: (message: string) => void
  /** First wait before reconnecting (ms); it doubles up to 5 s. */
  retryMs?: number
  /** Called when the standby fails for good (a folder that cannot follow this primary); it has stopped. The caller reports err (it is not logged). */
  onFatal?: (err: DfsError) => void
}

export type StandbyState = 'connecting' | 'catching-up' | 'following' | 'stopped'

const MAX_RETRY_MS = 5_000
/** Steps queued (records, acks) past which the standby stops reading from the primary for a while. */
const MAX_PENDING_STEPS = 20_000
const HANDSHAKE_TIMEOUT_MS = 10_000

export class Standby {
  private readonly log: Log
  private readonly dir: string
  private store: NamespaceMetaStore | undefined
  private socket: Socket | undefined
  private state: StandbyState = 'connecting'
  private closing = false
  private retryMs: number
  private retryTimer: NodeJS.Timeout | undefined
  /** Messages are handled one after another, across socket reads (installing a snapshot awaits). */
  private queue: Promise<void> = Promise.resolve()
  private lastProblem: string | undefined
  private pending = 0
  /** A step failed (a full disk, say): the store may be failed or half-replaced, so the next snapshot reopens the folder from disk. */
  private reopen = false
  private readonly id = `standby-${randomUUID()}`

  private constructor(private readonly opts: StandbyOptions, private convert: boolean) {
    this.log = levelled(opts.log)
    this.dir = resolve(opts.meta)
    this.retryMs = opts.retryMs ?? 1000
  }

  /**
   * Check the folder (writing nothing unless it is already a standby's, which is opened and locked)
   * and start following. Refuses a folder another process holds, and one that is neither empty, a
   * standby's, nor a primary's of some cluster (whether that primary was superseded is decided
   * when the primary says its epoch).
   */
  static async start(opts: StandbyOptions): Promise<Standby> {
    parseTcpAddress(opts.primary, '--standby-of')
    const dir = resolve(opts.meta)
    let format: MetaFormat | undefined
    let mark
    try {
      format = await inspectMetaFolder(dir)
      if (format) mark = await readStandbyMark(dir)
    } catch (err) {
      // A new standby that crashed between its mark and its format.json left only the mark.
      mark = await readStandbyMark(dir).catch(() => undefined)
      if (!mark) throw err
      format = await readFormat(dir)
    }
    if (format) await checkMetaUnlocked(dir)
    const standby = new Standby(opts, format !== undefined && mark === undefined)
    if (format && mark) standby.store = await openStore(dir, format, opts.log)
    standby.connect()
    return standby
  }

  get status(): { state: StandbyState; lastSeq: number; primary: string } {
    return { state: this.state, lastSeq: this.store?.lastSeq ?? 0, primary: this.opts.primary }
  }

  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    clearTimeout(this.retryTimer)
    this.socket?.destroy()
    await this.queue.catch(() => {})
    this.state = 'stopped'
    // A store whose journal failed (a full disk) refuses its close; the folder is as it was on disk,
    // and the next start reopens it from there.
    await this.store?.close({ checkpoint: true }).catch((err: unknown) => this.log.warn(`standby: closing ${this.dir}: ${(err as Error).message}`))
  }

  // ---- the connection ------------------------------------------------------------------------------

  private connect(): void {
    if (this.closing) return
    this.state = 'connecting'
    const { host, port } = parseTcpAddress(this.opts.primary, '--standby-of')
    const socket = connect({ host, port })
    this.socket = socket
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 5_000)
    const nonce = newNonce()
    let challenge = ''
    let welcomed = false
    let history: History | undefined
    const reader = new MessageReader(() => (welcomed ? MAX_PUSH_BYTES : HANDSHAKE_MAX_BYTES))
    const handshake = setTimeout(() => this.drop(socket, `${this.opts.primary} did not complete the handshake in ${HANDSHAKE_TIMEOUT_MS / 1000} s`), HANDSHAKE_TIMEOUT_MS)
    let follow: { header: FollowMessage; pieces: unknown[] } | undefined
    // Acks only once this connection's snapshot is in: before that the folder holds an older history.
    const conn = { installed: false }

    socket.on('error', err => this.problem(`cannot reach the primary ${this.opts.primary} (${(err as NodeJS.ErrnoException).code ?? err.message})`))
    socket.on('close', () => {
      clearTimeout(handshake)
      if (this.socket === socket) this.socket = undefined
      if (this.closing) return
      if (this.state === 'following' || this.state === 'catching-up') this.problem(`lost the primary ${this.opts.primary}`)
      this.state = 'connecting'
      // Not unref'd: between tries this timer is all that keeps a standby process alive.
      this.retryTimer = setTimeout(() => this.connect(), this.retryMs)
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS)
    })
    socket.on('data', data => {
      let messages: Message[]
      try {
        messages = reader.push(data)
      } catch (err) {
        if (welcomed) this.drop(socket, (err as Error).message)
        else this.drop(socket, notANameNode(this.opts.primary, err).message)
        return
      }
      for (const m of messages) {
        if (m.t === 'error') {
          this.refused(socket, m.code, m.message)
          return
        }
        if (!welcomed) {
          if (m.t === 'hello') {
            challenge = m.challenge
            send(socket, {
              t: 'auth', version: NAMENODE_PROTOCOL_VERSION, nonce, proof: clientProof(this.opts.secret, challenge, nonce), client: this.id,
              standby: { lastSeq: this.store?.lastSeq ?? 0, ...(this.store ? { clusterId: this.store.clusterId } : {}) },
            })
          } else if (m.t === 'welcome' && proofMatches(m.proof, serverProof(this.opts.secret, challenge, nonce))) {
            clearTimeout(handshake)
            welcomed = true
            history = m.history
          } else {
            this.drop(socket, `${this.opts.primary} is not a dfs NameNode of this cluster (check the address and --secret-file)`)
            return
          }
          continue
        }
        if (m.t === 'follow') {
          follow = { header: m, pieces: [] }
          this.state = 'catching-up'
        } else if (m.t === 'snap' && follow) {
          for (const piece of m.pieces) follow.pieces.push(piece)
          if (m.done) {
            const { header, pieces } = follow
            follow = undefined
            this.enqueue(socket, async () => {
              await this.install(socket, header, pieces, history)
              conn.installed = true
            })
          }
        } else if (m.t === 'rec' && typeof m.s === 'number') {
          const seq = m.s
          const record = m.r
          this.enqueue(socket, async () => { this.store!.commitFollowed(seq, record as never) })
        } else if (m.t === 'settings') {
          const settings = m.settings
          this.enqueue(socket, () => this.store!.updateSettings(settings))
        }
        // nodes lists and anything else a primary may add later are not a standby's business
      }
      this.enqueue(socket, async () => { if (conn.installed) await this.ack(socket) })
    })
  }

  /** Run step after the ones before it, unless the connection it came on is gone. */
  private enqueue(socket: Socket, step: () => Promise<void>): void {
    // Steps waiting (a snapshot being installed, a slow disk) stop the reading, so the primary's
    // backlog check sees a standby that cannot keep up, rather than this process's memory growing.
    if (++this.pending > MAX_PENDING_STEPS && !socket.isPaused()) socket.pause()
    this.queue = this.queue.then(async () => {
      if (socket.destroyed || this.closing) return
      try {
        await step()
      } catch (err) {
        if (isDfsError(err) && err.context.fatal === true) throw err
        this.reopen = true
        this.drop(socket, `following stopped: ${(err as Error).message}; starting over from a new snapshot`)
      }
    }).catch(err => this.fatal(err as DfsError)).finally(() => {
      if (--this.pending < MAX_PENDING_STEPS / 4 && socket.isPaused()) socket.resume()
    })
  }

  private async ack(socket: Socket): Promise<void> {
    const store = this.store!
    const seq = store.lastSeq
    await store.sync()
    send(socket, { t: 'ack', seq })
  }

  /** The primary's snapshot: the folder becomes its state at header.seq. */
  private async install(socket: Socket, header: FollowMessage, pieces: unknown[], history: History | undefined): Promise<void> {
    const started = Date.now()
    const format: MetaFormat = header.format
    if (!this.store) this.store = await this.adopt(format, header.epoch)
    else if (this.reopen) this.store = await this.reopened(this.store)
    this.reopen = false
    const store = this.store
    if (store.clusterId !== format.clusterId) {
      throw fatalError(`metadata folder ${this.dir} follows cluster ${store.clusterId}, but ${this.opts.primary} serves cluster ${format.clusterId}; give the standby an empty --meta folder`)
    }
    const before = store.lastSeq
    // If this fails, its journal is closed and its disk may hold neither history whole: the failed
    // step marks the store for reopening from what is on disk at the next snapshot (enqueue).
    await store.replaceWith(format, header.seq, pieces)
    if (header.epoch) await writeMetaEpoch(this.dir, header.epoch)
    // The primary's history (it may have forked in a restart): a promotion forks it at this folder's seq.
    if (history) await adoptHistory(this.dir, history)
    const mark = await readStandbyMark(this.dir)
    if (mark?.primary !== this.opts.primary) await writeStandbyMark(this.dir, this.opts.primary)
    this.state = 'following'
    this.retryMs = this.opts.retryMs ?? 1000
    this.lastProblem = undefined
    this.log.info(
      `standby: following ${this.opts.primary} (cluster ${format.clusterId}): took a snapshot at seq ${header.seq} ` +
      `(this folder was at seq ${before}) in ${Date.now() - started} ms; metadata in ${this.dir}`,
    )
    if (!socket.destroyed) send(socket, { t: 'ack', seq: header.seq })
  }

  /**
   * The store after a failed step, opened afresh from the folder: a store whose journal failed stays
   * failed (it refuses every change), so without this a standby whose disk filled up once would
   * fetch a snapshot from its primary every few seconds forever, even after the space came back.
   */
  private async reopened(store: NamespaceMetaStore): Promise<NamespaceMetaStore> {
    await store.close().catch(() => {}) // a failed store rejects its close, after releasing the lock
    return openStore(this.dir, (await readFormat(this.dir)) ?? store.metaFormat, this.opts.log)
  }

  /**
   * The first snapshot into a folder that is not a standby's yet: an empty one is made one; a
   * primary's is taken over only when the primary's claim is newer than the folder's (the folder's
   * NameNode was superseded: its unreplicated tail is kept aside, not deleted).
   */
  private async adopt(format: MetaFormat, epoch: FollowMessage['epoch']): Promise<NamespaceMetaStore> {
    if (this.convert) {
      const own = await readFormat(this.dir)
      if (own && own.clusterId !== format.clusterId) {
        throw fatalError(`metadata folder ${this.dir} holds cluster ${own.clusterId}, but ${this.opts.primary} serves cluster ${format.clusterId}; give the standby an empty --meta folder`)
      }
      const ownEpoch = await readMetaEpoch(this.dir)
      if (!epoch || !ownEpoch || ownEpoch.epoch >= epoch.epoch) {
        throw fatalError(
          `metadata folder ${this.dir} is a NameNode's (epoch ${ownEpoch?.epoch ?? 0}) that ${this.opts.primary} (epoch ${epoch?.epoch ?? 0}) has not superseded: ` +
          'it may hold the newest namespace; run it as the primary, or give the standby an empty --meta folder',
        )
      }
      // In this order, so a crash anywhere leaves a folder this same command takes on again: its
      // claim (what shows it superseded) goes last, once the mark says it is a standby's.
      const aside = await setAside(this.dir)
      await writeStandbyMark(this.dir, this.opts.primary)
      await rename(join(this.dir, EPOCH_FILE), join(aside, EPOCH_FILE))
      await fsyncPath(this.dir)
      this.log.warn(`standby: ${this.dir} was the metadata folder of a NameNode superseded by epoch ${epoch.epoch}; its journal and checkpoints are kept in ${aside}, and it becomes a standby of ${this.opts.primary}`)
      this.convert = false // done: from here on it is a standby's folder like any other
    }
    await mkdir(this.dir, { recursive: true })
    if (!this.convert) await writeStandbyMark(this.dir, this.opts.primary)
    if (!(await readFormat(this.dir))) await writeFormat(this.dir, format)
    return openStore(this.dir, format, this.opts.log)
  }

  // ---- trouble -----------------------------------------------------------------------------------

  private refused(socket: Socket, code: string, message: string): void {
    if (code === 'META_FOREIGN') {
      socket.destroy()
      this.fatal(fatalError(`${this.opts.primary} refused this standby: ${message}`))
      return
    }
    // Keyed by the code: the primary's words name this standby's port, which is new on every try.
    this.drop(socket, `${this.opts.primary} refused this standby: ${message}`, `refused ${code}`)
  }

  private drop(socket: Socket, why: string, kind = why): void {
    this.problem(why, kind)
    socket.destroy()
  }

  /**
   * Said once per kind of trouble: a primary that stays down, or keeps refusing this standby (another
   * standby follows it; a wrong secret), is one line, not one every few seconds.
   */
  private problem(why: string, kind = why): void {
    if (this.closing || kind === this.lastProblem) return
    this.lastProblem = kind
    this.log.warn(`standby: ${why}; retrying (this folder is at seq ${this.store?.lastSeq ?? 0})`)
  }

  private fatal(err: DfsError): void {
    if (this.closing) return
    if (!this.opts.onFatal) this.log.error(`standby: ${err.message}`) // else the caller says it: one line, not two
    void this.close().finally(() => this.opts.onFatal?.(err))
  }
}

/** The message of a standby that cannot go on with this folder and this primary. */
function fatalError(message: string): DfsError {
  return dfsError('META_FOREIGN', message, { fatal: true })
}

async function openStore(dir: string, format: MetaFormat, log: (message: string) => void): Promise<NamespaceMetaStore> {
  const settings = parseSettings(format.settings, dir)
  const machine = namespaceMachine({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, createdAt: settings.createdAt })
  return MetaStore.open(dir, machine, { log })
}

/** Move a superseded primary's journal and checkpoints into a folder beside them; returns its path. */
async function setAside(dir: string): Promise<string> {
  const aside = join(dir, `superseded-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  await mkdir(aside)
  for (const name of await readdir(dir)) {
    if (/^journal-\d+\.log$/.test(name) || /^checkpoint(\.prev)?\.json$/.test(name)) await rename(join(dir, name), join(aside, name))
  }
  await fsyncPath(dir)
  return aside
}
