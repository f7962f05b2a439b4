// The journaled metadata store: our NameNode's memory and its disk. It keeps one state in memory
// and knows nothing of what that state means; a StateMachine applies records to it and snapshots
// it. Every change is one journal record, applied first (a record that does not fit is refused and
// never journaled), then queued for the journal, so a commit never waits for the disk; sync() is
// the point where it is durable. A checkpoint now and then bounds how much journal a mount replays.
//
// Folder layout: format.json (what this folder is), lock (who uses it), checkpoint.json (the state
// as of one seq), checkpoint.prev.json (the one before), journal-<seq>.log (the records after the
// previous checkpoint: replay at mount starts after the current one).

import { rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { type DfsError, dfsError } from '../errors.js'
import {
  CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE, readCheckpoint, removeCheckpointLeftovers, repairAdvice, streamCheckpointFile, writeCheckpoint,
} from './Checkpoint.js'
import { Journal } from './Journal.js'
import { deleteSegmentsThrough } from './journalFormat.js'
import { type MetaLock, acquireLock } from './lock.js'
import { type MetaFormat, type Settings, ensureFormatCopy, prepareMetaFolder, readFormat, writeFormat } from './metaFormat.js'
import { replayJournal } from './replayJournal.js'
import type { JournalRecord, StateMachine } from './StateMachine.js'

export type { Settings, MetaFormat } from './metaFormat.js'

/** Another place a record must reach before it counts as durable (a primary's standby). */
export interface DurabilityGate {
  /** Resolves once seq is durable there, or once the gate gives up on that place (it says so itself). */
  reached(seq: number): Promise<void>
}

export interface MetaStoreOptions {
  /** Make the folder a new metadata folder with these settings if it is not one yet. An existing one opens as it is: compare its settings. */
  create?: { settings: Settings }
  /** Look without touching: no lock, nothing written (create is ignored), a torn journal tail tolerated. commit and checkpoint throw EROFS. */
  readOnly?: boolean
  /** Write and fdatasync pending records this often when nobody calls sync (ms, default 1000). */
  flushIntervalMs?: number
  /** Checkpoint by itself once the journal since the last checkpoint holds this many records or bytes (default 200,000 or 64 MiB). */
  checkpointEvery?: { records?: number; bytes?: number }
  /** Notable events: a torn journal tail dropped (at warn), a stale lock taken over, an automatic checkpoint that failed. A Log (src/log) is used at its levels. */
  log?: (msg: string) => void
  /** Called once if the journal cannot be written (EIO, ENOSPC): from then on commit and sync fail with that error. */
  onError?: (err: DfsError) => void
}

/** How long a journal fdatasync or a checkpoint (written up to `seq`) took. */
export type MetaTiming = { kind: 'fsync'; seconds: number } | { kind: 'checkpoint'; seconds: number; seq: number }

export interface MetaStoreStats {
  lastSeq: number
  journalSyncs: number
  checkpoints: number
  /** Records, and bytes near enough, journaled since the last checkpoint began. */
  journalRecords: number
  journalBytes: number
}

const DEFAULT_FLUSH_INTERVAL_MS = 1000
const DEFAULT_CHECKPOINT_RECORDS = 200_000
const DEFAULT_CHECKPOINT_BYTES = 64 * 1024 * 1024

export class MetaStore<S, R extends JournalRecord = JournalRecord, Result = unknown> {
  private journal: Journal | undefined // undefined when read-only
  private seq: number
  private checkpointSeq: number // lastSeq of the checkpoint on disk
  private sinceCheckpoint: { records: number; bytes: number }
  private checkpointCount = 0
  private checkpointing: Promise<void> | undefined
  private settingsWrite: Promise<void> = Promise.resolve()
  private failure: DfsError | undefined
  private closing: Promise<void> | undefined
  private readonly committedListeners = new Set<(record: R, seq: number) => void>()
  private readonly settingsListeners = new Set<(format: MetaFormat) => void>()
  private readonly timingListeners = new Set<(timing: MetaTiming) => void>()
  private gate: DurabilityGate | undefined

  private constructor(
    readonly dir: string,
    private readonly machine: StateMachine<S, R, Result>,
    private format: MetaFormat,
    private current: S,
    loaded: { checkpointSeq: number; lastSeq: number; records: number; bytes: number },
    private readonly lock: MetaLock | undefined,
    private readonly options: MetaStoreOptions,
  ) {
    this.seq = loaded.lastSeq
    this.checkpointSeq = loaded.checkpointSeq
    this.sinceCheckpoint = { records: loaded.records, bytes: loaded.bytes }
  }

  /** Open (or with options.create, create) the metadata folder dir: lock it, load the checkpoint, replay the journal. */
  static async open<S, R extends JournalRecord = JournalRecord, Result = unknown>(
    dir: string,
    machine: StateMachine<S, R, Result>,
    options: MetaStoreOptions = {},
  ): Promise<MetaStore<S, R, Result>> {
    dir = resolve(dir)
    const log = options.log ?? (() => {})
    await prepareMetaFolder(dir, options.readOnly ? undefined : options.create?.settings)
    const lock = options.readOnly ? undefined : await acquireLock(dir, log)
    try {
      // Read after locking: of two processes creating the folder at once, the file on disk won.
      const format = await readFormat(dir)
      if (!format) throw dfsError('META_FOREIGN', `${dir} lost its format.json while opening`, { dir })
      if (!options.readOnly) {
        await removeCheckpointLeftovers(dir)
        await ensureFormatCopy(dir, format)
      }

      const checkpoint = await loadCheckpoint(machine, dir)
      const state = checkpoint?.state ?? machine.empty()
      const loaded = { checkpointSeq: checkpoint?.lastSeq ?? 0, lastSeq: checkpoint?.lastSeq ?? 0, records: 0, bytes: 0 }
      const replay = replayJournal(dir, { afterSeq: loaded.lastSeq, repairTornTail: !options.readOnly, log })
      for await (const { seq, record, file, size } of replay) {
        try {
          machine.apply(state, record as R)
        } catch (err) {
          throw dfsError(
            'JOURNAL_CORRUPT',
            `journal ${file} is corrupt at record ${seq}: it does not apply to the state (${(err as Error).message}); ${repairAdvice(dir)}`,
            { file, seq },
            err,
          )
        }
        loaded.lastSeq = seq
        loaded.records++
        loaded.bytes += size
      }

      const store = new MetaStore(dir, machine, format, state, loaded, lock, options)
      if (!options.readOnly) {
        store.journal = await store.openJournal(loaded.lastSeq + 1)
      }
      return store
    } catch (err) {
      await lock?.release()
      throw err
    }
  }

  get state(): S {
    return this.current
  }

  get settings(): Settings {
    return this.format.settings
  }

  get clusterId(): string {
    return this.format.clusterId
  }

  /** The seq of the last record committed (or replayed). */
  get lastSeq(): number {
    return this.seq
  }

  get stats(): MetaStoreStats {
    return {
      lastSeq: this.seq,
      journalSyncs: this.journal?.syncs ?? 0,
      checkpoints: this.checkpointCount,
      journalRecords: this.sinceCheckpoint.records,
      journalBytes: this.sinceCheckpoint.bytes,
    }
  }

  /**
   * Apply record to the state and journal it; returns what apply returned. Synchronous: the record
   * is durable only after a later sync(). If apply throws, nothing is journaled and the error propagates.
   */
  commit(record: R): Result {
    const journal = this.assertChangeable()
    // Serialised before apply: replay must hand apply the record exactly as it saw it the first time.
    const json = JSON.stringify(record)
    const result = this.machine.apply(this.current, record)
    this.seq = journal.append(json)
    this.sinceCheckpoint.records++
    this.sinceCheckpoint.bytes += json.length
    for (const listener of this.committedListeners) listener(record, this.seq)
    this.checkpointIfDue()
    return result
  }

  /**
   * Hear every record committed from now on, in order, right after it is applied (followers: a
   * NameNode pushes them to its clients' copies of the state). Returns the way to stop listening.
   */
  onCommitted(listener: (record: R, seq: number) => void): () => void {
    this.committedListeners.add(listener)
    return () => this.committedListeners.delete(listener)
  }

  /** Hear every change of format.json's settings (a standby keeps its copy in step). */
  onSettingsChanged(listener: (format: MetaFormat) => void): () => void {
    this.settingsListeners.add(listener)
    return () => this.settingsListeners.delete(listener)
  }

  /** Hear how long each journal fdatasync and each checkpoint took (metrics, the dashboard's events). */
  onTiming(listener: (timing: MetaTiming) => void): () => void {
    this.timingListeners.add(listener)
    return () => this.timingListeners.delete(listener)
  }

  private timed(timing: MetaTiming): void {
    for (const listener of this.timingListeners) {
      try {
        listener(timing)
      } catch (err) {
        this.log(`a timing listener failed: ${(err as Error).message}`)
      }
    }
  }

  get metaFormat(): MetaFormat {
    return this.format
  }

  /**
   * Durable means durable here and wherever the gate says too (a primary's standby): sync() and
   * afterDurable() wait for both. Undefined: this disk alone.
   */
  setDurabilityGate(gate: DurabilityGate | undefined): void {
    this.gate = gate
  }

  /**
   * A follower's commit: the record the primary journaled as seq, applied and journaled here under
   * the same seq. A seq out of order is refused (the follower must start over from a snapshot).
   */
  commitFollowed(seq: number, record: R): Result {
    if (seq !== this.seq + 1) {
      throw dfsError('PROTOCOL_ERROR', `record ${seq} arrived where record ${this.seq + 1} was due`, { seq, expected: this.seq + 1 })
    }
    return this.commit(record)
  }

  /**
   * A follower starting over: become the state `pieces` (a snapshot of the primary at seq) with the
   * primary's format. The old journal and checkpoints go first, so a crash part-way leaves an older
   * state but never a journal of one history replayed onto a checkpoint of another.
   */
  async replaceWith(format: MetaFormat, seq: number, pieces: unknown[]): Promise<void> {
    const journal = this.writableJournal()
    const state = restore(this.machine, this.dir, pieces)
    await journal.close()
    while (this.checkpointing) await this.checkpointing.catch(() => {})
    await deleteSegmentsThrough(this.dir, Number.MAX_SAFE_INTEGER) // the journal is closed: every segment is whole
    if (JSON.stringify(format) !== JSON.stringify(this.format)) await writeFormat(this.dir, format)
    await writeCheckpoint(this.dir, seq, pieces)
    await rm(join(this.dir, PREVIOUS_CHECKPOINT_FILE), { force: true })
    this.format = format
    this.current = state
    this.seq = this.checkpointSeq = seq
    this.sinceCheckpoint = { records: 0, bytes: 0 }
    this.journal = await this.openJournal(seq + 1)
  }

  /** The state machine: followers apply the records they hear with it, and snapshot with it. */
  get stateMachine(): StateMachine<S, R, Result> {
    return this.machine
  }

  /** Resolves once every record committed before the call is on disk (group commit: concurrent callers share an fsync). */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    const local = this.journal ? this.journal.sync() : Promise.resolve()
    return this.passGate(local)
  }

  /**
   * Run fn once every record committed so far is durable, e.g. delete chunks only after the records
   * that dropped them are on disk. Forces no fsync: it rides on the next sync or periodic flush. If
   * the store fails first, fn never runs.
   */
  afterDurable(fn: () => unknown): void {
    const durable = this.passGate(this.journal ? this.journal.whenDurable() : Promise.resolve())
    durable.then(
      () => Promise.resolve().then(fn).catch((err) => this.log(`a task run after a durable commit failed: ${(err as Error).message}`)),
      () => {}, // the journal failed and onError said so; what fn would do must not happen
    )
  }

  /**
   * Write a checkpoint of the state as it is now, then delete the journal it covers. Only the start
   * (rotating the journal, snapshotting the state) is synchronous; the file is written in slices
   * while commits go on. One checkpoint at a time: a call during one runs after it.
   */
  checkpoint(): Promise<void> {
    const run = this.checkpointing ? this.checkpointing.then(() => this.takeCheckpoint(), () => this.takeCheckpoint()) : this.takeCheckpoint()
    this.checkpointing = run
    const done = () => {
      if (this.checkpointing !== run) return
      this.checkpointing = undefined
      this.checkpointIfDue() // the journal may have grown past the limit again meanwhile
    }
    run.then(done, done)
    return run
  }

  /** Rewrite format.json's settings (e.g. DataNodes added later). */
  async updateSettings(settings: Settings): Promise<void> {
    this.assertChangeable()
    const next = { ...this.format, settings }
    // One write of format.json at a time: they share its temp file.
    const write = this.settingsWrite.catch(() => {}).then(async () => {
      await writeFormat(this.dir, next)
      this.format = next
      for (const listener of this.settingsListeners) listener(next)
    })
    this.settingsWrite = write
    return write
  }

  /**
   * Write and fsync the journal, optionally checkpoint, and release the lock. Rejects if the store
   * had failed (after releasing the lock). Safe to call twice.
   */
  close(options: { checkpoint?: boolean } = {}): Promise<void> {
    this.closing ??= this.shutdown(options.checkpoint === true)
    return this.closing
  }

  private async shutdown(finalCheckpoint: boolean): Promise<void> {
    try {
      if (this.journal) {
        try {
          if (finalCheckpoint && !this.failure) await this.checkpoint()
        } finally {
          await this.journal.close()
          // A checkpoint still being written must finish before the lock goes, or the next daemon
          // would find it half-written. None can start now: the journal refuses to rotate.
          while (this.checkpointing) await this.checkpointing.catch(() => {})
        }
      }
    } finally {
      await this.settingsWrite.catch(() => {}) // its caller hears how it went
      await this.lock?.release()
    }
  }

  private async takeCheckpoint(): Promise<void> {
    const journal = this.writableJournal()
    if (this.seq === this.checkpointSeq) return // nothing new since the checkpoint on disk
    const started = performance.now()
    const { lastSeq, rotated } = journal.rotate()
    const pieces = this.machine.snapshot(this.current)
    this.sinceCheckpoint = { records: 0, bytes: 0 }
    try {
      await rotated
      await writeCheckpoint(this.dir, lastSeq, pieces)
    } catch (err) {
      // A snapshot is kept up by the state until it is read to the end or left (the namespace notes
      // every directory change for it): one never read is let go here.
      for (const _ of pieces) break
      throw err
    }
    // The journal since the previous checkpoint stays: with checkpoint.prev.json it rebuilds the
    // state should checkpoint.json ever be damaged (dfs fsck --repair).
    const previousSeq = this.checkpointSeq
    this.checkpointSeq = lastSeq
    this.checkpointCount++
    await deleteSegmentsThrough(this.dir, previousSeq)
    this.timed({ kind: 'checkpoint', seconds: (performance.now() - started) / 1000, seq: lastSeq })
  }

  private checkpointIfDue(): void {
    if (this.checkpointing || this.closing || this.failure) return
    const every = this.options.checkpointEvery
    const { records, bytes } = this.sinceCheckpoint
    if (records < (every?.records ?? DEFAULT_CHECKPOINT_RECORDS) && bytes < (every?.bytes ?? DEFAULT_CHECKPOINT_BYTES)) return
    this.checkpoint().catch((err) => {
      this.log(`metadata store ${this.dir}: automatic checkpoint failed (${(err as Error).message}); the journal keeps everything, and the next try comes after as many records again`)
    })
  }

  /** local, then the gate's word for every record committed so far. */
  private passGate(local: Promise<void>): Promise<void> {
    const gate = this.gate
    if (!gate) return local
    const seq = this.seq
    return local.then(() => gate.reached(seq))
  }

  private openJournal(nextSeq: number): Promise<Journal> {
    return Journal.open(this.dir, nextSeq, {
      flushIntervalMs: this.options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS,
      onError: (err) => this.fail(err),
      onSynced: (seconds) => this.timed({ kind: 'fsync', seconds }),
      // The kernel lock keeps a second daemon out on this host; the record check catches one
      // that got in anyway (another network namespace or host) before this one writes again.
      beforeWrite: this.lock ? () => this.lock!.verify() : undefined,
    })
  }

  private writableJournal(): Journal {
    if (this.failure) throw this.failure
    if (!this.journal) throw dfsError('EROFS', `metadata store ${this.dir} is open read-only`, { dir: this.dir })
    return this.journal
  }

  /** The journal, if the store takes changes: not failed, not read-only, not closing. */
  private assertChangeable(): Journal {
    const journal = this.writableJournal()
    if (this.closing) throw dfsError('EIO', `metadata store ${this.dir} is closed`, { dir: this.dir })
    return journal
  }

  private fail(err: DfsError): void {
    this.failure = err
    this.log(err.message)
    this.options.onError?.(err)
  }

  private log(msg: string): void {
    this.options.log?.(msg)
  }
}

/** The state in dir's checkpoint, streamed into the machine as the file is read when it can take it so. */
async function loadCheckpoint<S, R extends JournalRecord, Result>(
  machine: StateMachine<S, R, Result>,
  dir: string,
): Promise<{ lastSeq: number; state: S } | undefined> {
  if (!machine.restorer) {
    const checkpoint = await readCheckpoint(dir)
    return checkpoint && { lastSeq: checkpoint.lastSeq, state: restore(machine, dir, checkpoint.pieces) }
  }
  const restorer = machine.restorer()
  const read = await streamCheckpointFile(join(dir, CHECKPOINT_FILE), piece => {
    try {
      restorer.add(piece)
    } catch (err) {
      throw restoreError(dir, err)
    }
  })
  return read && { lastSeq: read.lastSeq, state: restore(machine, dir, { restorer }) }
}

function restore<S, R extends JournalRecord, Result>(
  machine: StateMachine<S, R, Result>,
  dir: string,
  from: unknown[] | { restorer: { done(): S } },
): S {
  try {
    return Array.isArray(from) ? machine.restore(from) : from.restorer.done()
  } catch (err) {
    throw restoreError(dir, err)
  }
}

function restoreError(dir: string, err: unknown): DfsError {
  return dfsError(
    'CHECKPOINT_CORRUPT',
    `checkpoint in ${dir} does not restore (${(err as Error).message}); ${repairAdvice(dir)}`,
    { dir },
    err,
  )
}
