// Large chunk files are read by worker threads that also hash what they read: one job per chunk
// (open, size, read, SHA-256, close) instead of a chain of thread-pool calls, each of which had to
// come back to the main thread to start the next (open, fstat, open O_DIRECT, read), and then a
// message to a hashing worker. Every hop waits for a CPU, on a busy machine for milliseconds: the
// chain was most of a chunk's fetch time, which a sequential reader waits out whenever readahead
// has not covered it. The hash travels back with the bytes (util/sha256.ts rememberHash), so the
// reader's verification checks exactly the bytes read, without hashing them a second time.
//
// A worker blocks on its disk while reading: that is why this is a pool of workers and not the main
// thread (which must never wait on a node's disk), and why jobs wait in one queue for the next idle
// worker rather than behind a particular one: a hung disk holds its own jobs, not everyone's.

import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

// CommonJS run by `eval`, so the same code serves dist/ and the TypeScript sources the tests load.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { closeSync, constants, fstatSync, openSync, readSync } = require('node:fs')
const { createHash } = require('node:crypto')
// As util/hashPool.ts: each message leaves this thread a handle on the caller's memory until its
// next collection, and a thread that allocates almost nothing would hardly ever collect.
require('node:v8').setFlagsFromString('--expose-gc')
const collect = require('node:vm').runInNewContext('gc')
const COLLECT_BYTES = ${64 * 1024 * 1024}
let since = 0
function readAll(fd, data) {
  let done = 0
  while (done < data.length) {
    const n = readSync(fd, data, done, data.length - done, done)
    if (n === 0) break
    done += n
  }
  return done
}
parentPort.on('message', ({ id, path, memory, direct }) => {
  let reply
  try {
    const data = new Uint8Array(memory)
    let fd
    let refused = false
    if (direct) {
      try {
        fd = openSync(path, constants.O_RDONLY | constants.O_DIRECT)
      } catch (err) {
        // EINVAL: this file system takes no O_DIRECT at all (the caller remembers it).
        if (err.code !== 'EINVAL') throw err
        refused = true
      }
    }
    if (fd === undefined) fd = openSync(path, constants.O_RDONLY)
    try {
      const size = fstatSync(fd).size
      if (size !== data.length) {
        reply = { id, size }
      } else {
        let read
        let readDirect = direct && !refused
        try {
          read = readAll(fd, data)
        } catch (err) {
          // EINVAL: this file system or memory does not take O_DIRECT after all: read through the cache.
          if (!readDirect || err.code !== 'EINVAL') throw err
          closeSync(fd)
          fd = openSync(path, constants.O_RDONLY)
          readDirect = false
          read = readAll(fd, data)
        }
        reply = { id, size: read, direct: readDirect, refused, hex: read === size ? createHash('sha256').update(data).digest('hex') : undefined }
      }
    } finally {
      closeSync(fd)
    }
  } catch (err) {
    reply = { id, error: { code: err && err.code, message: String((err && err.message) || err) } }
  }
  parentPort.postMessage(reply)
  // Every job pins the memory it was handed, read into or not (a missing file, a failed read: a
  // node that lost its files fails every read sent to it, each time with memory that may be resident).
  since += (memory && memory.byteLength) || 0
  memory = undefined
  if (since >= COLLECT_BYTES) {
    since = 0
    collect()
  }
})
`

/**
 * Chunk files read at once: one reader per core (at least two, so one reads while the other hashes),
 * at most four. Measured on 2 cores, 512 MiB cold, four paired runs: two readers used 10 % less CPU
 * than four (each thread costs ~30 ms to start, and more of them only contend) at the same speed.
 */
const POOL_SIZE = Math.max(2, Math.min(4, availableParallelism()))
/**
 * A reader blocked on a hung disk (a failing drive, a stale network mount) never comes back. When
 * every reader has been busy this long with jobs waiting, one more is started, up to MAX_READERS: a
 * hung node must not stop reads from the healthy ones (liveness then takes it out of the read path).
 */
export const STALL_MS = 2000
const MAX_READERS = 16

export interface ChunkFileRead {
  /** The file's size. When it is not the memory's length, nothing was read (size and hex absent). */
  size: number
  /** Read with O_DIRECT (not through the page cache). */
  direct?: boolean
  /** The file system refused to open the file with O_DIRECT. */
  refused?: boolean
  /** SHA-256 of the memory's bytes, when the whole file was read into it. */
  hex?: string
}

interface Job {
  path: string
  memory: SharedArrayBuffer
  direct: boolean
  resolve(result: ChunkFileRead): void
  reject(err: Error): void
}

interface Reader {
  worker: Worker
  job: Job | undefined
  /** performance.now() when its job was handed to it. */
  since: number
}

const readers: Reader[] = []
const queue: Job[] = []
let nextId = 0
let stallTimer: NodeJS.Timeout | undefined

/** Readers running, for tests: hung ones included. */
export function readerCount(): number {
  return readers.length
}

/**
 * Read the file at path into memory (shared, its length the size the file should have) and hash it,
 * on a reader thread. `direct`: open it with O_DIRECT (memory must then be page-aligned; a refusal
 * falls back to reading through the page cache). Rejects with the file system's error (its `code`,
 * e.g. ENOENT).
 */
export function readChunkFile(path: string, memory: SharedArrayBuffer, direct: boolean): Promise<ChunkFileRead> {
  return new Promise<ChunkFileRead>((resolve, reject) => {
    queue.push({ path, memory, direct, resolve, reject })
    dispatch()
  })
}

function dispatch(): void {
  while (queue.length > 0) {
    const reader = readers.find((r) => r.job === undefined) ?? (readers.length < POOL_SIZE ? start() : undefined)
    if (!reader) {
      watchForStall()
      return
    }
    const job = queue.shift()!
    reader.job = job
    reader.since = performance.now()
    reader.worker.ref()
    reader.worker.postMessage({ id: nextId++, path: job.path, memory: job.memory, direct: job.direct })
  }
}

/** Jobs wait and every reader is busy: if none of them has finished within STALL_MS, add a reader. */
function watchForStall(): void {
  if (stallTimer || readers.length >= MAX_READERS) return
  stallTimer = setTimeout(() => {
    stallTimer = undefined
    if (queue.length === 0) return
    const now = performance.now()
    if (readers.every((r) => r.job !== undefined && now - r.since >= STALL_MS)) start()
    dispatch()
  }, STALL_MS)
  stallTimer.unref()
}

function start(): Reader {
  const worker = new Worker(WORKER_SOURCE, { eval: true })
  const reader: Reader = { worker, job: undefined, since: 0 }
  worker.unref()
  worker.on('message', (reply: { size?: number; direct?: boolean; refused?: boolean; hex?: string; error?: { code?: string; message: string } }) => {
    const job = reader.job
    reader.job = undefined
    worker.unref()
    // A reader added for a stall goes once there is nothing waiting and the pool has its size in
    // readers idle without it. Not by the count of readers alone: hung ones count there, and retiring
    // the last healthy one would make every later read, once the queue drained, wait out STALL_MS.
    if (queue.length === 0 && readers.length > POOL_SIZE && readers.filter((r) => r !== reader && r.job === undefined).length >= POOL_SIZE) retire(reader)
    if (job) {
      if (reply.error) job.reject(Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {}))
      else job.resolve({ size: reply.size ?? 0, direct: reply.direct, refused: reply.refused, hex: reply.hex })
    }
    dispatch()
  })
  // A reader that dies fails its job; the next job starts another. (An extra reader retired while
  // idle exits without a job: nothing to fail.)
  const fail = (err: Error) => {
    const at = readers.indexOf(reader)
    if (at >= 0) readers.splice(at, 1)
    reader.job?.reject(err)
    reader.job = undefined
    dispatch()
  }
  worker.on('error', fail)
  worker.on('exit', (code) => fail(new Error(`chunk reader exited (code ${code})`)))
  readers.push(reader)
  return reader
}

function retire(reader: Reader): void {
  const at = readers.indexOf(reader)
  if (at >= 0) readers.splice(at, 1)
  void reader.worker.terminate()
}
