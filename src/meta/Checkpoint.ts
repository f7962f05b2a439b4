// The checkpoint: the whole state as of one journal seq, so mount replays only the journal after it.
// It is JSON lines: a header {format, kind, lastSeq, createdAt}, one line per snapshot piece, and a
// trailer {end, count, sha256} where sha256 covers every line before the trailer. A cut-short or
// damaged file fails that check instead of loading as a smaller state.
//
// Writing goes to checkpoint.json.tmp, is fsync'd, renamed over checkpoint.json and the folder is
// fsync'd, so a crash at any point leaves the previous checkpoint or the new one. The pieces are
// serialised in slices with a turn of the event loop between them: the file system keeps answering
// while a checkpoint of millions of inodes is written.

import { createHash } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { dfsError } from '../errors.js'
import { fsyncPath, pathExists } from '../util/files.js'
import { type Line, readLines } from './lineReader.js'

export const CHECKPOINT_FILE = 'checkpoint.json'
const TEMP_FILE = `${CHECKPOINT_FILE}.tmp`
const FORMAT = 1
const KIND = 'dfs-checkpoint'

// A slice ends after this many pieces or bytes, whichever comes first. Either is a few milliseconds
// of JSON.stringify, well under what would make a file system call wait noticeably.
export const SLICE_PIECES = 4096
const SLICE_CHARS = 4 << 20

export interface LoadedCheckpoint {
  /** The last journal record the checkpoint includes. */
  lastSeq: number
  pieces: unknown[]
}

export async function writeCheckpoint(dir: string, lastSeq: number, pieces: Iterable<unknown>): Promise<void> {
  const tmp = join(dir, TEMP_FILE)
  const fh = await open(tmp, 'w')
  try {
    const hash = createHash('sha256')
    const write = async (text: string) => {
      hash.update(text)
      await fh.writeFile(text)
    }
    await write(`${JSON.stringify({ format: FORMAT, kind: KIND, lastSeq, createdAt: new Date().toISOString() })}\n`)
    let count = 0
    let slice: string[] = []
    let sliceChars = 0
    for (const piece of pieces) {
      const json = JSON.stringify(piece)
      if (json === undefined) throw dfsError('EINVAL', `checkpoint piece ${count} is not JSON-serialisable`, { piece })
      slice.push(`${json}\n`)
      sliceChars += json.length + 1
      count++
      if (slice.length >= SLICE_PIECES || sliceChars >= SLICE_CHARS) {
        await write(slice.join(''))
        slice = []
        sliceChars = 0
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    await write(slice.join(''))
    await fh.writeFile(`${JSON.stringify({ end: KIND, count, sha256: hash.digest('hex') })}\n`)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, join(dir, CHECKPOINT_FILE))
  await fsyncPath(dir)
}

/** Remove a temp file a crash left mid-checkpoint (it may be large). */
export async function removeCheckpointLeftovers(dir: string): Promise<void> {
  await rm(join(dir, TEMP_FILE), { force: true })
}

/** The checkpoint in dir, verified whole; undefined when the folder has none yet. */
export async function readCheckpoint(dir: string): Promise<LoadedCheckpoint | undefined> {
  const file = join(dir, CHECKPOINT_FILE)
  if (!(await pathExists(file))) return undefined
  const hash = createHash('sha256')
  const pieces: unknown[] = []
  let lastSeq: number | undefined
  let held: Line | undefined // the latest line: a piece, unless it turns out to be the last (the trailer)
  for await (const line of readLines(file)) {
    if (!line.complete) throw corruptError(file, `line ${line.number} is cut short (the file is truncated)`)
    if (line.number === 1) {
      lastSeq = parseHeader(file, line.text)
      hash.update(`${line.text}\n`)
      continue
    }
    if (held) {
      pieces.push(parseLine(file, held))
      hash.update(`${held.text}\n`)
    }
    held = line
  }
  if (lastSeq === undefined) throw corruptError(file, 'it is empty')
  const trailer = held && (parseLine(file, held) as { end?: unknown; count?: unknown; sha256?: unknown } | null)
  if (trailer?.end !== KIND) throw corruptError(file, 'it ends before its trailer (the file is truncated)')
  if (trailer.count !== pieces.length) {
    throw corruptError(file, `its trailer counts ${String(trailer.count)} pieces but it holds ${pieces.length}`)
  }
  if (trailer.sha256 !== hash.digest('hex')) throw corruptError(file, 'its SHA-256 does not match its contents')
  return { lastSeq, pieces }
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
  return dfsError('CHECKPOINT_CORRUPT', `checkpoint ${file} is corrupt: ${why}; run dfs fsck --meta ${dirname(file)} for details`, { file })
}
