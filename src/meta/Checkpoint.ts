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
import { type Line, readLines } from './lineReader.js'

export const CHECKPOINT_FILE = 'checkpoint.json'
/** The checkpoint before the current one, kept with the journal since it: what `dfs fsck --repair` falls back on. */
export const PREVIOUS_CHECKPOINT_FILE = 'checkpoint.prev.json'
const TEMP_FILE = `${CHECKPOINT_FILE}.tmp`
const PREVIOUS_TEMP_FILE = `${PREVIOUS_CHECKPOINT_FILE}.tmp`
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
  return dfsError('CHECKPOINT_CORRUPT', `checkpoint ${file} is corrupt: ${why}; ${repairAdvice(dirname(file))}`, { file, why })
}

/** The advice every metadata-corruption message ends with: the exact commands. */
export function repairAdvice(dir: string): string {
  return `run dfs fsck --meta ${dir} to see what it affects, then dfs fsck --meta ${dir} --repair to recover (it backs up every file it changes)`
}
