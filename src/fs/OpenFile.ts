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

import { type DfsError, dfsError } from '../errors.js'
import { isFile, type ChunkRef, type Inode } from '../meta/namespace/types.js'
import type { DirtyBudget } from './DirtyBudget.js'
import { levelled } from '../log/Log.js'
import type { ChunkIO, NameNodeSession } from './ports.js'

export interface FileContext {
  chunkSize: number
  meta: NameNodeSession
  chunks: ChunkIO
  budget: DirtyBudget
  log(message: string): void
}

/**
 * A chunk's bytes in memory. Bytes past `len` are zero. The buffer starts as small as the bytes it
 * holds and doubles as writes reach further, so a small file never costs a whole chunk of memory.
 */
interface ChunkBuffer {
  buf: Buffer
  len: number
  /** When the buffer first held bytes not yet stored (ms), for periodic writeback. */
  dirtySince?: number
}

const MIN_BUFFER = 64 * 1024

/** A chunk being stored: frozen bytes (nothing holds them to write), not a ChunkBuffer. */
interface Sealing {
  readonly bytes: Buffer
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

export class OpenFile {
  size: number
  mtime: number
  ctime: number
  /** Open handles; the file's state is dropped when they are gone and nothing is being stored. */
  handles = 0

  private readonly dirty = new Map<number, ChunkBuffer>()
  private readonly loading = new Map<number, Promise<void>>()
  private readonly sealing = new Map<number, Sealing>()
  /** Chunks stored since the last fsync, which the DataNodes have not yet made durable. */
  private readonly unsynced = new Map<string, ChunkRef>()
  /** A failure to store a chunk in the background, reported to the next write, flush or fsync. */
  private failure: DfsError | null = null
  private lastReadEnd = -1

  constructor(readonly ino: number, private readonly ctx: FileContext) {
    const inode = this.inode()
    this.size = inode.size
    this.mtime = inode.mtime
    this.ctime = inode.ctime
  }

  /** True while chunks are buffered or being stored: the file's state must be kept. */
  get busy(): boolean {
    return this.dirty.size > 0 || this.sealing.size > 0 || this.loading.size > 0
  }

  private inode(): Inode {
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
      while (!(chunk = whole ? this.dirty.get(index) ?? this.addDirty(index, null) : this.dirtyBuffer(index))) {
        await this.load(index)
      }
      // From here to the end of the iteration: no await (see the top of the file).
      this.reserve(chunk, offset + n)
      data.copy(chunk.buf, offset, done, done + n)
      chunk.len = Math.max(chunk.len, offset + n)
      done += n
      this.size = Math.max(this.size, at + n)
      // A writer that reached the end of a chunk has (almost always) moved on: store it now.
      if (offset + n === cs) this.startSeal(index)
    }
    this.mtime = this.ctime = Date.now()
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
    if (sealing) return this.addDirty(index, sealing.bytes)
    if (this.size <= index * this.ctx.chunkSize || !this.stored(index)) return this.addDirty(index, null)
    return null
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
      const ref = this.stored(index)!
      const bytes = await this.ctx.chunks.read(ref)
      // While we read, the chunk may have moved on (a whole-chunk write, a truncate): bytes of an
      // older version must not come back. Look again.
      if (this.dirty.has(index) || this.sealing.has(index) || this.stored(index)?.id !== ref.id) continue
      this.addDirty(index, bytes)
      return
    }
  }

  /** A new dirty buffer for the chunk holding `from` (its current bytes), cut at the file's size. */
  private addDirty(index: number, from: Buffer | null): ChunkBuffer {
    const len = Math.max(0, Math.min(from?.length ?? 0, this.size - index * this.ctx.chunkSize))
    const chunk: ChunkBuffer = { buf: Buffer.alloc(0), len: 0, dirtySince: Date.now() }
    this.reserve(chunk, len)
    from?.copy(chunk.buf, 0, 0, len)
    chunk.len = len
    this.dirty.set(index, chunk)
    return chunk
  }

  /** Make a chunk buffer hold at least `end` bytes (growing it by doubling, up to the chunk size). */
  private reserve(chunk: ChunkBuffer, end: number): void {
    if (end <= chunk.buf.length && chunk.buf.length > 0) return
    const size = Math.min(this.ctx.chunkSize, Math.max(end, MIN_BUFFER, chunk.buf.length * 2))
    const buf = Buffer.alloc(size)
    chunk.buf.copy(buf, 0, 0, chunk.len)
    this.ctx.budget.take(size - chunk.buf.length)
    chunk.buf = buf
  }

  private async storedBytes(index: number): Promise<Buffer | null> {
    const ref = this.stored(index)
    return ref ? this.ctx.chunks.read(ref) : null
  }

  /**
   * Move a dirty buffer to sealing: store it on the nodes, then journal it as the chunk's new content.
   * Only its bytes move; the ChunkBuffer is dropped, so no write path can reach them again.
   */
  private startSeal(index: number): void {
    const chunk = this.dirty.get(index)
    if (!chunk) return
    this.dirty.delete(index)
    const len = Math.max(0, Math.min(chunk.len, this.size - index * this.ctx.chunkSize))
    const entry: Sealing = { bytes: chunk.buf.subarray(0, len), held: chunk.buf.length, done: Promise.resolve() }
    this.sealing.set(index, entry)
    entry.done = this.seal(index, entry)
  }

  private async seal(index: number, entry: Sealing): Promise<void> {
    let ref: ChunkRef | null = null
    try {
      const storedEnd = index * this.ctx.chunkSize + entry.bytes.length
      ref = entry.bytes.length > 0 ? await this.ctx.chunks.write(entry.bytes) : null
      // A newer seal of the same chunk, or a truncate, took its place while it was being stored.
      if (this.sealing.get(index) !== entry) {
        if (ref) this.ctx.meta.abandon([ref])
        this.ctx.budget.give(entry.held)
        return
      }
      const old = await this.ctx.meta.commit({
        op: 'chunk', ino: this.ino, index, ref, size: this.committableSize(index, storedEnd), mtime: this.mtime, ctime: this.newestCtime(),
      }) as ChunkRef | null
      if (old) this.dropped([old])
      if (ref) this.unsynced.set(ref.id, ref)
      this.sealing.delete(index)
      this.ctx.budget.give(entry.held)
    } catch (err) {
      if (ref) this.ctx.meta.abandon([ref])
      // Keep the bytes so a later flush can try again; a newer buffer for the chunk wins. They go to
      // a copy: a node's put that failed late may still be reading the sealed bytes.
      if (this.sealing.get(index) === entry) {
        this.sealing.delete(index)
        if (!this.dirty.has(index)) this.addDirty(index, entry.bytes)
      }
      this.ctx.budget.give(entry.held)
      this.failure ??= err as DfsError
      // A warning: the bytes are kept and the writer's close or fsync reports it; an unmount that
      // still cannot store them reports them dropped (FileSystem.flushAll).
      levelled(this.ctx.log).warn(`storing chunk ${index} of inode ${this.ino} failed: ${(err as Error).message}`)
      this.ctx.budget.wake()
    }
  }

  /**
   * The size a record may commit: the file's size, but not past the first byte that is still only
   * in memory (a chunk's buffer, or writes to the chunk being stored since it was sealed), so a crash
   * or a stop never leaves a size covering bytes that were never stored. Never below the end of the
   * chunk being stored (a stored chunk holds no bytes past the size) nor the size already committed
   * (a truncate commits its size at once: a hole it makes is real). Once nothing is buffered the
   * whole size is committed.
   */
  private committableSize(index?: number, storedEnd = 0): number {
    const cs = this.ctx.chunkSize
    let unstored = this.size
    for (const i of this.dirty.keys()) unstored = Math.min(unstored, i * cs)
    for (const i of this.sealing.keys()) if (i !== index) unstored = Math.min(unstored, i * cs)
    return Math.min(this.size, Math.max(this.inode().size, storedEnd, unstored))
  }

  /** Bytes written but still only in memory (buffered, or being stored). */
  unstoredBytes(): number {
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
    await this.flush()
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

  /** A size or time that only lives here (e.g. a truncate that grew the file) goes to the journal. */
  private async commitAttributes(): Promise<void> {
    const inode = this.inode()
    const ctime = this.newestCtime()
    const size = this.committableSize()
    if (inode.size === size && inode.mtime === this.mtime && inode.ctime === ctime) return
    await this.ctx.meta.commit({
      op: 'truncate', ino: this.ino, size, keep: inode.chunks?.length ?? 0, mtime: this.mtime, ctime,
    })
  }

  /** The file is forgotten (last name and last handle gone): drop buffers without storing them. */
  discardBuffers(): void {
    for (const chunk of this.dirty.values()) this.ctx.budget.give(chunk.buf.length)
    this.dirty.clear()
    this.sealing.clear() // seals in flight see they were superseded and discard what they stored
  }

  // ---- truncate ----------------------------------------------------------------------------------

  async truncate(size: number): Promise<void> {
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
        tail.buf.fill(0, tail.len)
      }
    }
    this.size = size
    this.mtime = this.ctime = Date.now()
    const keep = shrinking ? partial : this.inode().chunks?.length ?? 0
    const dropped = await this.ctx.meta.commit({
      op: 'truncate', ino: this.ino, size, keep, mtime: this.mtime, ctime: this.ctime,
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
    let at = position
    while (at < end) {
      const index = Math.floor(at / cs)
      const offset = at - index * cs
      const n = Math.min(cs - offset, end - at)
      const dirty = this.dirty.get(index)
      const bytes = dirty ? dirty.buf.subarray(0, dirty.len) : this.sealing.get(index)?.bytes ?? await this.storedBytes(index)
      const from = Math.min(offset, bytes?.length ?? 0)
      const to = Math.min(offset + n, bytes?.length ?? 0)
      const copied = bytes ? bytes.copy(out, at - position, from, to) : 0
      out.fill(0, at - position + copied, at - position + n)
      at += n
    }
    if (Math.abs(position - this.lastReadEnd) <= SEQUENTIAL_SLACK) this.readAhead(Math.floor((end - 1) / cs))
    this.lastReadEnd = end
    return end - position
  }

  private readAhead(index: number): void {
    for (let next = index + 1; next <= index + READ_AHEAD; next++) {
      if (this.dirty.has(next) || this.sealing.has(next)) continue
      const ref = this.stored(next)
      if (ref) this.ctx.chunks.prefetch(ref)
    }
  }
}
