// Small chunk files written whole by a thread of their own, one per node folder. A put through
// libuv's pool is four jobs (open, write, rename, close), each a hand-off to a pool thread and a
// wake-up of the main thread when it is done; measured on a stream of 4 KiB creates, those thread
// switches were the largest part of the daemon's CPU per file. Here a put is one message each way:
// the thread makes the calls back to back, synchronously.
//
// A new chunk is written under its final name, with no temp file renamed into place: its id is
// fresh, so nobody asks for it before its put returns (the writer commits it only then), and the
// rename (a second directory change) made a 4 KiB put cost 1.2 to 3 times as much here (ext4). A
// put that fails removes what it wrote; one cut short by a crash leaves an unreferenced file, which
// the orphan sweep removes as it removes the chunks of a writer that died before its commit.
//
// A small chunk that may replace a copy (a repair's, a retry's) is written here too, beside its name
// and renamed over it (replace): five pool jobs were one message. And a node's syncs are made here,
// as group commits: syncs asked for while one runs go together next, each path once (a subfolder the
// chunks of several syncs share is synced once; on a file system with a journal, the group's first
// fsync commits it for every file in the group, and the rest cost little). A healer copying a stream
// of small chunks spent 2.6 ms per chunk syncing and 1.3 putting, with six and five pool jobs; with
// this, 1.5 and 0.8 (its own timers, 4 copies at once, on this VM's ext4, which has no journal).
//
// Synchronous calls may block on the node's disk, which is why they are made here and never on the
// main thread (it answers FUSE and runs liveness, which is what takes a hung node out of the write
// pool). One thread per node folder: a hung disk stalls its own puts and syncs only, where a hung
// fsync on libuv's pool held one of the four threads every other file call of the process shares.
//
// The same thread counts the folder's chunks after open (ChunkTally): a stat per chunk, two thirds of a
// million for a node of a million-file namespace, made on the main thread took seconds of it while a
// mount was loading its checkpoint; here each subfolder is one message each way.
//
// The thread starts on the first job and holds the process open only while it has work.

import { Worker } from 'node:worker_threads'
import { CHUNK_ID } from './chunkId.js'

// CommonJS run by `eval`, so the same code serves dist/ and the TypeScript sources the tests load.
export const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const fs = require('node:fs')
const path = require('node:path')
const CHUNK_ID = new RegExp(${JSON.stringify(CHUNK_ID.source)})
function count(id, folder, tempMarker) {
  let dir
  try {
    let bytes = 0
    let chunks = 0
    const temps = []
    // Streamed: a subfolder of a huge node holds hundreds of thousands of names, more than this
    // thread's small heap takes as one array.
    dir = fs.opendirSync(folder, { bufferSize: 1024 })
    for (let entry; (entry = dir.readSync()) !== null;) {
      const name = entry.name
      if (CHUNK_ID.test(name)) {
        let size
        try { size = fs.statSync(path.join(folder, name)).size } catch { continue } // gone meanwhile
        bytes += size
        chunks += 1
      } else if (name.includes(tempMarker)) temps.push(name)
    }
    parentPort.postMessage({ id, result: { bytes, chunks, temps } })
  } catch (err) {
    failed(id, err)
  } finally {
    if (dir) try { dir.closeSync() } catch {}
  }
}
// A system call's error as a message carries it.
function errorReply(err) {
  const e = err || {}
  return { message: String(e.message || e), code: e.code, errno: e.errno, syscall: e.syscall, path: e.path }
}
function failed(id, err) {
  parentPort.postMessage({ id, error: errorReply(err) })
}
// Create path (it must not exist) holding data, and close it; on failure nothing of it is left.
function writeNew(path, data) {
  let fd
  let created = false
  try {
    fd = fs.openSync(path, 'wx', 0o666)
    created = true
    for (let done = 0; done < data.length;) done += fs.writeSync(fd, data, done, data.length - done, done)
    // Forgotten before the call: a close that fails has released the descriptor all the same
    // (close(2)), and closing its number again could close another thread's file.
    const written = fd
    fd = undefined
    fs.closeSync(written)
  } catch (err) {
    if (fd !== undefined) try { fs.closeSync(fd) } catch {}
    // Only a file this put made: a name that existed already (EEXIST) is somebody else's.
    if (created) try { fs.unlinkSync(path) } catch {}
    throw err
  }
}
// Whole or nothing: written beside the final name, then renamed over it. The size of the file it
// replaced (null: there was none), for the folder's running totals.
function replace(id, temp, path, data) {
  try {
    writeNew(temp, data)
  } catch (err) {
    return failed(id, err)
  }
  try {
    let previous = null
    try { previous = fs.statSync(path).size } catch (err) { if (err.code !== 'ENOENT') throw err }
    fs.renameSync(temp, path)
    parentPort.postMessage({ id, result: { previous } })
  } catch (err) {
    try { fs.unlinkSync(temp) } catch {}
    failed(id, err)
  }
}
// fsync each path (a chunk file or a folder) in order; every failure, by its position.
function sync(id, paths) {
  const failures = []
  for (let i = 0; i < paths.length; i++) {
    let fd
    try {
      fd = fs.openSync(paths[i], 'r')
      fs.fsyncSync(fd)
    } catch (err) {
      failures.push({ index: i, error: errorReply(err) })
    } finally {
      // A close that fails after the fsync changes nothing that was made durable.
      if (fd !== undefined) try { fs.closeSync(fd) } catch {}
    }
  }
  parentPort.postMessage({ id, result: { failures } })
}
parentPort.on('message', ({ id, path, data, temp, syncPaths, countFolder, tempMarker }) => {
  if (countFolder !== undefined) return count(id, countFolder, tempMarker)
  if (syncPaths !== undefined) return sync(id, syncPaths)
  if (temp !== undefined) return replace(id, temp, path, data)
  try {
    writeNew(path, data)
    parentPort.postMessage({ id })
  } catch (err) {
    failed(id, err)
  }
})
`

/**
 * The thread's own heap, kept small: it holds one message at a time. With V8's defaults each thread
 * grew its young generation to several MiB of resident memory per node folder.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 }

/** How puts and syncs were made, for tests that pin the main thread's file calls per small put. */
export const folderWriterCounts = {
  /** New chunks written in place by a folder's writer thread. */
  written: 0,
  /** Chunks written beside their name and renamed over it by a writer thread (puts that may replace a copy). */
  replaced: 0,
  /** Group syncs made by a writer thread (each of the paths of any number of callers). */
  synced: 0,
  /** Writer threads started. */
  started: 0,
}

interface Job {
  resolve(result: unknown): void
  reject(err: Error): void
}

/** What one subfolder of chunk files holds: their count and bytes, and the names of temp files in it. */
export interface FolderCount {
  bytes: number
  chunks: number
  temps: string[]
}

interface ErrorReply {
  message: string
  code?: string
  errno?: number
  syscall?: string
  path?: string
}

/** The system call's error a thread reported, as node's own fs errors carry it. */
function errorOf(reply: ErrorReply): Error {
  return Object.assign(new Error(reply.message), { code: reply.code, errno: reply.errno, syscall: reply.syscall, path: reply.path })
}

/** A caller of sync(): its paths, as it gave them. */
interface SyncWaiter {
  paths: string[]
  resolve(): void
  reject(err: Error): void
}

/** Paths per sync message: the thread's heap (WORKER_LIMITS) holds them and their failures at once. */
const SYNC_PATHS = 1024

/**
 * The bytes as a message should carry them. A message copies a view's whole memory, not the view
 * (a 4 KiB tail of a 4 MiB buffer would cost 4 MiB), and shares shared memory with the thread, which
 * then holds it until its own garbage collection: those get a copy of just the bytes.
 */
export function compact(data: Uint8Array): Uint8Array {
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
  return whole && !(data.buffer instanceof SharedArrayBuffer) ? data : new Uint8Array(data)
}

interface Slot {
  worker: Worker
  jobs: Map<number, Job>
}

/** One node folder's writer thread. */
export class FolderWriter {
  #slot: Slot | undefined
  #nextId = 0
  #closed = false
  /** Paths to sync once the group under way is done, each with the callers waiting for it. */
  #nextGroup: Map<string, SyncWaiter[]> | undefined
  #groupRunning = false

  /**
   * Write data to the new file `path` (which must not exist: EEXIST) and close it. On failure the
   * file is gone and the error is the system call's (code, syscall, path). Nothing is synced: a put
   * is not a durability point (the node's sync is).
   */
  write(path: string, data: Uint8Array): Promise<void> {
    folderWriterCounts.written++
    return this.#call({ path, data: compact(data) }) as Promise<void>
  }

  /**
   * Write data to the new file `temp`, then rename it over `path`: a reader finds the old file or the
   * new one, whole. The size of the file it replaced, undefined when there was none. On failure the
   * temp file is gone.
   */
  async replace(temp: string, path: string, data: Uint8Array): Promise<number | undefined> {
    folderWriterCounts.replaced++
    const { previous } = (await this.#call({ temp, path, data: compact(data) })) as { previous: number | null }
    return previous ?? undefined
  }

  /**
   * fsync each of `paths` (files or folders), by path. Syncs asked for while the thread makes one are
   * made together next, each path once (a group commit; the header says what it saves). A path being
   * synced by the group under way waits for the next one: its bytes may have changed since that
   * fsync began. A failure is the system call's error with `index`, the position in `paths` of a path
   * that failed.
   */
  sync(paths: string[]): Promise<void> {
    if (paths.length === 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const waiter: SyncWaiter = { paths, resolve, reject }
      const group = (this.#nextGroup ??= new Map())
      for (const path of new Set(paths)) {
        const waiting = group.get(path)
        if (waiting) waiting.push(waiter)
        else group.set(path, [waiter])
      }
      if (!this.#groupRunning) void this.#syncGroups()
    })
  }

  /** Groups one after another, each once the one before is done, until none is waiting. Never rejects. */
  async #syncGroups(): Promise<void> {
    this.#groupRunning = true
    try {
      for (let group = this.#nextGroup; group; group = this.#nextGroup) {
        this.#nextGroup = undefined
        folderWriterCounts.synced++
        await this.#syncGroup(group)
      }
    } finally {
      this.#groupRunning = false
    }
  }

  /**
   * One group's paths, SYNC_PATHS per message (the thread's heap is small, and a TCP SYNC may name
   * millions of ids); then every caller in it settled, each with its first failure, if any.
   */
  async #syncGroup(group: Map<string, SyncWaiter[]>): Promise<void> {
    const waiters = new Set([...group.values()].flat())
    const failures = new Map<SyncWaiter, Error>()
    try {
      const paths = [...group.keys()]
      for (let from = 0; from < paths.length; from += SYNC_PATHS) {
        const slice = paths.slice(from, from + SYNC_PATHS)
        const result = (await this.#call({ syncPaths: slice })) as { failures: { index: number; error: ErrorReply }[] }
        for (const { index, error } of result.failures) {
          const path = slice[index]!
          for (const waiter of group.get(path)!) {
            if (!failures.has(waiter)) failures.set(waiter, Object.assign(errorOf(error), { index: waiter.paths.indexOf(path) }))
          }
        }
      }
    } catch (err) {
      for (const waiter of waiters) waiter.reject(err as Error)
      return
    }
    for (const waiter of waiters) {
      const failure = failures.get(waiter)
      if (failure) waiter.reject(failure)
      else waiter.resolve()
    }
  }

  /**
   * Count the chunk files in `folder` (names that are chunk ids) and their bytes, and name the files
   * in it whose names hold `tempMarker`. A file that goes between the listing and its stat is left out.
   */
  count(folder: string, tempMarker: string): Promise<FolderCount> {
    return this.#call({ countFolder: folder, tempMarker }) as Promise<FolderCount>
  }

  #call(message: object): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('the folder writer is closed'))
    const slot = this.#slot ?? this.#start()
    const id = this.#nextId++
    return new Promise<unknown>((resolve, reject) => {
      if (slot.jobs.size === 0) slot.worker.ref()
      slot.jobs.set(id, { resolve, reject })
      slot.worker.postMessage({ id, ...message })
    })
  }

  /**
   * Stop the thread; later puts and syncs fail, and so do those still in flight or waiting for their
   * group, at once (the node is closing: whoever needed them done waited for them first). Never
   * waits for the thread: one blocked on a hung disk would never answer (nor exit, so its exit cannot
   * be what fails them), and a node's close must not hang on its disk. A put the thread completes
   * after this stays an unreferenced chunk file: the orphan sweep's to remove.
   */
  close(): void {
    this.#closed = true
    const slot = this.#slot
    this.#slot = undefined
    if (!slot) return
    failAll(slot, new Error('the folder writer is closed'))
    slot.worker.terminate().catch(() => {})
  }

  #start(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: WORKER_LIMITS })
    const slot: Slot = { worker, jobs: new Map() }
    folderWriterCounts.started++
    this.#slot = slot
    worker.unref()
    worker.on('message', ({ id, error, result }: { id: number; error?: ErrorReply; result?: unknown }) => {
      const job = slot.jobs.get(id)
      if (!job) return
      slot.jobs.delete(id)
      if (slot.jobs.size === 0) worker.unref()
      if (!error) job.resolve(result)
      else job.reject(errorOf(error))
    })
    // A thread that dies fails what it held; the next put starts another.
    const fail = (err: Error) => {
      if (this.#slot === slot) this.#slot = undefined
      failAll(slot, err)
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`folder writer thread exited (code ${code})`)))
    return slot
  }
}

/** Fail every put a thread holds, and let the process exit without it. */
function failAll(slot: Slot, err: Error): void {
  for (const job of slot.jobs.values()) job.reject(err)
  slot.jobs.clear()
  slot.worker.unref()
}
