// The journal's writing end. `append` only queues the encoded line in memory, so a file system
// operation never waits for the disk; one writer loop drains the queue in order, and `sync` is a
// group commit: every caller waiting when an fdatasync starts shares it. Writes are grouped too:
// records nobody waits for are written WRITE_DELAY_MS after the first of them, all in one write
// (a file created is two records; a stream of small files is a few hundred a second), so the
// journal costs a write and a lock check per group, not per record. Nothing is durable before a
// sync, and a sync writes at once, so the delay costs no caller anything; all it changes is that a
// process killed outright also loses the last few milliseconds of records nobody synced (the page
// cache would have kept them). A periodic flush bounds what a crash can lose when nobody asks for
// a sync.
//
// A write or fsync that fails (EIO, ENOSPC) leaves the file in an unknown state, and after a failed
// fsync the kernel may have dropped the dirty pages, so retrying proves nothing: the journal fails
// for good, refuses further appends, and reports once through onError.

import type { FileHandle } from 'node:fs/promises'
import { open } from 'node:fs/promises'
import { type DfsError, dfsError } from '../errors.js'
import { fsyncPath } from '../util/files.js'
import { encodeRecord, segmentFile } from './journalFormat.js'

export interface JournalOptions {
  /** Write and fdatasync whatever is pending this often (ms). */
  flushIntervalMs: number
  onError: (err: DfsError) => void
  /**
   * Runs before every write: throwing stops the journal for good, as a failed write does (the
   * store checks it still holds its folder's lock, so a daemon that lost it never writes again).
   */
  beforeWrite?: () => Promise<void>
  /** After every fdatasync: how long it took (the fsync latency metric). */
  onSynced?: (seconds: number) => void
}

/** A queued switch to a new segment; it sits between the lines of the old and the new one. */
interface Rotation {
  firstSeq: number
  resolve: () => void
  reject: (err: DfsError) => void
}

/** Records nobody waits for go to the disk in groups, at most this long after the first (ms). */
const WRITE_DELAY_MS = 5

interface Waiter {
  seq: number
  resolve: () => void
  reject: (err: DfsError) => void
}

export class Journal {
  /** fdatasyncs done so far (for statistics and tests of group commit). */
  syncs = 0

  private readonly queue: Array<Buffer | Rotation> = []
  private readonly waiters: Waiter[] = []
  private lastSeq: number
  private writtenSeq: number
  private syncedSeq: number
  /** The writer loop fdatasyncs while syncedSeq is below this. */
  private wantedSeq: number
  private running = false
  /** Rotations queued and not yet done: the lines before one are written without delay. */
  private rotations = 0
  /** The pending start of a group write (see WRITE_DELAY_MS). */
  private delayed: NodeJS.Timeout | undefined
  private loop: Promise<void> = Promise.resolve()
  private failure: DfsError | undefined
  private closing: Promise<void> | undefined
  private readonly timer: NodeJS.Timeout

  private constructor(
    private readonly dir: string,
    private fh: FileHandle,
    private segmentFirstSeq: number,
    private readonly options: JournalOptions,
  ) {
    this.lastSeq = this.writtenSeq = this.syncedSeq = this.wantedSeq = segmentFirstSeq - 1
    this.timer = setInterval(() => this.requestSync(), options.flushIntervalMs)
    this.timer.unref()
  }

  /** Start appending at nextSeq, in a new segment (or the empty one a previous open left there). */
  static async open(dir: string, nextSeq: number, options: JournalOptions): Promise<Journal> {
    return new Journal(dir, await openSegment(dir, nextSeq), nextSeq, options)
  }

  /** Queue one record (already JSON) and return its seq. Throws once the journal has failed or closed. */
  append(json: string): number {
    this.assertOpen()
    const seq = ++this.lastSeq
    this.queue.push(Buffer.from(encodeRecord(seq, json)))
    this.writeSoon()
    return seq
  }

  /** Resolves once every record appended before the call is written and fdatasync'd. */
  sync(): Promise<void> {
    this.requestSync()
    return this.whenDurable()
  }

  /** Like sync, but waits for the next sync anyone asks for (or the periodic flush) instead of forcing one. */
  whenDurable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure)
    const seq = this.lastSeq
    if (seq <= this.syncedSeq) return Promise.resolve()
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }))
  }

  /**
   * End the current segment after the records appended so far and start a new one at the next
   * seq. Synchronous, so a caller can capture its state at exactly this point; `rotated` settles
   * when the old segment is durable and closed.
   */
  rotate(): { lastSeq: number; rotated: Promise<void> } {
    this.assertOpen()
    const lastSeq = this.lastSeq
    const rotated = new Promise<void>((resolve, reject) => {
      this.queue.push({ firstSeq: lastSeq + 1, resolve, reject })
    })
    this.rotations++
    this.kick()
    return { lastSeq, rotated }
  }

  /** Write and fdatasync everything, then close. Rejects with the failure if the journal failed. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer)
      this.requestSync()
      this.kick() // a rotation queued after the last line is done too
      await this.loop
      await this.fh.close().catch(() => {}) // nothing left to lose: all was written or the journal failed
      if (this.failure) throw this.failure
    })()
    return this.closing
  }

  private assertOpen(): void {
    if (this.failure) throw this.failure
    if (this.closing) throw dfsError('EIO', `metadata journal in ${this.dir} is closed`, { dir: this.dir })
  }

  private requestSync(): void {
    if (this.lastSeq <= this.syncedSeq || this.failure) return
    this.wantedSeq = this.lastSeq
    this.kick()
  }

  /** Start the writer now (a sync, a rotation, closing). */
  private kick(): void {
    clearTimeout(this.delayed)
    this.delayed = undefined
    if (this.running) return
    this.running = true
    this.loop = this.run()
  }

  /** Start the writer WRITE_DELAY_MS from now, unless it runs or is due already. */
  private writeSoon(): void {
    if (this.running || this.delayed || this.failure) return
    this.delayed = setTimeout(() => this.kick(), WRITE_DELAY_MS)
  }

  /** Whether lines queued now must be written at once: someone waits for them, or for a rotation after them. */
  private urgent(): boolean {
    return this.wantedSeq > this.writtenSeq || this.rotations > 0
  }

  /** The single writer: lines in order, rotations where they were queued, fdatasyncs when wanted. */
  private async run(): Promise<void> {
    try {
      for (let first = true; !this.failure; first = false) {
        const head = this.queue[0]
        if (head && isLine(head)) {
          // Lines that came while the loop wrote start the next group, unless they are waited for.
          if (!first && !this.urgent()) break
          await this.writeQueuedLines()
          if (this.wantedSeq > this.syncedSeq) await this.datasync()
        } else if (head) {
          await this.switchSegment(head.firstSeq)
          this.queue.shift() // only now: if the switch fails, fail() finds it here and rejects it
          this.rotations--
          head.resolve()
        } else if (this.wantedSeq > this.syncedSeq) {
          await this.datasync()
        } else {
          break
        }
      }
    } catch (err) {
      this.fail(err)
    } finally {
      this.running = false
      if (this.queue.length > 0) this.writeSoon()
    }
  }

  /** Write the lines at the head of the queue (up to the next rotation) in one go. */
  private async writeQueuedLines(): Promise<void> {
    await this.options.beforeWrite?.()
    // Counted after the check: lines appended while it ran go in this write too.
    let n = 0
    while (n < this.queue.length && isLine(this.queue[n]!)) n++
    const lines = this.queue.splice(0, n) as Buffer[]
    const data = lines.length === 1 ? lines[0]! : Buffer.concat(lines)
    // The segment is open for appending: each write lands at its end. write(2) may write less.
    for (let done = 0; done < data.length;) done += (await this.fh.write(data, done, data.length - done)).bytesWritten
    this.writtenSeq += lines.length
  }

  private async datasync(): Promise<void> {
    const seq = this.writtenSeq
    const started = performance.now()
    await this.fh.datasync()
    this.options.onSynced?.((performance.now() - started) / 1000)
    this.syncs++
    this.markSynced(seq)
  }

  private async switchSegment(firstSeq: number): Promise<void> {
    if (firstSeq === this.segmentFirstSeq) return // the segment is empty and already starts there
    // The old segment is made durable before the new one appears, so a segment that is not the
    // last one never ends with a torn record (replay relies on that).
    if (this.writtenSeq > this.syncedSeq) await this.datasync()
    const next = await openSegment(this.dir, firstSeq)
    await this.fh.close()
    this.fh = next
    this.segmentFirstSeq = firstSeq
  }

  private markSynced(seq: number): void {
    this.syncedSeq = seq
    while (this.waiters.length > 0 && this.waiters[0]!.seq <= seq) this.waiters.shift()!.resolve()
  }

  private fail(err: unknown): void {
    const cause = err as NodeJS.ErrnoException
    const file = segmentFile(this.dir, this.segmentFirstSeq)
    this.failure = dfsError(
      cause.code === 'ENOSPC' ? 'ENOSPC' : 'EIO',
      `metadata journal ${file} cannot be written (${cause.message}); ` +
        'dfs refuses metadata changes until it is remounted, and changes since the last sync may be lost',
      { file, dir: this.dir, errno: cause.code },
      err,
    )
    clearInterval(this.timer)
    clearTimeout(this.delayed)
    this.rotations = 0
    for (const item of this.queue.splice(0)) if (!isLine(item)) item.reject(this.failure)
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure)
    this.options.onError(this.failure)
  }
}

function isLine(item: Buffer | Rotation): item is Buffer {
  return Buffer.isBuffer(item)
}

/** Open (creating) a segment for appending, and make its name durable. */
async function openSegment(dir: string, firstSeq: number): Promise<FileHandle> {
  const fh = await open(segmentFile(dir, firstSeq), 'a')
  try {
    await fsyncPath(dir)
  } catch (err) {
    await fh.close()
    throw err
  }
  return fh
}
