// Reading the journal back at mount: every segment in seq order, every record checked. A crash can
// only tear the record being written last, so a bad last line of the last segment is dropped (and,
// unless read-only, cut off the file); a bad record anywhere else, or a gap in the seqs, means the
// journal was damaged and the mount stops rather than guess.

import { truncate } from 'node:fs/promises'
import { dirname } from 'node:path'
import { dfsError } from '../errors.js'
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

export async function* replayJournal(dir: string, options: ReplayOptions): AsyncGenerator<ReplayedRecord> {
  const segments = await listSegments(dir)
  let prevSeq: number | undefined
  for (const [i, { file, firstSeq }] of segments.entries()) {
    let bad: { number: number; start: number; why: string; seq?: number } | undefined
    let first = true
    for await (const line of readLines(file)) {
      if (bad) throw corruptError(file, bad.number, bad.seq, bad.why)
      const decoded = line.complete ? decodeRecord(line.text) : { ok: false as const, why: 'the line is cut short' }
      if (!decoded.ok) {
        bad = { number: line.number, start: line.start, why: decoded.why, seq: decoded.seq }
        continue
      }
      const { seq, record } = decoded
      const expected = expectedSeq(prevSeq, seq, options.afterSeq)
      if (first && seq !== firstSeq) {
        throw corruptError(file, line.number, seq, `the segment is named for record ${firstSeq} but starts with record ${seq}`)
      }
      if (expected !== undefined && seq !== expected) {
        throw corruptError(file, line.number, seq, `record ${expected} should come next (records are missing or out of order)`)
      }
      first = false
      prevSeq = seq
      if (seq > options.afterSeq) yield { seq, record, file, size: line.text.length + 1 }
    }
    if (bad) {
      if (i < segments.length - 1) throw corruptError(file, bad.number, bad.seq, `${bad.why}, and later segments follow`)
      if (options.repairTornTail) await truncate(file, bad.start)
      options.log(
        `journal ${file}: dropped a torn last record at line ${bad.number} (${bad.why}), left by a crash mid-write` +
          (options.repairTornTail ? `; truncated the file to ${bad.start} bytes` : ' (read-only: the file is left as it is)'),
      )
    }
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

function corruptError(file: string, line: number, seq: number | undefined, why: string) {
  const where = seq === undefined ? `line ${line}` : `record ${seq} (line ${line})`
  return dfsError(
    'JOURNAL_CORRUPT',
    `journal ${file} is corrupt at ${where}: ${why}; run dfs fsck --meta ${dirname(file)} for details`,
    { file, line, seq },
  )
}
