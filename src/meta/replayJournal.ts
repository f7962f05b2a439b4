// Reading the journal back: every segment in seq order, every record checked. Which bytes a crash
// may have left half written, and which are damage, is decided in one place (judgeLine, used by
// mount replay and fsck's inspection alike):
//  - a torn tail is only bytes after the last newline of the last segment, a write cut short. If
//    they still form a whole record whose checksum verifies (only the newline is missing), the
//    record is kept and its line completed; otherwise they are dropped, with a copy kept beside
//    the journal and a warning naming file and bytes;
//  - a newline-terminated line that does not verify or parse is damage, also when it is the last
//    one: every such line was written whole, and may have been acknowledged by a sync. A bad
//    record anywhere, or a gap in the seqs, stops the mount rather than guess; `dfs fsck --meta`
//    reads the same scan to say where and what, and `--repair` cuts the journal there
//    (meta/repair.ts). That includes a group-commit batch a power cut left partly on disk.

import { appendFile, open, truncate, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { dfsError } from '../errors.js'
import { type Log, levelled } from '../log/Log.js'
import { fsyncPath } from '../util/files.js'
import { repairAdvice } from './Checkpoint.js'
import { type Line, readLines } from './lineReader.js'
import { decodeRecord, listSegments } from './journalFormat.js'
import type { JournalRecord } from './StateMachine.js'

export interface ReplayedRecord {
  seq: number
  record: JournalRecord
  file: string
  /** Line length in bytes, near enough (UTF-16 units): for deciding when to checkpoint. */
  size: number
}

export interface ReplayOptions {
  /** Records up to this seq are in the checkpoint: read and checked, not yielded. */
  afterSeq: number
  /** Cut a torn tail off the file and complete a line missing only its newline (false for read-only opens, which never write). */
  repairTornTail: boolean
  /** A Log (src/log) is used at its levels (a dropped torn tail is a warning); a plain function gets every level. */
  log: (msg: string) => void
  /** For the name of the copy of a dropped torn tail (tests). */
  now?: () => Date
}

/** Where the journal stops making sense. */
export interface JournalDamage {
  file: string
  /** 1-based line number of the first bad line. */
  line: number
  /** Byte offset of that line: the journal is good up to here. */
  offset: number
  /** The seq the line names, when it still names one. */
  seq?: number
  why: string
  /** Bytes after the last newline of the last segment that are no record: dropped by mount itself. */
  tornTail: boolean
}

export type ScannedItem =
  | {
      kind: 'record'; seq: number; record: JournalRecord; file: string; line: number; offset: number; size: number
      /** The file's last line, whole and verified but without its newline (a write cut just before it). */
      unterminated?: boolean
    }
  | ({ kind: 'damage' } & JournalDamage)

/** What one line of a segment is. The one home of the torn-tail rule (see the top of this file). */
export type JudgedLine =
  | { kind: 'record'; seq: number; record: JournalRecord; unterminated: boolean }
  | { kind: 'torn'; why: string; seq?: number }
  | { kind: 'damage'; why: string; seq?: number }

export function judgeLine(line: Pick<Line, 'text' | 'complete'>, lastSegment: boolean): JudgedLine {
  const decoded = decodeRecord(line.text)
  if (decoded.ok) return { kind: 'record', seq: decoded.seq, record: decoded.record, unterminated: !line.complete }
  const seq = decoded.seq === undefined ? {} : { seq: decoded.seq }
  if (line.complete) return { kind: 'damage', why: decoded.why, ...seq }
  // Only the segment being appended to can end mid-write: an older one was synced before the next began.
  if (lastSegment) return { kind: 'torn', why: `the last line is cut short (${decoded.why})`, ...seq }
  return { kind: 'damage', why: `the last line is cut short (${decoded.why}), and later segments follow`, ...seq }
}

/**
 * The journal's records after the segments a checkpoint at afterSeq wholly covers, in order,
 * checked; the scan ends at the first damage or torn tail, which is its last item.
 */
export async function* scanJournal(dir: string, afterSeq: number): AsyncGenerator<ScannedItem> {
  const segments = await listSegments(dir)
  let prevSeq: number | undefined
  for (const [i, { file, firstSeq }] of segments.entries()) {
    // The journal since the previous checkpoint is kept (see MetaStore); mount skips what the
    // current one covers, so damage there does not stop it.
    const next = segments[i + 1]
    if (next && next.firstSeq <= afterSeq + 1) continue
    const last = i === segments.length - 1
    let first = true
    for await (const line of readLines(file)) {
      const judged = judgeLine(line, last)
      const damage = (why: string, seq?: number, tornTail = false): JournalDamage => ({ file, line: line.number, offset: line.start, why, tornTail, ...(seq === undefined ? {} : { seq }) })
      if (judged.kind !== 'record') {
        yield { kind: 'damage', ...damage(judged.why, judged.seq, judged.kind === 'torn') }
        return
      }
      const { seq, record } = judged
      if (first && seq !== firstSeq) {
        yield { kind: 'damage', ...damage(`the segment is named for record ${firstSeq} but starts with record ${seq}`, seq) }
        return
      }
      const expected = expectedSeq(prevSeq, seq, afterSeq)
      if (expected !== undefined && seq !== expected) {
        yield { kind: 'damage', ...damage(`record ${expected} should come next (records are missing or out of order)`, seq) }
        return
      }
      first = false
      prevSeq = seq
      yield {
        kind: 'record', seq, record, file, line: line.number, offset: line.start, size: line.text.length + 1,
        ...(judged.unterminated ? { unterminated: true } : {}),
      }
    }
  }
}

export async function* replayJournal(dir: string, options: ReplayOptions): AsyncGenerator<ReplayedRecord> {
  const log = levelled(options.log)
  for await (const item of scanJournal(dir, options.afterSeq)) {
    if (item.kind === 'record') {
      if (item.unterminated) await completeLine(item.file, item.seq, options.repairTornTail, log)
      if (item.seq > options.afterSeq) yield { seq: item.seq, record: item.record, file: item.file, size: item.size }
      continue
    }
    if (!item.tornTail) throw journalCorruptError(item)
    await dropTornTail(item, options, log)
  }
}

/** A verified record whose newline never reached the disk: kept, and its line ended so the file reads whole. */
async function completeLine(file: string, seq: number, write: boolean, log: Log): Promise<void> {
  if (write) {
    await appendFile(file, '\n')
    await fsyncPath(file)
  }
  log.warn(
    `journal ${file}: record ${seq}, the last one, is whole and verified but lacks its final newline (a write cut just before it); ` +
      (write ? 'kept it and completed the line' : 'kept it (read-only: the file is left as it is)'),
  )
}

/** Cut the bytes after the last good line off the file, keeping a copy of them beside the journal first. */
async function dropTornTail(torn: JournalDamage, options: ReplayOptions, log: Log): Promise<void> {
  const bytes = await readFrom(torn.file, torn.offset)
  const what = `journal ${torn.file}: dropped a torn tail at line ${torn.line}, byte ${torn.offset}: ${bytes.length} bytes after the last complete record (${torn.why}), left by a crash mid-write`
  if (!options.repairTornTail) {
    log.warn(`${what} (read-only: the file is left as it is)`)
    return
  }
  const dir = dirname(torn.file)
  const time = (options.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-')
  const copy = join(dir, `torn-${time}-${basename(torn.file, '.log')}.bin`)
  await writeFile(copy, bytes, { flag: 'wx' })
  await fsyncPath(copy)
  await fsyncPath(dir)
  await truncate(torn.file, torn.offset)
  await fsyncPath(torn.file)
  log.warn(`${what}; a copy of the dropped bytes is in ${copy}; truncated the file to ${torn.offset} bytes`, { file: torn.file, offset: torn.offset, bytes: bytes.length, copy })
}

async function readFrom(file: string, offset: number): Promise<Buffer> {
  const fh = await open(file, 'r')
  try {
    const { size } = await fh.stat()
    const buf = Buffer.alloc(Math.max(0, size - offset))
    let done = 0
    while (done < buf.length) {
      const { bytesRead } = await fh.read(buf, done, buf.length - done, offset + done)
      if (bytesRead === 0) break
      done += bytesRead
    }
    return buf.subarray(0, done)
  } finally {
    await fh.close()
  }
}

/**
 * The seq the next record must have. Records up to afterSeq are covered by the checkpoint, so the
 * journal may begin anywhere at or before afterSeq + 1; from there on, seqs go up by one.
 */
function expectedSeq(prevSeq: number | undefined, seq: number, afterSeq: number): number | undefined {
  if (seq > afterSeq) return Math.max(prevSeq ?? afterSeq, afterSeq) + 1
  return prevSeq === undefined ? undefined : prevSeq + 1
}

export function describeDamage(d: JournalDamage): string {
  const where = d.seq === undefined ? `line ${d.line}` : `record ${d.seq} (line ${d.line})`
  return `${where}, byte ${d.offset}: ${d.why}`
}

export function journalCorruptError(d: JournalDamage) {
  return dfsError(
    'JOURNAL_CORRUPT',
    `journal ${d.file} is corrupt at ${describeDamage(d)}; ${repairAdvice(dirname(d.file))}`,
    { file: d.file, line: d.line, offset: d.offset, seq: d.seq },
  )
}
