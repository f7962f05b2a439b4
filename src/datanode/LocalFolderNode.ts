// The local-folder transport: a DataNode whose chunks are files in a folder on this machine.
//
//   <dir>/chunks/<first two hex digits>/<id>          one file per chunk
//   <dir>/chunks/<..>/<id>.tmp-<prefix><n>            a put in progress (renamed into place when whole)
//
// A new small chunk (a fresh id, written once) goes straight to its final name (folderWriter.ts),
// without the temp file and rename. Until its put settles this node acts as if the file were not
// there (list, has, get and delete pass it over, as they pass over a temp file): a NameNode's orphan
// sweep must not take a chunk a remote client is still writing for an orphan, and a reader must not
// get half of it.
//
// Two rules shape this file. Every method validates the chunk id before it touches the disk (a TCP
// server will pass ids straight from the network). And nothing here ever creates the node folder or
// its subfolders: if the folder is deleted while we run (`rm -rf node_1`), every call fails with
// NODE_UNAVAILABLE instead of quietly growing a new, empty node where the old one was.

import { randomBytes } from 'node:crypto'
import { readdir, stat, statfs, unlink } from 'node:fs/promises'
import { closeFdQuietly, datasyncFd, renamePath } from '../util/fdCalls.js'
import { dropCachedPages } from '../util/pageCache.js'
import { join } from 'node:path'
import { DfsError, dfsError } from '../errors.js'
import { assertChunkId, isChunkId } from './chunkId.js'
import { checkPutHash } from './putHash.js'
import type { ChunkId, DataNode, GetHint, NodeUsage, PutHint } from './DataNode.js'
import { deviceOf } from './device.js'
import { FolderWriter } from './folderWriter.js'
import { ChunkTally, NO_CHANGE, type TallyDelta } from './chunkTally.js'
import { type DirectState, readWholeFile } from './readWhole.js'
import { writeNewFile } from './writeWhole.js'
import {
  CHUNK_SUBFOLDERS,
  CHUNKS_DIR,
  chunkFilePath,
  IDENTITY_FILE,
  openNodeFolder,
  readIdentity,
  type OpenNodeFolderOptions,
} from './identity.js'
import { errnoOf, isNoSpace, isNotFound } from '../util/osError.js'
import type { FolderLock } from '../util/folderLock.js'
import { lockNodeFolder } from './nodeLock.js'
import { pagesOf } from './listPages.js'
import { type ClaimRequest, claimedRecord, fencedError, type NodeClaim, refuseClaim, sameClaim } from './claim.js'
import { CLAIM_FILE, type ClaimFile, readClaimFile, writeClaimFile } from './claimFile.js'

export interface LocalFolderNodeOptions extends OpenNodeFolderOptions {
  /** How to name this node in messages; defaults to dir as given. */
  address?: string
  /** Hold the node folder's lock until close (a process that writes to the folder; see nodeLock.ts). */
  lock?: boolean
  /** The clock of the claim file's restore (#claimFileLost); for tests. */
  now?: () => number
}

const TEMP_MARKER = '.tmp-'
/** A temp file this old belongs to a put that died (crash, kill -9); list() removes it. */
const STALE_TEMP_MS = 60_000
/** Chunks at least this large are synced in the background right after they are put. */
const SYNC_BEHIND_BYTES = 1024 * 1024
/**
 * Chunks smaller than this are written by the folder's writer thread (folderWriter.ts): one hand-off
 * instead of four or five pool jobs. Larger ones go through libuv's pool, several at once, and are
 * synced behind (the clone a message makes of the bytes is cheap only for small ones).
 */
const SMALL_PUT_BYTES = 128 * 1024
/** Subfolders listed at once: keeps the disk busy without risking EMFILE. */
const IO_PARALLELISM = 16
/** A claim file gone this long from a folder otherwise whole is written again (#claimFileLost). */
const CLAIM_RESTORE_MS = 1000

export class LocalFolderNode implements DataNode {
  readonly nodeId: string
  readonly clusterId: string
  readonly address: string
  /** Absolute path of the node folder. */
  readonly dir: string

  readonly #chunksDir: string
  /** Running totals for usage(), so usage() never walks the folder: counted after open, kept by put and delete. */
  readonly #tally: ChunkTally
  /** Background fdatasyncs of chunks just put (sync behind writes), by id. */
  readonly #syncing = new Map<ChunkId, Promise<void>>()
  #closed = false
  #lock: FolderLock | undefined
  /** The claim this process took (claim.ts); deletes need it to be the folder's record still. */
  #claim: NodeClaim | undefined
  /** The claim file as last read: its stat identity, and what it held. */
  #claimSeen: { key: string; file: ClaimFile | undefined } | undefined
  /**
   * The generation of the claim this process last wrote to the file (claimFile.ts). Not the file as
   * read: after a write that failed, that may show a slot the disk never got.
   */
  #claimWritten: number | undefined
  /** Since when the claim file this process wrote has been gone (#claimFileLost). */
  #claimLostAt: number | undefined
  readonly #now: () => number
  /** Claims one at a time: each is a compare-and-swap on the file. */
  #claiming: Promise<unknown> = Promise.resolve()
  /**
   * Temp names of puts: random once per instance (another process, or a crashed one's leftovers,
   * never shares it), then a counter, so a put costs no random bytes.
   */
  readonly #tempPrefix = randomBytes(6).toString('hex')
  #temps = 0
  /** Writes small chunks and syncs chunk files off the main thread, in one hand-off each. */
  readonly #writer = new FolderWriter()
  /** Fresh small chunks being written in place, until their put settles: not there yet for anyone. */
  readonly #writingInPlace = new Set<ChunkId>()
  /**
   * Puts that may replace a copy, and deletes, of one id: one after another, the last of each id
   * here. Each reads the file's old size and then changes the file; interleaved (a delete's stat, a
   * put's rename, the delete's unlink) the tally would count bytes no disk holds.
   */
  readonly #changing = new Map<ChunkId, Promise<void>>()
  /** Whether this folder's file system refused O_DIRECT (readWhole.ts, writeWhole.ts). */
  readonly #direct: DirectState = { refused: false }

  /** Open (and with `create`, initialise) a node folder. See openNodeFolder for the rules. */
  static async open(dir: string, options: LocalFolderNodeOptions): Promise<LocalFolderNode> {
    const folder = await openNodeFolder(dir, options)
    const lock = options.lock ? await lockNodeFolder(folder.dir) : undefined
    const node = new LocalFolderNode(folder.dir, folder.identity.nodeId, folder.identity.clusterId, options.address ?? dir, folder.created, options.now ?? Date.now)
    node.#lock = lock
    return node
  }

  /** `created`: this open made the folder a node just now, so it holds no chunk to count. */
  private constructor(dir: string, nodeId: string, clusterId: string, address: string, created: boolean, now: () => number) {
    this.#now = now
    this.dir = dir
    this.nodeId = nodeId
    this.clusterId = clusterId
    this.address = address
    this.#chunksDir = join(dir, CHUNKS_DIR)
    // One subfolder at a time: the writer thread counts them one after another anyway, and a put to a
    // subfolder being counted waits for that count (chunkTally.ts), so more would only make puts wait.
    this.#tally = new ChunkTally(created ? [] : CHUNK_SUBFOLDERS, (sub) => this.#countSubfolder(sub), 1)
  }

  /** The first count of the chunks is over (usage() counts every chunk from now on); for tests and tools. */
  get counted(): Promise<void> {
    return this.#tally.counted
  }

  async put(id: ChunkId, data: Buffer, sha256: string, hint: PutHint = {}): Promise<void> {
    this.#checkChunk(id)
    // Hashed (on the thread pool, from a copy taken now) while the bytes go to disk: the check costs
    // CPU but hardly any time. Bytes without the carried hash are never renamed into place.
    const hashed = checkPutHash(id, data, sha256, this.address)
    hashed.catch(() => {}) // awaited below; a failed write must not leave it unhandled
    const path = this.#pathOf(id)
    const small = data.length < SMALL_PUT_BYTES
    // Said to be fresh, yet there already: a retried put whose first try landed (a TCP client that
    // lost the reply), or a client's word that was wrong. Replaced, as any second put of an id is.
    if (hint.fresh && small && !this.#writingInPlace.has(id) && (await this.#putSmall(id, data, hashed, path))) return
    // Write beside the final name, then rename: a reader sees the whole chunk or nothing, and a crash
    // leaves only a temp file that list() cleans up later.
    const temp = `${path}${TEMP_MARKER}${this.#tempPrefix}${(this.#temps++).toString(36)}`
    await this.#oneAtATime(id, () =>
      this.#tally.change(id.slice(0, 2), () => (small ? this.#replaceSmall(id, data, hashed, temp, path) : this.#putFile(id, data, hashed, temp, path))))
  }

  /** Run a change of chunk `id`'s file once the changes of it before have settled (#changing). */
  async #oneAtATime(id: ChunkId, change: () => Promise<void>): Promise<void> {
    const before = this.#changing.get(id)
    const running = before ? before.then(change) : change()
    const settled = running.catch(() => {})
    this.#changing.set(id, settled)
    try {
      await running
    } finally {
      if (this.#changing.get(id) === settled) this.#changing.delete(id)
    }
  }

  /**
   * A small chunk that may replace an earlier copy (a repair's, a retry's): the same steps as
   * #putFile, made by the folder's writer thread in one hand-off instead of five pool jobs. Checked
   * first: bytes without the carried hash never reach the disk.
   */
  async #replaceSmall(id: ChunkId, data: Buffer, hashed: Promise<void>, temp: string, path: string): Promise<TallyDelta> {
    try {
      await hashed
      const previous = await this.#writer.replace(temp, path, data)
      return { bytes: data.length - (previous ?? 0), chunks: previous === undefined ? 1 : 0 }
    } catch (err) {
      throw this.#writeError('put', err, id)
    }
  }

  async #putFile(id: ChunkId, data: Buffer, hashed: Promise<void>, temp: string, path: string): Promise<TallyDelta> {
    // A plain descriptor, not a FileHandle: a put is the one call a stream of small files makes
    // thousands of times a second, and the promise API costs several promises per call (fdCalls.ts).
    let fd: number | undefined
    let direct = false
    try {
      ;({ fd, direct } = await writeNewFile(temp, data, this.#direct))
      await hashed
    } catch (err) {
      if (fd !== undefined) closeFdQuietly(fd)
      await unlink(temp).catch(() => {})
      throw this.#writeError('put', err, id)
    }
    // A second put of the same id (a retry, or a repair over a corrupt copy) replaces the file; find
    // its old size so the running totals stay right. Asked even of an id said to be fresh: a TCP
    // client's word (FLAG_FRESH) must not be able to skew them, and a stat is little beside a large put.
    const previous = await stat(path).then((info) => info.size, () => undefined)
    try {
      await renamePath(temp, path)
    } catch (err) {
      closeFdQuietly(fd)
      await unlink(temp).catch(() => {})
      throw this.#writeError('put', err, id)
    }
    this.#syncBehind(id, fd, data.length, !direct)
    return { bytes: data.length - (previous ?? 0), chunks: previous === undefined ? 1 : 0 }
  }

  /**
   * A new small chunk (a small file's, the tail of a larger one): checked, then written under its
   * final name and closed by the folder's writer thread. A fresh id has no earlier copy: no stat.
   * Checked first: bytes without the carried hash never reach the disk. False: the name exists
   * already (EEXIST), and nothing was written.
   */
  async #putSmall(id: ChunkId, data: Buffer, hashed: Promise<void>, path: string): Promise<boolean> {
    let marked = false
    try {
      await hashed
      // Only now, right before the file is made: a copy there already (a retry's) is not hidden
      // from readers while the check runs.
      this.#writingInPlace.add(id)
      marked = true
      await this.#tally.change(id.slice(0, 2), async () => {
        await this.#writer.write(path, data)
        return { bytes: data.length, chunks: 1 }
      })
      return true
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') return false
      throw this.#writeError('put', err, id)
    } finally {
      if (marked) this.#writingInPlace.delete(id)
    }
  }

  /**
   * Large chunks come from streaming writes: start making them durable now, in the background, so
   * that an fsync at the end of the stream waits for the last few chunks rather than all of them
   * (HDFS DataNodes can do the same: sync behind writes). Once durable, the pages of one written
   * through the page cache (`cached`) leave it (drop behind writes, util/pageCache.ts says why).
   * Small chunks are cheaper to sync in one batch when asked, and are the ones worth keeping cached.
   */
  #syncBehind(id: ChunkId, fd: number, size: number, cached: boolean): void {
    if (size < SYNC_BEHIND_BYTES) {
      closeFdQuietly(fd)
      return
    }
    const done = datasyncFd(fd)
      .then(() => {
        if (cached) dropCachedPages(fd)
      })
      .finally(() => closeFdQuietly(fd))
    this.#syncing.set(id, done)
    done.then(() => this.#syncing.delete(id), () => this.#syncing.delete(id))
  }

  async get(id: ChunkId, hint: GetHint = {}): Promise<Buffer> {
    this.#checkChunk(id)
    if (this.#writingInPlace.has(id)) throw await this.#whyMissing(id)
    try {
      return await readWholeFile(this.#pathOf(id), this.#direct, hint.len)
    } catch (err) {
      if (isNotFound(err)) throw await this.#whyMissing(id)
      throw this.#unavailable('get', err, id)
    }
  }

  async has(id: ChunkId): Promise<boolean> {
    this.#checkChunk(id)
    try {
      const there = (await stat(this.#pathOf(id))).isFile()
      return there && !this.#writingInPlace.has(id)
    } catch (err) {
      if (!isNotFound(err)) throw this.#unavailable('has', err, id)
      const why = await this.#whyMissing(id)
      if (why.code === 'CHUNK_MISSING') return false
      throw why
    }
  }

  async delete(id: ChunkId): Promise<void> {
    this.#checkChunk(id)
    await this.#checkMayDelete(id)
    await this.#oneAtATime(id, () => this.#tally.change(id.slice(0, 2), () => this.#deleteFile(id)))
  }

  async #deleteFile(id: ChunkId): Promise<TallyDelta> {
    // Not there yet: the put lands after this delete, as a rename into place would.
    if (this.#writingInPlace.has(id)) return NO_CHANGE
    const path = this.#pathOf(id)
    let size: number
    try {
      size = (await stat(path)).size
    } catch (err) {
      if (!isNotFound(err)) throw this.#unavailable('delete', err, id)
      const why = await this.#whyMissing(id)
      if (why.code === 'CHUNK_MISSING') return NO_CHANGE // already gone: not an error
      throw why
    }
    try {
      await unlink(path)
    } catch (err) {
      if (isNotFound(err)) return NO_CHANGE // a concurrent delete won; it did the accounting
      throw this.#unavailable('delete', err, id)
    }
    return { bytes: -size, chunks: -1 }
  }

  /**
   * The chunk subfolders in order (a few thousand ids each at a million files), in pages. Up to
   * IO_PARALLELISM are read ahead, so a listing is no slower than reading them all at once (a
   * returning node's chunk report over TCP has a deadline).
   */
  async *listPages(): AsyncGenerator<ChunkId[]> {
    const reads: Promise<ChunkId[]>[] = []
    let next = 0
    const readAhead = () => {
      while (reads.length < IO_PARALLELISM && next < CHUNK_SUBFOLDERS.length) {
        this.#checkOpen()
        const read = this.#readSubfolder(CHUNK_SUBFOLDERS[next++]!)
        read.catch(() => {}) // awaited in turn below; a listing given up early must not leave it unhandled
        reads.push(read)
      }
    }
    readAhead()
    while (reads.length > 0) {
      const ids = await reads.shift()!
      readAhead()
      yield* pagesOf(ids)
    }
  }

  async list(): Promise<ChunkId[]> {
    const ids: ChunkId[] = []
    for await (const page of this.listPages()) ids.push(...page)
    return ids
  }

  async usage(): Promise<NodeUsage> {
    this.#checkOpen()
    let fs
    let device
    try {
      ;[fs, device] = await Promise.all([statfs(this.dir), deviceOf(this.dir)])
    } catch (err) {
      throw this.#unavailable('usage', err)
    }
    return {
      capacity: fs.blocks * fs.bsize,
      available: fs.bavail * fs.bsize,
      used: this.#tally.bytes,
      chunks: this.#tally.chunks,
      ...(this.#tally.counting ? { counting: true } : {}),
      device,
    }
  }

  async sync(ids: ChunkId[]): Promise<void> {
    for (const id of ids) assertChunkId(id, { node: this.address })
    this.#checkOpen()
    const unique = [...new Set(ids)]
    const fileError = async (id: ChunkId, err: unknown) => (isNotFound(err) ? await this.#whyMissing(id) : this.#writeError('sync', err, id))
    // Large chunks being synced behind their put: that sync is this one.
    const behind = unique.flatMap((id) => {
      const syncing = this.#syncing.get(id)
      return syncing ? [syncing.catch(async (err: unknown) => { throw await fileError(id, err) })] : []
    })
    // The other files, then each folder once (its fsync is what makes new names in it durable), by
    // the writer thread in one hand-off, grouped with other syncs (folderWriter.ts): six pool jobs
    // per small chunk made syncing a stream of repaired small chunks cost twice what copying did.
    const targets: ({ id: ChunkId } | { subfolder: string })[] = [
      ...unique.filter((id) => !this.#syncing.has(id)).map((id) => ({ id })),
      ...[...new Set(unique.map((id) => id.slice(0, 2)))].map((subfolder) => ({ subfolder })),
    ]
    const paths = targets.map((t) => ('id' in t ? this.#pathOf(t.id) : join(this.#chunksDir, t.subfolder)))
    const synced = this.#writer.sync(paths).catch(async (err: unknown) => {
      this.#checkOpen() // cut short by close(): say so, not what the closed thread said
      const failed = targets[(err as { index?: number }).index ?? -1]
      if (failed && 'id' in failed) throw await fileError(failed.id, err)
      if (failed && isNotFound(err)) throw this.#gone(`${CHUNKS_DIR}/${failed.subfolder} is missing`)
      throw this.#writeError('sync', err)
    })
    await Promise.all([...behind, synced])
  }

  async ping(): Promise<void> {
    this.#checkOpen()
    let identity
    try {
      identity = await readIdentity(this.dir, this.address)
    } catch (err) {
      throw this.#unavailable('ping', err)
    }
    if (!identity) throw this.#gone(`${IDENTITY_FILE} is missing`)
    // A folder that was wiped and initialised again is a different node: our chunks are not in it.
    if (identity.nodeId !== this.nodeId) {
      throw dfsError(
        'NODE_UNAVAILABLE',
        `node folder ${this.address} now holds node ${identity.nodeId}, not ${this.nodeId} (it was wiped and re-created)`,
        { node: this.address, nodeId: this.nodeId, found: identity.nodeId },
      )
    }
    try {
      await stat(this.#chunksDir)
    } catch (err) {
      if (isNotFound(err)) throw this.#gone(`${CHUNKS_DIR}/ is missing`)
      throw this.#unavailable('ping', err)
    }
  }

  /**
   * Take (or refresh) a NameNode epoch claim on this folder, compare-and-swap (claim.ts). heldBy names
   * a live session holding the folder's current claim (a server's other connection), if any.
   * Returns the record as it is afterwards.
   */
  claim(request: ClaimRequest, heldBy?: (record: NodeClaim) => string | undefined): Promise<NodeClaim | undefined> {
    this.#checkOpen()
    const run = this.#claiming.catch(() => {}).then(async () => {
      const file = await this.#claimFile()
      const record = file?.record
      if (file) this.#claimLostAt = undefined
      else if (this.#claim && sameClaim(request.claim, this.#claim) && !request.check) await this.#claimFileLost()
      const refusal = refuseClaim(record, request, this.address, record && !sameClaim(record, request.claim) ? heldBy?.(record) : undefined)
      if (refusal) throw refusal
      if (request.check) return record
      const next = claimedRecord(record, request)
      if (next) {
        // In place in a file in slots; made whole when there is none, or one of an older dfs.
        const after = file === undefined || file.generation === 0 ? undefined : this.#claimWritten ?? file.generation
        try {
          this.#claimWritten = await writeClaimFile(this.dir, next, after)
        } catch (err) {
          if (after !== undefined && isNotFound(err)) await this.#claimFileLost()
          throw this.#writeError('claim', err)
        } finally {
          this.#claimSeen = undefined
        }
      }
      this.#claim = next ?? record
      return this.#claim
    })
    this.#claiming = run
    return run
  }

  /** The folder's current claim; re-read only when the file changed (a stat per call). */
  async claimRecord(): Promise<NodeClaim | undefined> {
    return (await this.#claimFile())?.record
  }

  async #claimFile(): Promise<ClaimFile | undefined> {
    const file = join(this.dir, CLAIM_FILE)
    let key: string
    try {
      const info = await stat(file, { bigint: true })
      key = `${info.ino}:${info.mtimeNs}:${info.size}`
    } catch (err) {
      if (!isNotFound(err)) throw this.#unavailable('claim', err)
      key = 'none'
    }
    if (this.#claimSeen?.key === key) return this.#claimSeen.file
    const found = key === 'none' ? undefined : await readClaimFile(this.dir, this.address)
    this.#claimSeen = { key, file: found }
    return found
  }

  /**
   * The claim file this process wrote is gone. Made again at once, a raise landing while `rm -rf`
   * empties the folder would leave it behind, and the rm fails "Directory not empty". A removal
   * takes the folder's other entries within moments, so the file is made again only once it has
   * been gone for CLAIM_RESTORE_MS and the rest of the folder is still whole. Until then this throws,
   * and this process deletes nothing there.
   */
  async #claimFileLost(): Promise<void> {
    await this.ping() // a folder that is going says so first
    this.#claimLostAt ??= this.#now()
    if (this.#now() - this.#claimLostAt >= CLAIM_RESTORE_MS && (await this.#subfoldersWhole())) {
      this.#claimLostAt = undefined
      return
    }
    throw dfsError('NODE_FOLDER_INVALID',
      `node folder ${this.address} lost its ${CLAIM_FILE} while this process held its claim (epoch ${this.#claim?.epoch}): it deletes nothing there until the file is written again, which the next raise of the claim does once the rest of the folder has stayed whole for ${CLAIM_RESTORE_MS / 1000} s`,
      this.#context())
  }

  async #subfoldersWhole(): Promise<boolean> {
    const present = new Set(await readdir(this.#chunksDir).catch(() => []))
    return CHUNK_SUBFOLDERS.every((name) => present.has(name))
  }

  /** A folder some NameNode has claimed deletes only for the process holding that claim. */
  async #checkMayDelete(id: ChunkId): Promise<void> {
    const record = await this.claimRecord()
    if (record === undefined && this.#claim === undefined) return // never claimed: nothing to fence
    if (this.#claim === undefined) throw fencedError(this.address, `this process has not claimed it (epoch ${record!.epoch} holds it)`, id)
    if (!sameClaim(record, this.#claim)) {
      if (!record) await this.ping() // a folder that is gone says so first
      throw fencedError(this.address, record ? `epoch ${record.epoch} claimed it after this process's epoch ${this.#claim.epoch}` : `its ${CLAIM_FILE} is gone`, id)
    }
  }

  async close(): Promise<void> {
    // Nothing is held open between calls but the lock; closing makes later calls fail clearly.
    this.#closed = true
    this.#writer.close()
    this.#tally.stop()
    await this.#lock?.release()
  }

  // --- internals ---

  /** Validate the id (always first: before any disk access), then that the node is still open. */
  #checkChunk(id: ChunkId): void {
    assertChunkId(id, { node: this.address })
    this.#checkOpen(id)
  }

  #checkOpen(id?: ChunkId): void {
    if (this.#closed) {
      throw dfsError('NODE_UNAVAILABLE', `node ${this.address} is closed`, this.#context(id))
    }
  }

  #pathOf(id: ChunkId): string {
    return chunkFilePath(this.dir, id)
  }

  #context(id?: ChunkId): Record<string, unknown> {
    return id === undefined ? { node: this.address } : { node: this.address, chunk: id }
  }

  /** The chunk file is not there: is it just this chunk (CHUNK_MISSING), or the whole folder? */
  async #whyMissing(id: ChunkId): Promise<DfsError> {
    const sub = id.slice(0, 2)
    try {
      await stat(join(this.#chunksDir, sub))
    } catch (err) {
      if (isNotFound(err)) return this.#gone(`${CHUNKS_DIR}/${sub} is missing`, id)
      return this.#unavailable('stat', err, id)
    }
    return dfsError('CHUNK_MISSING', `node ${this.address} does not have chunk ${id}`, this.#context(id))
  }

  #gone(detail: string, id?: ChunkId): DfsError {
    return dfsError('NODE_UNAVAILABLE', `node folder ${this.address} is gone (${detail})`, this.#context(id))
  }

  #unavailable(op: string, err: unknown, id?: ChunkId): DfsError {
    if (err instanceof DfsError) return err
    if (isNotFound(err)) return this.#gone(`${op}: ${errnoOf(err)}`, id)
    const errno = errnoOf(err) ?? String(err)
    return dfsError('NODE_UNAVAILABLE', `node ${this.address}: ${op} failed (${errno})`, { ...this.#context(id), errno }, err)
  }

  /** Errors of calls that add data: no room is NODE_FULL, the rest as #unavailable. */
  #writeError(op: string, err: unknown, id?: ChunkId): DfsError {
    if (isNoSpace(err)) {
      const what = id === undefined ? 'data' : `chunk ${id}`
      return dfsError('NODE_FULL', `node ${this.address} has no room for ${what} (${errnoOf(err)})`, this.#context(id), err)
    }
    return this.#unavailable(op, err, id)
  }

  /** Chunk ids in one subfolder; removes temp files of puts that died. */
  /** A chunk subfolder that could not be listed: gone (the folder was removed) or unavailable. */
  #listError(sub: string, err: unknown): DfsError {
    return isNotFound(err) ? this.#gone(`${CHUNKS_DIR}/${sub} is missing`) : this.#unavailable('list', err)
  }

  async #readSubfolder(sub: string): Promise<ChunkId[]> {
    const folder = join(this.#chunksDir, sub)
    let names: string[]
    try {
      names = await readdir(folder)
    } catch (err) {
      throw this.#listError(sub, err)
    }
    const ids: ChunkId[] = []
    for (const name of names) {
      if (isChunkId(name)) {
        if (!this.#writingInPlace.has(name)) ids.push(name)
      } else if (name.includes(TEMP_MARKER)) await removeIfStale(join(folder, name))
      // anything else is not ours: leave it alone
    }
    return ids
  }

  /** The chunks one subfolder holds now, and their bytes (the tally's first count, made by the folder's writer thread). */
  async #countSubfolder(sub: string): Promise<TallyDelta> {
    const folder = join(this.#chunksDir, sub)
    let found
    try {
      found = await this.#writer.count(folder, TEMP_MARKER)
    } catch (err) {
      throw this.#listError(sub, err)
    }
    for (const name of found.temps) await removeIfStale(join(folder, name))
    return { bytes: found.bytes, chunks: found.chunks }
  }
}

async function removeIfStale(path: string): Promise<void> {
  try {
    const info = await stat(path)
    if (Date.now() - info.mtimeMs > STALE_TEMP_MS) await unlink(path)
  } catch {
    // gone already, or not ours to remove: either way nothing to do
  }
}

