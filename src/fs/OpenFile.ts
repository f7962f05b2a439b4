// The content of one regular file while it is open: the size and times writes have moved (ahead of
// the journal), chunk buffers written but not yet stored, and chunks being stored right now.
//
// A chunk's bytes come from, newest first: its dirty buffer, its buffer being sealed, the stored
// chunk the namespace points at, or nothing (a hole, zeros). Writes land in dirty buffers and are
// answered at once. A buffer being sealed is never written again: the bytes stored are exactly the
// bytes hashed. A write that arrives meanwhile starts the chunk's next version, a new dirty buffer
// loaded from the sealing one. So a writer finds its dirty buffer and copies into it in one
// synchronous turn; after any await the buffer it saw may have been sealed. A buffer is sealed (hashed, sent to R DataNodes, then journaled as the file's new
// chunk: copy-on-write) when a write fills it to its end, on flush, fsync and release, or when the
// dirty budget is exceeded. Invariant: a stored chunk never holds bytes past the file's size in the
// namespace, so growing a file can never expose old bytes.
//
// Several clients may write one file. Each buffer remembers the chunk version its bytes started from
// (its base) and the byte ranges this client wrote into it. A commit names its base; when another
// client replaced the chunk meanwhile, the NameNode refuses it (CHUNK_CONFLICT) and the seal rebases:
// this client's ranges copied onto the current version, stored as a new chunk, committed again. So
// disjoint writers lose nothing and, where ranges overlap, the last to store wins. A writer's records
// only grow the file's size; only an explicit truncate sets it exactly. The size this file shows is
// the namespace's, grown by bytes written here and not yet committed.

import { type DfsError, dfsError, isDfsError } from '../errors.js'
import { isFile, type ChunkRef, type Inode } from '../meta/namespace/types.js'
import type { DirtyBudget } from './DirtyBudget.js'
import { levelled } from '../log/Log.js'
import type { ChunkIO, NameNodeSession } from './ports.js'
import type { Layout } from '../chunks/layout.js'
import { type Ranges, addRange, clipRanges, overlay, rangesEnd } from './ranges.js'
import { fillableBuffer } from '../util/sha256.js'
import { copyRange } from '../chunks/ChunkCache.js'

export interface FileContext {
  chunkSize: number
  meta: NameNodeSession
  chunks: ChunkIO
  budget: DirtyBudget
  log(message: string): void
}

/**
 * A chunk's bytes in memory. Bytes past `len` mean nothing (the memory may be recycled: a write past
 * `len` zeroes the gap first). The buffer starts as small as the bytes it holds and doubles as writes
 * reach further, so a small file never costs a whole chunk of memory; a chunk a writer streams into
 * (past the first, reached by filling the one before) gets its whole size at once, without the copies
 * of growing. Its memory is fillableBuffer()'s: sealing hashes it as it is, and once its seal has
 * committed the chunk cache may recycle it for the next buffer (ChunkStore.release).
 */
interface ChunkBuffer extends Lineage {
  buf: Buffer
  len: number
  /** When the buffer first held bytes not yet stored (ms), for periodic writeback. */
  dirtySince?: number
}

/** Where a buffer's bytes came from, and which of them this client wrote. */
interface Lineage {
  /** The chunk id its bytes started from; null for a hole or a new chunk. A commit names it. */
  base: string | null
  /** Bytes this client wrote into it, chunk-relative: what a rebase copies onto a newer version. */
  ranges: Ranges
  /**
   * Made from a seal still in flight: once that seal commits exactly `bytes`, its chunk is the base.
   * (Had the seal rebased first, the bytes here are not the ones committed: the old base stays, and
   * this buffer's own commit rebases.)
   */
  after?: { entry: Sealing; bytes: Buffer }
}

/**
 * A page: a small file's buffer is its size (a 4 KiB file holds 4 KiB, not 64: zeroing and freeing
 * 64 KiB per small file was a good part of the garbage collector's work in a stream of creates, and the
 * chunk cache then had to copy the bytes out of it). Writes beyond it double the buffer.
 */
const MIN_BUFFER = 4 * 1024

/**
 * A chunk being stored: frozen bytes (nothing holds them to write), not a ChunkBuffer. A rebase puts
 * new bytes in their place, never writes into them.
 */
interface Sealing extends Lineage {
  bytes: Buffer
  /** Bytes of dirty budget the buffer holds until the seal ends. */
  readonly held: number
  done: Promise<void>
}

/** How many chunks ahead of a sequential reader to fetch. */
const READ_AHEAD = 4
/** Chunks of one file stored in parallel; a writer that gets further ahead waits for the oldest. */
const SEALS_IN_FLIGHT = 4
/** Reads starting this close to where the last one ended count as sequential (the kernel reorders a little). */
const SEQUENTIAL_SLACK = 1 << 20
/** Commits of one seal refused because other clients replaced its chunk, before the seal fails. */
const COMMIT_ATTEMPTS = 8

export class OpenFile {
  ctime: number
  /**
   * The layout its new chunks are written in: the storage policy in force for the directory it was
   * opened or created in, taken at that open (FileSystem.openFile); undefined: the cluster's R copies.
   * A later rename or link does not change it; chunks already stored keep theirs (dfs policy apply).
   */
  layout: Layout | undefined
  /** Open handles; the file's state is dropped when they are gone and nothing is being stored. */
  handles = 0

  private readonly dirty = new Map<number, ChunkBuffer>()
  private readonly loading = new Map<number, Promise<void>>()
  private readonly sealing = new Map<number, Sealing>()
  /** Chunks stored since the last fsync, which the DataNodes have not yet made durable. */
  private readonly unsynced = new Map<string, ChunkRef>()
  /** A failure to store a chunk in the background, reported to the next write, flush or fsync. */
  private failure: DfsError | null = null
  /** The NameNode never took this file's create (lose()): every call fails with this. */
  private lostWith: DfsError | undefined
  /** What lose() dropped unstored: what a stop reports it dropped (FileSystem.flushAll). */
  private droppedWhenLost = 0
  private lastReadEnd = -1
  /** The size and mtime as this client sees them, and the namespace's when it last took them in. */
  private viewSize: number
  private seenSize: number
  private viewMtime: number
  private seenMtime: number
  /** Writes and truncates so far, and how many of them commitAttributes has recorded. */
  private changes = 0
  private recordedChanges = 0

  constructor(readonly ino: number, private readonly ctx: FileContext) {
    const inode = this.inode()
    this.viewSize = this.seenSize = inode.size
    this.viewMtime = this.seenMtime = inode.mtime
    this.ctime = inode.ctime
  }

  /**
   * The file's size here: the namespace's, grown by bytes written here and not yet committed. When the
   * namespace's size moves (another client grew or truncated the file, or a commit of ours landed),
   * the view is taken again from it, so a size another client cut is not brought back from here.
   */
  get size(): number {
    const committed = this.ctx.meta.state.inodes.get(this.ino)?.size
    if (committed !== undefined && committed !== this.seenSize) {
      this.seenSize = committed
      this.viewSize = Math.max(committed, this.uncommittedEnd())
    }
    return this.viewSize
  }

  set size(size: number) {
    this.viewSize = size
  }

  /**
   * The mtime here: the namespace's once it moves (another client's change), unless this client has
   * changes of its own still to record: then its own, which its flush records (last writer's time).
   */
  get mtime(): number {
    const committed = this.ctx.meta.state.inodes.get(this.ino)?.mtime
    if (committed !== undefined && committed !== this.seenMtime) {
      this.seenMtime = committed
      if (this.changes === this.recordedChanges) this.viewMtime = committed
    }
    return this.viewMtime
  }

  set mtime(mtime: number) {
    this.viewMtime = mtime
  }

  /** Where the bytes this client wrote and has not committed end (0 for none). */
  private uncommittedEnd(): number {
    const cs = this.ctx.chunkSize
    let end = 0
    for (const buffers of [this.dirty, this.sealing]) {
      for (const [index, buffer] of buffers) if (buffer.ranges.length > 0) end = Math.max(end, index * cs + rangesEnd(buffer.ranges))
    }
    return end
  }

  /** True while chunks are buffered or being stored: the file's state must be kept. */
  get busy(): boolean {
    return this.dirty.size > 0 || this.sealing.size > 0 || this.loading.size > 0
  }

  /** Nothing to store, record or report: a flush now would do nothing (a reader's close, a second one). */
  get settled(): boolean {
    return !this.busy && this.changes === this.recordedChanges && this.failure === null && this.lostWith === undefined
  }

  /**
   * Nothing of the file here is ahead of `inode`, the namespace's: no bytes, size or times waiting to
   * be stored or recorded, no failure to report. Its stat is then the namespace's.
   */
  matchesNamespace(inode: Inode): boolean {
    return this.settled && this.size === inode.size && this.mtime === inode.mtime && this.ctime <= inode.ctime
  }

  /**
   * Its create was answered ahead and the NameNode did not take it (RemoteNameNode): its inode number
   * may be another file's there, so nothing of it is stored or committed, and every call fails.
   */
  lose(err: DfsError): void {
    this.droppedWhenLost = this.unstoredBytes()
    this.lostWith = err
    this.discardBuffers()
  }

  get lost(): boolean {
    return this.lostWith !== undefined
  }

  private inode(): Inode {
    if (this.lostWith) throw this.lostWith
    const inode = this.ctx.meta.state.inodes.get(this.ino)
    if (!inode || !isFile(inode)) throw dfsError('ENOENT', `file inode ${this.ino} is gone`, { ino: this.ino })
    return inode
  }

  private stored(index: number): ChunkRef | null {
    return this.inode().chunks?.[index] ?? null
  }

  // ---- writing -----------------------------------------------------------------------------------

  async write(data: Buffer, position: number): Promise<number> {
    this.reportFailure()
    const cs = this.ctx.chunkSize
    let done = 0
    while (done < data.length) {
      const at = position + done
      const index = Math.floor(at / cs)
      const offset = at - index * cs
      const n = Math.min(cs - offset, data.length - done)
      // A whole-chunk write needs none of the chunk's current bytes, so it never waits.
      const whole = offset === 0 && n === cs
      let chunk: ChunkBuffer | null
      while (!(chunk = whole ? this.dirty.get(index) ?? this.addDirty(index, null, this.lineageOf(index, [])) : this.dirtyBuffer(index))) {
        await this.load(index)
      }
      // From here to the end of the iteration: no await (see the top of the file).
      this.reserve(chunk, offset + n, index)
      if (offset > chunk.len) chunk.buf.fill(0, chunk.len, offset) // a hole inside the chunk
      data.copy(chunk.buf, offset, done, done + n)
      chunk.len = Math.max(chunk.len, offset + n)
      addRange(chunk.ranges, offset, offset + n)
      done += n
      this.size = Math.max(this.size, at + n)
      // A writer that reached the end of a chunk has (almost always) moved on: store it now.
      if (offset + n === cs) this.startSeal(index)
    }
    this.mtime = this.ctime = Date.now()
    this.changes++
    while (this.sealing.size >= SEALS_IN_FLIGHT) await this.sealing.values().next().value!.done
    await this.ctx.budget.waitForRoom(() => this.reportFailure())
    return data.length
  }

  /**
   * The chunk's dirty buffer, made now when its current bytes are in memory (being sealed) or there
   * are none (a hole, past the end); null when they must first be read from the nodes (load).
   */
  private dirtyBuffer(index: number): ChunkBuffer | null {
    const chunk = this.dirty.get(index)
    if (chunk) return chunk
    const sealing = this.sealing.get(index)
    // The next version holds what this client wrote into the one being sealed: should that seal not
    // commit, or commit rebased, this one's rebase still carries those bytes.
    if (sealing) return this.addDirty(index, sealing.bytes, this.lineageOf(index, [...sealing.ranges.map(r => [...r] as [number, number])]))
    if (this.size <= index * this.ctx.chunkSize || !this.stored(index)) return this.addDirty(index, null, this.lineageOf(index, []))
    return null
  }

  /** What a new buffer for the chunk starts from: the seal in flight, else the stored version. */
  private lineageOf(index: number, ranges: Ranges): Lineage {
    const sealing = this.sealing.get(index)
    if (sealing) return { base: sealing.base, ranges, after: { entry: sealing, bytes: sealing.bytes } }
    return { base: this.stored(index)?.id ?? null, ranges }
  }

  /** Read the chunk's stored bytes into a new dirty buffer. Concurrent callers share one read. */
  private load(index: number): Promise<void> {
    let loading = this.loading.get(index)
    if (!loading) {
      loading = this.readStored(index).finally(() => this.loading.delete(index))
      this.loading.set(index, loading)
    }
    return loading
  }

  private async readStored(index: number): Promise<void> {
    for (;;) {
      if (this.dirtyBuffer(index)) return
      const { ref, bytes } = await this.readCurrent(index)
      // While we read, the chunk may have moved on (a whole-chunk write, a truncate): bytes of an
      // older version must not come back. Look again.
      if (!ref || this.dirty.has(index) || this.sealing.has(index) || this.stored(index)?.id !== ref.id) continue
      this.addDirty(index, bytes, { base: ref.id, ranges: [] })
      return
    }
  }

  /** A new dirty buffer for the chunk holding `from` (its current bytes), cut at the file's size. */
  private addDirty(index: number, from: Buffer | null, lineage: Lineage): ChunkBuffer {
    const len = Math.max(0, Math.min(from?.length ?? 0, this.size - index * this.ctx.chunkSize))
    const chunk: ChunkBuffer = { buf: Buffer.alloc(0), len: 0, dirtySince: Date.now(), ...lineage }
    clipRanges(chunk.ranges, len)
    this.reserve(chunk, len)
    from?.copy(chunk.buf, 0, 0, len)
    chunk.len = len
    this.dirty.set(index, chunk)
    return chunk
  }

  /**
   * Make a chunk buffer hold at least `end` bytes: growing it by doubling, up to the chunk size; at
   * once to the chunk size when a writer starts chunk `index` (> 0) where the file ends (streaming).
   */
  private reserve(chunk: ChunkBuffer, end: number, index = 0): void {
    const cs = this.ctx.chunkSize
    const streaming = index > 0 && chunk.len === 0 && chunk.buf.length < cs && this.size === index * cs
    if (end <= chunk.buf.length && !streaming) return
    const size = streaming ? cs : Math.min(cs, Math.max(end, MIN_BUFFER, chunk.buf.length * 2))
    const buf = fillableBuffer(size)
    chunk.buf.copy(buf, 0, 0, chunk.len)
    this.ctx.budget.take(size - chunk.buf.length)
    chunk.buf = buf
  }

  /**
   * Copy bytes of the chunk's current stored version into out (readCurrent's retries, without taking
   * the chunk's buffer); the number copied, 0 for a hole.
   */
  private async readStoredInto(index: number, from: number, out: Buffer, at: number, length: number): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const ref = this.stored(index)
      if (!ref) return 0
      try {
        return await this.ctx.chunks.readInto(ref, from, out, at, length)
      } catch (err) {
        if (this.stored(index)?.id === ref.id || attempt >= COMMIT_ATTEMPTS) throw err
      }
    }
  }

  /**
   * The chunk's current stored bytes. Another client may replace the chunk while it is read, and the
   * NameNode then deletes the old version: a read that fails on a version no longer current is made
   * again on the current one.
   */
  private async readCurrent(index: number): Promise<{ ref: ChunkRef; bytes: Buffer } | { ref: null; bytes: null }> {
    for (let attempt = 1; ; attempt++) {
      const ref = this.stored(index)
      if (!ref) return { ref: null, bytes: null }
      try {
        return { ref, bytes: await this.ctx.chunks.read(ref) }
      } catch (err) {
        if (this.stored(index)?.id === ref.id || attempt >= COMMIT_ATTEMPTS) throw err
      }
    }
  }

  /**
   * Move a dirty buffer to sealing: store it on the nodes, then journal it as the chunk's new content.
   * Only its bytes move; the ChunkBuffer is dropped, so no write path can reach them again.
   */
  private startSeal(index: number): void {
    const chunk = this.dirty.get(index)
    if (!chunk) return
    // The size is taken while the buffer still counts towards it (see `size`).
    const len = Math.max(0, Math.min(chunk.len, this.size - index * this.ctx.chunkSize))
    this.dirty.delete(index)
    clipRanges(chunk.ranges, len)
    const entry: Sealing = {
      bytes: chunk.buf.subarray(0, len), held: chunk.buf.length, done: Promise.resolve(),
      base: chunk.base, ranges: chunk.ranges, ...(chunk.after ? { after: chunk.after } : {}),
    }
    this.sealing.set(index, entry)
    entry.done = this.seal(index, entry)
  }

  private async seal(index: number, entry: Sealing): Promise<void> {
    let ref: ChunkRef | null = null
    // A newer seal of the same chunk, or a truncate, took its place while it was being stored.
    const superseded = () => this.sealing.get(index) !== entry
    try {
      for (let attempt = 1; ; attempt++) {
        ref = entry.bytes.length > 0 ? await this.store(entry.bytes) : null
        if (superseded()) {
          if (ref) this.ctx.meta.abandon([ref])
          this.ctx.budget.give(entry.held)
          return
        }
        const old = await this.commitChunk(index, entry, ref, attempt)
        if (old === 'conflict') {
          if (ref) this.ctx.meta.abandon([ref])
          ref = null
          await this.rebase(index, entry)
          continue
        }
        if (old) this.dropped([old])
        if (ref) this.unsynced.set(ref.id, ref)
        this.committed(index, entry, ref)
        if (!superseded()) {
          this.sealing.delete(index)
          // Nothing here reads these bytes again (readers copied them out in their own turn).
          if (ref) this.ctx.chunks.release(ref, entry.bytes)
        }
        this.ctx.budget.give(entry.held)
        return
      }
    } catch (err) {
      if (ref) this.ctx.meta.abandon([ref])
      // Keep the bytes so a later flush can try again; a newer buffer for the chunk wins. They go to
      // a copy: a node's put that failed late may still be reading the sealed bytes.
      if (this.sealing.get(index) === entry) {
        if (!this.dirty.has(index)) this.addDirty(index, entry.bytes, { base: entry.base, ranges: entry.ranges, ...(entry.after ? { after: entry.after } : {}) })
        this.sealing.delete(index)
      }
      this.ctx.budget.give(entry.held)
      this.failure ??= err as DfsError
      // A warning: the bytes are kept and the writer's close or fsync reports it; an unmount that
      // still cannot store them reports them dropped (FileSystem.flushAll).
      levelled(this.ctx.log).warn(`storing chunk ${index} of inode ${this.ino} failed: ${(err as Error).message}`)
      this.ctx.budget.wake()
    }
  }

  /** Put sealed bytes on the nodes as a new chunk, in the file's layout. */
  private store(bytes: Buffer): Promise<ChunkRef> {
    return this.layout ? this.ctx.chunks.write(bytes, this.layout) : this.ctx.chunks.write(bytes)
  }

  /**
   * Commit a sealed chunk in place of its base. 'conflict' when another client replaced the base
   * meanwhile (the session's state already holds that newer version); after COMMIT_ATTEMPTS of those
   * the seal fails, and its bytes wait in memory for the next flush.
   */
  private async commitChunk(index: number, entry: Sealing, ref: ChunkRef | null, attempt: number): Promise<ChunkRef | null | 'conflict'> {
    const storedEnd = index * this.ctx.chunkSize + entry.bytes.length
    try {
      return await this.ctx.meta.commit({
        op: 'chunk', ino: this.ino, index, ref, base: entry.base,
        size: this.committableSize(index, storedEnd), grow: true, mtime: this.mtime, ctime: this.newestCtime(),
      }) as ChunkRef | null
    } catch (err) {
      if (!isDfsError(err, 'CHUNK_CONFLICT')) throw err
      if (attempt < COMMIT_ATTEMPTS) return 'conflict'
      throw dfsError('CHUNK_CONFLICT',
        `chunk ${index} of inode ${this.ino} was replaced by other clients ${attempt} times while this client stored its writes; they are kept for the next flush`,
        { ino: this.ino, index, attempts: attempt }, err)
    }
  }

  /**
   * Another client committed a newer version of the chunk: put this client's written ranges on top of
   * it. The result is new bytes (the old ones may still be read by a node's put), based on that version.
   */
  private async rebase(index: number, entry: Sealing): Promise<void> {
    const current = await this.readCurrent(index)
    entry.bytes = overlay(current.bytes, entry.bytes, entry.ranges)
    entry.base = current.ref?.id ?? null
  }

  /**
   * A seal committed exactly `entry.bytes` as `ref`: a newer buffer made from those bytes now starts
   * from that chunk, so its own commit needs no rebase.
   */
  private committed(index: number, entry: Sealing, ref: ChunkRef | null): void {
    for (const next of [this.dirty.get(index), this.sealing.get(index)]) {
      if (!next || next.after?.entry !== entry) continue
      if (next.after.bytes === entry.bytes) next.base = ref?.id ?? null
      delete next.after
    }
  }

  /**
   * The size a record may commit: the file's size, but not past the first byte that is still only
   * in memory (a chunk's buffer, or writes to the chunk being stored since it was sealed), so a crash
   * or a stop never leaves a size covering bytes that were never stored. Never below the end of the
   * chunk being stored (a stored chunk holds no bytes past the size) nor the size already committed
   * (a truncate commits its size at once: a hole it makes is real). Once nothing is buffered the
   * whole size is committed. (A writer's records only grow the size at the NameNode: `grow`.)
   */
  private committableSize(index?: number, storedEnd = 0): number {
    const cs = this.ctx.chunkSize
    const size = this.size
    let unstored = size
    for (const i of this.dirty.keys()) unstored = Math.min(unstored, i * cs)
    for (const i of this.sealing.keys()) if (i !== index) unstored = Math.min(unstored, i * cs)
    return Math.max(storedEnd, Math.min(size, Math.max(this.inode().size, unstored)))
  }

  /** Bytes written but still only in memory (buffered, or being stored). */
  unstoredBytes(): number {
    if (this.lostWith) return this.droppedWhenLost
    let bytes = 0
    for (const [index, chunk] of this.dirty) bytes += Math.max(0, Math.min(chunk.len, this.size - index * this.ctx.chunkSize))
    for (const entry of this.sealing.values()) bytes += entry.bytes.length
    return bytes
  }

  /** Seal every dirty buffer (memory pressure). */
  sealAll(): void {
    for (const index of [...this.dirty.keys()]) this.startSeal(index)
  }

  /** Seal buffers that have held unstored bytes since before `before` (ms): periodic writeback. */
  writeback(before: number): void {
    for (const [index, chunk] of [...this.dirty]) if ((chunk.dirtySince ?? 0) < before) this.startSeal(index)
  }

  private reportFailure(): void {
    const failure = this.failure
    if (failure) {
      this.failure = null
      throw failure
    }
  }

  // ---- durability points ---------------------------------------------------------------------------

  /** close(): every buffered chunk stored and journaled (not necessarily durable yet). */
  async flush(): Promise<void> {
    if (this.lostWith) throw this.lostWith
    this.sealAll()
    // Not sealing again inside the loop: a chunk that failed to store is back in `dirty` and its
    // failure is reported below, rather than retried forever.
    while (this.sealing.size || this.loading.size) {
      await Promise.all([...this.sealing.values()].map(s => s.done).concat([...this.loading.values()]))
    }
    this.reportFailure()
    await this.commitAttributes()
  }

  /** fsync(): stored, durable on the nodes, and the journal durable. */
  async fsync(): Promise<void> {
    try {
      await this.flush()
    } catch (err) {
      // After a NameNode change that lost this client's last changes (the file's own create among
      // them, so its inode is unknown there), the flush fails for that reason: the loss is what this
      // fsync reports (EIO, once, from the session's sync), not a bare ENOENT.
      await this.ctx.meta.sync().catch((lost: unknown) => { throw isDfsError(lost, 'EIO') ? lost : err })
      throw err
    }
    const ids = [...this.unsynced.keys()]
    // Where each chunk lives now: the healer or a balance may have moved copies since it was written
    // (they sync what they copy); a chunk the file no longer references needs no sync at all.
    const current = new Map((this.inode().chunks ?? []).filter((r): r is ChunkRef => r !== null).map(r => [r.id, r]))
    await this.ctx.chunks.sync(ids.flatMap(id => current.get(id) ?? []))
    for (const id of ids) this.unsynced.delete(id)
    await this.ctx.meta.sync()
  }

  /**
   * POSIX fidelity: ctime also moves for changes the namespace records while the file is open (link,
   * unlink of another name, rename, xattrs): what this file writes back must never take it back.
   */
  private newestCtime(): number {
    return Math.max(this.ctime, this.ctx.meta.state.inodes.get(this.ino)?.ctime ?? 0)
  }

  /**
   * A size or time that only lives here (writes whose chunks committed before the last of them) goes
   * to the journal. Only what this client changed: it never takes back another client's size or
   * times, and the size only grows (an explicit truncate was committed when it was made).
   */
  private async commitAttributes(): Promise<void> {
    const changes = this.changes
    if (changes === this.recordedChanges) return
    const inode = this.inode()
    const ctime = this.newestCtime()
    const size = this.committableSize()
    if (inode.size >= size && inode.mtime === this.mtime && inode.ctime === ctime) {
      this.recordedChanges = changes
      return
    }
    await this.ctx.meta.commit({
      op: 'truncate', ino: this.ino, size, keep: inode.chunks?.length ?? 0, grow: true, mtime: this.mtime, ctime,
    })
    this.recordedChanges = changes
  }

  /** The file is forgotten (last name and last handle gone): drop buffers without storing them. */
  discardBuffers(): void {
    for (const chunk of this.dirty.values()) this.ctx.budget.give(chunk.buf.length)
    this.dirty.clear()
    this.sealing.clear() // seals in flight see they were superseded and discard what they stored
  }

  // ---- truncate ----------------------------------------------------------------------------------

  /**
   * An explicit truncate: the exact size, whatever other clients did before (last one wins). Refused
   * when another client replaced the chunk the new end falls in since this client looked (it may now
   * reach past the end): this client's view has then caught up, and the truncate runs again from it.
   */
  async truncate(size: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.truncateOnce(size)
      } catch (err) {
        if (!isDfsError(err, 'CHUNK_CONFLICT') || attempt >= COMMIT_ATTEMPTS) throw err
      }
    }
  }

  private async truncateOnce(size: number): Promise<void> {
    const cs = this.ctx.chunkSize
    const partial = Math.floor(size / cs)
    // The chunk the new end falls in must keep its bytes before the end: bring them into memory, and
    // hold them in a dirty buffer in the same turn as the cut below (no await after the last check).
    while (size < this.size && size % cs !== 0 && !this.dirtyBuffer(partial)) await this.load(partial)
    const shrinking = size < this.size

    if (shrinking) {
      // The stored chunk at `partial` is dropped too: its surviving bytes live in the dirty buffer
      // and are stored again on flush. Nothing stored may reach past the new size.
      for (const [index, chunk] of this.dirty) {
        if (index > partial || (index === partial && size % cs === 0)) {
          this.dirty.delete(index)
          this.ctx.budget.give(chunk.buf.length)
        }
      }
      for (const index of this.sealing.keys()) if (index >= partial) this.sealing.delete(index)
      const tail = this.dirty.get(partial)
      if (tail) {
        tail.len = Math.min(tail.len, size - partial * cs)
        // The truncate drops the stored chunk: every byte kept is this client's to store again, onto
        // a hole (or onto what another client stores there first).
        tail.base = null
        tail.ranges = tail.len > 0 ? [[0, tail.len]] : []
        delete tail.after
      }
    }
    this.size = size
    this.mtime = this.ctime = Date.now()
    this.changes++
    // Growing: every chunk below the new size stays, even ones another client added that this one
    // has not seen; anything wholly past it goes.
    const keep = shrinking ? partial : Math.ceil(size / cs)
    // Growing within a chunk keeps it: it must still be the one seen to end before the new end.
    const base = !shrinking && size % cs !== 0 ? { base: this.stored(partial)?.id ?? null } : {}
    const dropped = await this.ctx.meta.commit({
      op: 'truncate', ino: this.ino, size, keep, ...base, mtime: this.mtime, ctime: this.ctime,
    }) as ChunkRef[]
    this.dropped(dropped)
  }

  /** Chunks the file no longer references (the NameNode deletes them): never fsync'd again. */
  private dropped(refs: ChunkRef[]): void {
    for (const ref of refs) this.unsynced.delete(ref.id)
  }

  // ---- reading -----------------------------------------------------------------------------------

  /** Fill `out` with the file's bytes from `position`; returns how many (short at end of file). */
  async read(out: Buffer, position: number): Promise<number> {
    const cs = this.ctx.chunkSize
    const end = Math.min(position + out.length, this.size)
    if (position >= end) return 0
    // Fetches start before this request waits for its own chunk: the chunks it touches first, in
    // order (so the one it needs goes to the thread pool and the hash workers first), then the ones
    // ahead. Started after it, a cold reader would wait out one whole fetch (disk, then hash) for
    // its first chunk, and then another for the next, which nobody had asked for yet.
    if (Math.abs(position - this.lastReadEnd) <= SEQUENTIAL_SLACK) this.readAhead(Math.floor(position / cs), Math.floor((end - 1) / cs) + READ_AHEAD)
    this.lastReadEnd = end
    let at = position
    while (at < end) {
      const index = Math.floor(at / cs)
      const offset = at - index * cs
      const n = Math.min(cs - offset, end - at)
      const dirty = this.dirty.get(index)
      const bytes = dirty ? dirty.buf.subarray(0, dirty.len) : this.sealing.get(index)?.bytes
      // A stored chunk is copied out where it is (the chunk cache keeps its buffer to itself).
      const copied = bytes ? copyRange(bytes, offset, out, at - position, n) : await this.readStoredInto(index, offset, out, at - position, n)
      out.fill(0, at - position + copied, at - position + n)
      at += n
    }
    return end - position
  }

  /** Prefetch the stored chunks first..last (a chunk cached or being fetched costs no second fetch). */
  private readAhead(first: number, last: number): void {
    for (let next = first; next <= last; next++) {
      if (this.dirty.has(next) || this.sealing.has(next)) continue
      const ref = this.stored(next)
      if (ref) this.ctx.chunks.prefetch(ref)
    }
  }
}
