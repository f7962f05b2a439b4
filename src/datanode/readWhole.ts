// Reading a chunk file whole, for a DataNode's get. A large chunk is read with O_DIRECT: the disk
// puts the bytes straight into the reader's buffer, with no page-cache pages in between. Measured on
// the machine dfs is built on, reading 0.7 GiB of 4 MiB chunk files cold, 4 at a time: buffered,
// 0.45 s of system time (the kernel finding fresh page-cache pages for every chunk, then copying
// them out) at 440-730 MB/s; O_DIRECT, 0.08 s at 830-950 MB/s. The reader verifies every chunk's
// SHA-256 either way (chunks/verify.ts), so nothing about integrity changes.
//
// Why skipping the page cache is allowed: a large chunk is read by a client that keeps its own chunk
// cache and hands the bytes to the kernel's cache of the mounted file; a second copy in the node's
// page cache would only push other memory out (HDFS DataNodes can drop read pages behind for the
// same reason: dfs.datanode.drop.cache.behind.reads). A small chunk (a small file) is read buffered:
// it may still be dirty in the page cache (O_DIRECT would force it to disk first) and small reads
// from memory are what read-all needs. A large chunk is synced right after its put (LocalFolderNode
// syncs behind), and an O_DIRECT read of one still dirty sees its bytes (the kernel writes them first).

import { close, constants, fstat, open, read, readv } from 'node:fs'
import { ALIGNED_MIN_BYTES, ALIGNED_UNIT, fillableBuffer, rememberHash } from '../util/sha256.js'
import { readChunkFile } from './chunkReaders.js'

/**
 * Files at least this large are read with O_DIRECT, when their length is a whole number of
 * ALIGNED_UNITs: O_DIRECT wants lengths, offsets and memory aligned to the device's block, and
 * fillableBuffer() memory of such a length is page-aligned (util/sha256.ts). 1 MiB: a chunk of a
 * streamed file, not a small file (LocalFolderNode syncs behind from the same size). A file's last,
 * partial chunk is read buffered.
 */
export const DIRECT_MIN_BYTES = ALIGNED_MIN_BYTES

/** How files were read, for tests that pin the page-cache bypass. */
export const readCounts = {
  /** Read with O_DIRECT. */
  direct: 0,
  /** Read through the page cache (small, unaligned, or O_DIRECT refused). */
  buffered: 0,
  /** File calls awaited on the main thread (each a trip through libuv's pool and back). */
  calls: 0,
}

/** Per folder: whether its file system refused O_DIRECT (tmpfs on older kernels, some FUSE and network file systems). */
export interface DirectState {
  refused: boolean
}

/**
 * The whole file at `path` in one buffer of exactly its size, in fillableBuffer() memory (hashable
 * without a copy, perhaps recycled). Errors are the file system's (ENOENT when it is missing).
 * `expectedLen`: the length the caller's ref records; a file of that length is read with fewer calls
 * (and a large one hashed as it is read), a file of another length the ordinary way.
 */
export async function readWholeFile(path: string, state: DirectState, expectedLen?: number): Promise<Buffer> {
  if (expectedLen !== undefined) {
    const read = expectedLen >= DIRECT_MIN_BYTES ? await readOnReader(path, state, expectedLen) : await readKnownLength(path, expectedLen)
    if (read) return read
  }
  const fd = await call<number>((cb) => open(path, 'r', cb))
  try {
    const { size } = await call<{ size: number }>((cb) => fstat(fd, cb))
    const data = fillableBuffer(size)
    if (!state.refused && size >= DIRECT_MIN_BYTES && size % ALIGNED_UNIT === 0) {
      const direct = await openDirect(path, state)
      if (direct !== undefined) {
        try {
          const whole = await readFully(direct, data, size)
          readCounts.direct++
          return whole
        } catch (err) {
          // EINVAL: memory not aligned (ordinary memory, see fillableBuffer): read it buffered below.
          if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
        } finally {
          close(direct, () => {})
        }
      }
    }
    readCounts.buffered++
    return await readFully(fd, data, size)
  } finally {
    close(fd, () => {})
  }
}

/**
 * A small chunk of the length its ref records: open, then one readv into a buffer of that length
 * and one byte beyond (which says whether the file is longer), then close without waiting: two trips
 * through the thread pool where open, fstat, read and close took four (a small file's read-all is a
 * chain of them). Undefined when the file is longer: read it the ordinary way, and the check says
 * what is wrong. A shorter file comes back short (one more call, to see it end).
 */
async function readKnownLength(path: string, expectedLen: number): Promise<Buffer | undefined> {
  const fd = await call<number>((cb) => open(path, 'r', cb))
  try {
    const data = fillableBuffer(expectedLen)
    const beyond = Buffer.allocUnsafe(1)
    const readFrom = (at: number) => call<number>((cb) => readv(fd, [data.subarray(at), beyond], at, cb))
    let done = await readFrom(0)
    // More only when a read came back short before the end (network and FUSE file systems may): only
    // a read that returns nothing says the file ended.
    for (let n = -1; n !== 0 && done < expectedLen; done += n) n = await readFrom(done)
    if (done > expectedLen) return undefined
    readCounts.buffered++
    return done === expectedLen ? data : data.subarray(0, done)
  } finally {
    close(fd, () => {})
  }
}

/**
 * A chunk of the length its ref records, read and hashed in one job on a reader thread
 * (chunkReaders.ts says why); undefined when the file has another length (a corrupt or replaced
 * copy: read it the ordinary way, and the check says what is wrong) or the memory is not shared.
 */
async function readOnReader(path: string, state: DirectState, expectedLen: number): Promise<Buffer | undefined> {
  const data = fillableBuffer(expectedLen)
  if (!(data.buffer instanceof SharedArrayBuffer)) return undefined
  const got = await readChunkFile(path, data.buffer, !state.refused && expectedLen % ALIGNED_UNIT === 0)
  if (got.refused) state.refused = true
  if (got.size !== expectedLen || got.hex === undefined) return undefined
  if (got.direct) readCounts.direct++
  else readCounts.buffered++
  rememberHash(data, got.hex)
  return data
}

/** A second descriptor of path with O_DIRECT, or undefined when the file system refuses it (remembered). */
async function openDirect(path: string, state: DirectState): Promise<number | undefined> {
  try {
    return await call<number>((cb) => open(path, constants.O_RDONLY | constants.O_DIRECT, cb))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
    state.refused = true
    return undefined
  }
}

/** Read size bytes from the start of fd into data; a file that shrank under us comes back short (the hash check will say so). */
async function readFully(fd: number, data: Buffer, size: number): Promise<Buffer> {
  let done = 0
  while (done < size) {
    const n = await call<number>((cb) => read(fd, data, done, size - done, done, cb))
    if (n === 0) return data.subarray(0, done)
    done += n
  }
  return data
}

/** One callback-style fs call as a promise: fewer promises and objects than node:fs/promises' FileHandle. */
function call<T>(start: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  readCounts.calls++
  return new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))))
}
