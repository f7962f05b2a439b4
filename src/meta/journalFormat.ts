// The journal on disk. Records live in segment files `journal-<first seq, 16 digits>.log`; each
// record is one line `<seq> <checksum> <json>\n`, the checksum being the first 16 hex digits of the
// SHA-256 of `<seq> <json>`. JSON never contains a raw newline, so a line is a record.

import { readdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { JournalRecord } from './StateMachine.js'
import { sha256Hex } from '../util/sha256.js'

const SEGMENT_NAME = /^journal-(\d{16})\.log$/
const LINE = /^(\d{1,16}) ([0-9a-f]{16}) (.*)$/s

export interface Segment {
  file: string
  firstSeq: number
}

export function segmentFile(dir: string, firstSeq: number): string {
  return join(dir, `journal-${String(firstSeq).padStart(16, '0')}.log`)
}

/** The folder's segments in seq order. */
export async function listSegments(dir: string): Promise<Segment[]> {
  const segments: Segment[] = []
  for (const name of await readdir(dir)) {
    const m = SEGMENT_NAME.exec(name)
    if (m) segments.push({ file: join(dir, name), firstSeq: Number(m[1]) })
  }
  return segments.sort((a, b) => a.firstSeq - b.firstSeq)
}

/**
 * Delete the segments a checkpoint at `lastSeq` covers, oldest first so that a crash part-way
 * leaves the rest contiguous. Only call once the journal has rotated past lastSeq: then every
 * segment starting at or before it ends at or before it.
 */
export async function deleteSegmentsThrough(dir: string, lastSeq: number): Promise<void> {
  for (const segment of await listSegments(dir)) {
    if (segment.firstSeq > lastSeq) break
    await unlink(segment.file)
  }
}

function checksum(seqText: string, json: string): string {
  return sha256Hex(`${seqText} ${json}`).slice(0, 16)
}

export function encodeRecord(seq: number, json: string): string {
  return `${seq} ${checksum(String(seq), json)} ${json}\n`
}

export type DecodedLine =
  | { ok: true; seq: number; record: JournalRecord }
  /** Why the line is not a record; seq when the line still names one. */
  | { ok: false; why: string; seq?: number }

/** Decode one line (without its '\n'). */
export function decodeRecord(text: string): DecodedLine {
  const m = LINE.exec(text)
  if (!m) return { ok: false, why: 'not a journal record line' }
  const [, seqText = '', sum, json = ''] = m
  const seq = Number(seqText)
  if (checksum(seqText, json) !== sum) return { ok: false, why: 'checksum mismatch', seq }
  let record: unknown
  try {
    record = JSON.parse(json)
  } catch {
    return { ok: false, why: 'checksum matches but the JSON does not parse', seq }
  }
  if (typeof record !== 'object' || record === null || typeof (record as { op?: unknown }).op !== 'string') {
    return { ok: false, why: 'the record has no "op"', seq }
  }
  return { ok: true, seq, record: record as JournalRecord }
}
