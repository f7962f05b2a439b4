// The checkpoint: the whole state as of one journal seq, so mount replays only the journal after it.
// It is JSON lines: a header {format, kind, lastSeq, createdAt}, one line per snapshot piece, and a
// trailer {end, count, sha256} where sha256 covers every line before the trailer. A cut-short or
// damaged file fails that check instead of loading as a smaller state.
//
// Writing goes to checkpoint.json.tmp, is fsync'd, renamed over checkpoint.json and the folder is
// fsync'd, so a crash at any point leaves the previous checkpoint or the new one. The one replaced
// is kept as checkpoint.prev.json (hard-linked there first, so checkpoint.json never goes missing),
// and the store keeps the journal since it: a checkpoint that rots on disk costs nothing. The pieces are
// serialised in slices with a turn of the event loop between them: the file system keeps answering
// while a checkpoint of millions of inodes is written.

import { createHash } from 'node:crypto'
import { link, open, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { dfsError } from '../errors.js'
import { fsyncPath, pathExists } from '../util/files.js'
import type { Line } from './lineReader.js'

export const CHECKPOINT_FILE = 'checkpoint.json'
/** The checkpoint before the current one, kept with the journal since it: what `dfs fsck --repair` falls back on. */
export const PREVIOUS_CHECKPOINT_FILE = 'checkpoint.prev.json'
const TEMP_FILE = `${CHECKPOINT_FILE}.tmp`
const PREVIOUS_TEMP_FILE = `${PREVIOUS_CHECKPOINT_FILE}.tmp`
const FORMAT = 1
const KIND = 'dfs-checkpoint'

// A slice ends once it has taken SLICE_MS of the thread, or after this many pieces, whichever comes
// first (a full buffer is written out on the way). The time bound is the one that matters: every file
// system call waits while a slice runs, and a garbage collection that lands in the same turn adds its
// pause to the slice's (the bench's scale figures: a checkpoint of a million inodes, lstat after
// lstat meanwhile). The count bound keeps a slice small when the clock says little (a fast machine,
// or a test's clock).
export const SLICE_PIECES = 4096
/**
 * Each piece's JSON is encoded straight into this one buffer, reused slice after slice (its write is
 * awaited before the next slice starts): no string per line, no joined slice, no new buffer per
 * slice. Those were a third of a GiB of garbage per checkpoint of a million files, which the daemon
 * then had to collect while answering FUSE (longer pauses, and a higher peak RSS).
 */
const SLICE_BYTES = 4 << 20
export const SLICE_MS = 4
/** The clock is read once per this many pieces: reading it costs more than stringifying a small one. */
const CLOCK_EVERY = 32

export interface LoadedCheckpoint {
  /** The last journal record the checkpoint includes. */
  lastSeq: number
  pieces: unknown[]
}

export interface CheckpointWriteOptions {
  /** Milliseconds, for the slices' time bound (tests inject one). */
  now?: () => number
}

export async function writeCheckpoint(dir: string, lastSeq: number, pieces: Iterable<unknown>, options: CheckpointWriteOptions = {}): Promise<void> {
  const now = options.now ?? (() => performance.now())
  const tmp = join(dir, TEMP_FILE)
  const fh = await open(tmp, 'w')
  try {
    const hash = createHash('sha256')
    const buffer = Buffer.allocUnsafe(SLICE_BYTES)
    let used = 0
    // Encoded once, for the hash and the file alike.
    const writeOut = async (bytes: Buffer) => {
      hash.update(bytes)
      await fh.writeFile(bytes)
    }
    const flush = () => {
      const bytes = buffer.subarray(0, used)
      used = 0
      return writeOut(bytes)
    }
    /**
     * One line into the buffer, flushed first if the line might not fit (UTF-8 takes at most 3 bytes
     * per UTF-16 unit); a line larger than the buffer (a file of very many chunks) goes on its own.
     * Synchronous unless it must write: a million pieces pay no await each.
     */
    const line = (text: string): Promise<void> | undefined => {
      if (used + text.length * 3 + 1 > buffer.length) return lineAfterFlush(text)
      used += buffer.write(text, used)
      buffer[used++] = 0x0a
      return undefined
    }
    const lineAfterFlush = async (text: string) => {
      await flush()
      if (text.length * 3 + 1 <= buffer.length) return void line(text)
      await writeOut(Buffer.from(`${text}\n`))
    }
    await line(JSON.stringify({ format: FORMAT, kind: KIND, lastSeq, createdAt: new Date().toISOString() }))
    let count = 0
    let inSlice = 0
    let sliceStart = now()
    for (const piece of pieces) {
      const json = JSON.stringify(piece)
      if (json === undefined) throw dfsError('EINVAL', `checkpoint piece ${count} is not JSON-serialisable`, { piece })
      const wrote = line(json)
      if (wrote) await wrote
      count++
      inSlice++
      const full = inSlice >= SLICE_PIECES || (inSlice % CLOCK_EVERY === 0 && now() - sliceStart >= SLICE_MS)
      if (full) {
        await flush()
        inSlice = 0
        await new Promise((resolve) => setImmediate(resolve))
        sliceStart = now()
      }
    }
    await flush()
    await fh.writeFile(`${JSON.stringify({ end: KIND, count, sha256: hash.digest('hex') })}\n`)
    await fh.sync()
  } finally {
    await fh.close()
  }
  const current = join(dir, CHECKPOINT_FILE)
  if (await pathExists(current)) {
    const previousTmp = join(dir, PREVIOUS_TEMP_FILE)
    await rm(previousTmp, { force: true })
    await link(current, previousTmp)
    await rename(previousTmp, join(dir, PREVIOUS_CHECKPOINT_FILE))
  }
  await rename(tmp, current)
  await fsyncPath(dir)
}

/** Remove a temp file a crash left mid-checkpoint (it may be large). */
export async function removeCheckpointLeftovers(dir: string): Promise<void> {
  await rm(join(dir, TEMP_FILE), { force: true })
  await rm(join(dir, PREVIOUS_TEMP_FILE), { force: true })
}

/** The checkpoint in dir, verified whole; undefined when the folder has none yet. */
export function readCheckpoint(dir: string): Promise<LoadedCheckpoint | undefined> {
  return readCheckpointFile(join(dir, CHECKPOINT_FILE))
}

/** One checkpoint file (checkpoint.json or checkpoint.prev.json), verified whole; undefined when it does not exist. */
export async function readCheckpointFile(file: string): Promise<LoadedCheckpoint | undefined> {
  const pieces: unknown[] = []
  const read = await streamCheckpointFile(file, piece => void pieces.push(piece))
  return read && { lastSeq: read.lastSeq, pieces }
}

// Read in large blocks: the hash takes whole blocks and each block is decoded once, so a checkpoint
// of millions of lines costs a JSON.parse per line and little else.
const READ_BLOCK = 4 << 20

/**
 * One checkpoint file, its pieces handed to onPiece in order as they are read (a mount restores a
 * million inodes without first holding them all as pieces); undefined when it does not exist. The
 * whole file is verified before this resolves: should onPiece throw, reading goes on to the end,
 * and a file that fails its checks reports that (the cause) rather than what onPiece said.
 */
export async function streamCheckpointFile(
  file: string,
  onPiece: (piece: unknown) => void,
): Promise<{ lastSeq: number; count: number } | undefined> {
  if (!(await pathExists(file))) return undefined
  const hash = createHash('sha256')
  let lastSeq: number | undefined
  let count = 0
  let number = 0 // lines read so far
  let refused: unknown // the first error onPiece threw
  // Whole lines, none of them the file's last (which may be the trailer): hashed, parsed, handed on.
  const take = (bytes: Buffer) => {
    hash.update(bytes)
    // Decoded once and cut into lines as a string (a slice of a string is not a copy): a string
    // decoded per line made a mount of a million files 0.3-0.8 s slower and cost it 1.2 s more CPU,
    // in decoding and in collecting the garbage.
    const text = bytes.toString('utf8')
    let from = 0
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
      const line = text.slice(from, nl)
      from = nl + 1
      if (++number === 1) {
        lastSeq = parseHeader(file, line)
        continue
      }
      count++
      const piece = parseLine(file, { text: line, number })
      if (refused !== undefined) continue
      try {
        onPiece(piece)
      } catch (err) {
        refused = err
      }
    }
  }
  let rest = Buffer.alloc(0) // from the start of the last whole line read so far: not taken yet
  const fh = await open(file, 'r')
  try {
    for (;;) {
      const block = Buffer.allocUnsafe(READ_BLOCK)
      const { bytesRead } = await fh.read(block, 0, READ_BLOCK, null)
      if (bytesRead === 0) break
      const data = rest.length === 0 ? block.subarray(0, bytesRead) : Buffer.concat([rest, block.subarray(0, bytesRead)])
      const lastNl = data.lastIndexOf(0x0a)
      // Keep back the last whole line (and what follows it): it may be the trailer.
      const keepFrom = lastNl <= 0 ? 0 : data.lastIndexOf(0x0a, lastNl - 1) + 1
      if (keepFrom > 0) take(data.subarray(0, keepFrom))
      rest = data.subarray(keepFrom)
    }
  } finally {
    await fh.close()
  }
  if (rest.length > 0 && rest[rest.length - 1] !== 0x0a) {
    const lines = rest.subarray(0, rest.lastIndexOf(0x0a) + 1)
    throw corruptError(file, `line ${number + countLines(lines) + 1} is cut short (the file is truncated)`)
  }
  // rest is whole lines now: all but the last are lines like any other, the last should be the trailer.
  const lastStart = rest.length <= 1 ? 0 : rest.lastIndexOf(0x0a, rest.length - 2) + 1
  if (lastStart > 0) take(rest.subarray(0, lastStart))
  const last = rest.subarray(lastStart, Math.max(lastStart, rest.length - 1)).toString('utf8')
  if (rest.length > 0 && number === 0) {
    lastSeq = parseHeader(file, last) // a header and nothing else
    number++
    throw corruptError(file, 'it ends before its trailer (the file is truncated)')
  }
  if (lastSeq === undefined) throw corruptError(file, 'it is empty')
  number++
  const trailer = parseLine(file, { text: last, number }) as { end?: unknown; count?: unknown; sha256?: unknown } | null
  if (trailer?.end !== KIND) throw corruptError(file, 'it ends before its trailer (the file is truncated)')
  if (trailer.count !== count) {
    throw corruptError(file, `its trailer counts ${String(trailer.count)} pieces but it holds ${count}`)
  }
  if (trailer.sha256 !== hash.digest('hex')) throw corruptError(file, 'its SHA-256 does not match its contents')
  if (refused !== undefined) throw refused
  return { lastSeq, count }
}

function countLines(bytes: Buffer): number {
  let n = 0
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) n++
  return n
}

function parseLine(file: string, line: Pick<Line, 'text' | 'number'>): unknown {
  try {
    return JSON.parse(line.text)
  } catch {
    throw corruptError(file, `line ${line.number} is not valid JSON`)
  }
}

function parseHeader(file: string, text: string): number {
  const header = parseLine(file, { text, number: 1 }) as { format?: unknown; kind?: unknown; lastSeq?: unknown } | null
  if (header?.kind !== KIND) throw corruptError(file, 'it does not start with a checkpoint header')
  if (typeof header.format === 'number' && header.format > FORMAT) {
    throw dfsError('META_TOO_NEW', `checkpoint ${file} has format ${header.format}; this dfs understands up to ${FORMAT}: upgrade dfs`, {
      file,
      format: header.format,
    })
  }
  if (header.format !== FORMAT || !Number.isSafeInteger(header.lastSeq) || (header.lastSeq as number) < 0) {
    throw corruptError(file, 'its header is malformed')
  }
  return header.lastSeq as number
}

function corruptError(file: string, why: string) {
  return dfsError('CHECKPOINT_CORRUPT', `checkpoint ${file} is corrupt: ${why}; ${repairAdvice(dirname(file))}`, { file, why })
}

/** The advice every metadata-corruption message ends with: the exact commands. */
export function repairAdvice(dir: string): string {
  return `run dfs fsck --meta ${dir} to see what it affects, then dfs fsck --meta ${dir} --repair to recover (it backs up every file it changes)`
}
