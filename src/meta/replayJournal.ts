// Reading the journal back: every segment in seq order, every record checked. A crash can only
// tear the record being written last, so a bad last line of the last segment is dropped (and,
// unless read-only, cut off the file); a bad record anywhere else, or a gap in the seqs, means the
// journal was damaged and the mount stops rather than guess. `dfs fsck --meta` reads the same scan
// to say where and what, and `--repair` cuts the journal there (meta/repair.ts).

import { truncate } from 'node:fs/promises'
import { dirname } from 'node:path'
import { dfsError } from '../errors.js'
import { repairAdvice } from './Checkpoint.js'
import { readLines } from './lineReader.js'
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
  /** Cut a torn tail off the file (false for read-only opens, which never write). */
  repairTornTail: boolean
  log: (msg: string) => void
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
  /** The last line of the last segment: what a crash mid-write leaves, dropped by itself at mount. */
  tornTail: boolean
}

export type ScannedItem =
  | { kind: 'record'; seq: number; record: JournalRecord; file: string; line: number; offset: number; size: number }
  | ({ kind: 'damage' } & JournalDamage)

/**
 * The journal's records after the segments a checkpoint at afterSeq wholly covers, in order,
 * checked; the scan ends at the first damage, which is its last item.
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
    let bad: JournalDamage | undefined
    let first = true
    for await (const line of readLines(file)) {
      if (bad) {
        yield { kind: 'damage', ...bad }
        return
      }
      const decoded = line.complete ? decodeRecord(line.text) : { ok: false as const, why: 'the line is cut short' }
      const damage = (why: string, seq?: number): JournalDamage => ({ file, line: line.number, offset: line.start, why, tornTail: false, ...(seq === undefined ? {} : { seq }) })
      if (!decoded.ok) {
        bad = damage(decoded.why, decoded.seq)
        continue
      }
      const { seq, record } = decoded
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
      yield { kind: 'record', seq, record, file, line: line.number, offset: line.start, size: line.text.length + 1 }
    }
    if (bad) {
      yield { kind: 'damage', ...bad, tornTail: last, why: last ? bad.why : `${bad.why}, and later segments follow` }
      return
    }
  }
}

export async function* replayJournal(dir: string, options: ReplayOptions): AsyncGenerator<ReplayedRecord> {
  for await (const item of scanJournal(dir, options.afterSeq)) {
    if (item.kind === 'record') {
      if (item.seq > options.afterSeq) yield { seq: item.seq, record: item.record, file: item.file, size: item.size }
      continue
    }
    if (!item.tornTail) throw journalCorruptError(item)
    if (options.repairTornTail) await truncate(item.file, item.offset)
    options.log(
      `journal ${item.file}: dropped a torn last record at line ${item.line} (${item.why}), left by a crash mid-write` +
        (options.repairTornTail ? `; truncated the file to ${item.offset} bytes` : ' (read-only: the file is left as it is)'),
    )
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
