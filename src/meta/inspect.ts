// Looking at a metadata folder the mount refuses: which file is damaged, where, how much of the
// journal follows the damage and what those records did. It loads the state the way a mount does
// (checkpoint, then journal) but never throws at the first problem: it stops there, remembers it,
// and decodes what follows as far as it can. Nothing is written (meta/repair.ts does that).
//
// The checkpoint it starts from is checkpoint.json, or if that is damaged the previous one
// (checkpoint.prev.json, kept with the journal since it), or an empty state when the journal still
// reaches back to record 1. Otherwise the folder cannot be rebuilt from itself.

import { join } from 'node:path'
import { isDfsError } from '../errors.js'
import { pathExists } from '../util/files.js'
import { CHECKPOINT_FILE, type LoadedCheckpoint, PREVIOUS_CHECKPOINT_FILE, readCheckpointFile } from './Checkpoint.js'
import { decodeRecord, listSegments } from './journalFormat.js'
import { readLines } from './lineReader.js'
import { type JournalDamage, scanJournal } from './replayJournal.js'
import type { JournalRecord, StateMachine } from './StateMachine.js'

/** Says what a record does in the user's words (paths, not inode numbers). */
export interface RecordDescriber<S, R> {
  /** Called before record is applied to state. */
  describe(state: S, record: R): { what: string; paths: string[] }
  /** Called after record was applied, so the describer can follow names it created or moved. */
  applied?(state: S, record: R): void
}

/** A record at or after the damage: lost if the journal is cut there. */
export interface LostRecord {
  file: string
  line: number
  seq?: number
  op?: string
  what: string
  paths: string[]
  /** The record fails its checksum (decoded as far as it goes), or does not decode at all. */
  damaged: boolean
}

export interface MetaInspection<S> {
  dir: string
  /** The checkpoint the state starts from; undefined: the empty state. */
  base?: { file: string; lastSeq: number }
  checkpointDamage?: { file: string; why: string }
  /** checkpoint.json is intact but the previous one, its fallback, is damaged: no fallback is left. */
  fallbackDamage?: { file: string; why: string }
  /** The first bad journal record a mount refuses (not a torn tail). */
  journalDamage?: JournalDamage
  /** Bytes after the last newline of the journal that are no whole record (a write cut short), which a mount drops by itself. */
  tornTail?: JournalDamage
  /** The last record the state includes. */
  lastGoodSeq: number
  /** Journal records applied after the base checkpoint. */
  replayed: number
  /** The damaged record and every one after it, in order. */
  lost: LostRecord[]
  /** Why the folder cannot be rebuilt from itself at all. */
  unrecoverable?: string
  /** The state as of lastGoodSeq. */
  state: S
}

export function needsRepair(i: MetaInspection<unknown>): boolean {
  return Boolean(i.checkpointDamage || i.journalDamage)
}

export async function inspectMeta<S, R extends JournalRecord>(
  dir: string,
  machine: StateMachine<S, R, unknown>,
  describer: RecordDescriber<S, R>,
): Promise<MetaInspection<S>> {
  const start = await startingPoint(dir, machine)
  const inspection: MetaInspection<S> = {
    dir,
    ...(start.base ? { base: start.base } : {}),
    ...(start.damage ? { checkpointDamage: start.damage } : {}),
    ...(start.fallbackDamage ? { fallbackDamage: start.fallbackDamage } : {}),
    ...(start.unrecoverable ? { unrecoverable: start.unrecoverable } : {}),
    lastGoodSeq: start.base?.lastSeq ?? 0,
    replayed: 0,
    lost: [],
    state: start.state,
  }
  if (start.unrecoverable) return inspection
  const { state } = inspection
  const afterSeq = inspection.lastGoodSeq

  let damage: JournalDamage | undefined
  for await (const item of scanJournal(dir, afterSeq)) {
    if (item.kind === 'damage') {
      const { kind: _, ...found } = item
      damage = found
      break
    }
    if (item.seq <= afterSeq) continue
    try {
      machine.apply(state, item.record as R)
    } catch (err) {
      damage = { file: item.file, line: item.line, offset: item.offset, seq: item.seq, why: `it does not apply to the state (${(err as Error).message})`, tornTail: false }
      break
    }
    describer.applied?.(state, item.record as R)
    inspection.lastGoodSeq = item.seq
    inspection.replayed++
  }
  if (!damage) return inspection
  if (damage.tornTail) inspection.tornTail = damage
  else inspection.journalDamage = damage
  inspection.lost = await recordsFrom(dir, damage, state, machine, describer)
  return inspection
}

interface StartingPoint<S> {
  base?: { file: string; lastSeq: number }
  damage?: { file: string; why: string }
  fallbackDamage?: { file: string; why: string }
  unrecoverable?: string
  state: S
}

async function startingPoint<S, R extends JournalRecord>(dir: string, machine: StateMachine<S, R, unknown>): Promise<StartingPoint<S>> {
  const currentFile = join(dir, CHECKPOINT_FILE)
  const previousFile = join(dir, PREVIOUS_CHECKPOINT_FILE)
  const current = await loadCheckpoint(currentFile, machine)
  if (current.ok && current.checkpoint) {
    const base = { file: currentFile, lastSeq: current.checkpoint.lastSeq }
    if (!(await pathExists(previousFile))) return { base, state: current.state }
    const previous = await loadCheckpoint(previousFile, machine)
    return { base, ...(previous.ok ? {} : { fallbackDamage: { file: previousFile, why: previous.why } }), state: current.state }
  }

  if (current.ok && !(await pathExists(previousFile))) return { state: machine.empty() } // no checkpoint yet
  const previous = await loadCheckpoint(previousFile, machine)
  // checkpoint.json is damaged, or missing although an older one exists (it never is, by itself).
  const damage = { file: currentFile, why: current.ok ? 'it is missing, though checkpoint.prev.json exists' : current.why }
  if (previous.ok && previous.checkpoint) {
    return { base: { file: previousFile, lastSeq: previous.checkpoint.lastSeq }, damage, state: previous.state }
  }
  const segments = await listSegments(dir)
  if (segments[0]?.firstSeq === 1) return { damage, state: machine.empty() } // the journal still holds everything
  const older = previous.ok ? 'no older checkpoint is kept (folders written before dfs kept one)' : `the older checkpoint is damaged too (${previous.why})`
  return {
    damage,
    unrecoverable: `${older}, and the journal no longer reaches back to the first record, so the namespace cannot be rebuilt from this folder; restore the metadata folder from a backup`,
    state: machine.empty(),
  }
}

type Loaded<S> = { ok: true; checkpoint?: LoadedCheckpoint; state: S } | { ok: false; why: string }

async function loadCheckpoint<S, R extends JournalRecord>(file: string, machine: StateMachine<S, R, unknown>): Promise<Loaded<S>> {
  try {
    const checkpoint = await readCheckpointFile(file)
    if (!checkpoint) return { ok: true, state: machine.empty() }
    try {
      return { ok: true, checkpoint, state: machine.restore(checkpoint.pieces) }
    } catch (err) {
      return { ok: false, why: `it does not restore (${(err as Error).message})` }
    }
  } catch (err) {
    if (!isDfsError(err, 'CHECKPOINT_CORRUPT')) throw err
    return { ok: false, why: (err.context.why as string | undefined) ?? err.message }
  }
}

/** The damaged line and everything after it in the journal, decoded as far as it goes. */
async function recordsFrom<S, R extends JournalRecord>(
  dir: string,
  damage: JournalDamage,
  state: S,
  machine: StateMachine<S, R, unknown>,
  describer: RecordDescriber<S, R>,
): Promise<LostRecord[]> {
  const lost: LostRecord[] = []
  const segments = (await listSegments(dir)).filter((s) => s.file >= damage.file) // names sort by first seq
  for (const { file } of segments) {
    for await (const line of readLines(file)) {
      if (file === damage.file && line.number < damage.line) continue
      const decoded = decodeBestEffort(line.text)
      if (!decoded.record) {
        lost.push({ file, line: line.number, ...(decoded.seq === undefined ? {} : { seq: decoded.seq }), what: `an unreadable line (${line.text.length} bytes)`, paths: [], damaged: true })
        continue
      }
      const record = decoded.record as R
      let described: { what: string; paths: string[] }
      try {
        described = describer.describe(state, record)
      } catch {
        described = { what: `${record.op} (fields it should have are missing)`, paths: [] }
      }
      lost.push({ file, line: line.number, ...(decoded.seq === undefined ? {} : { seq: decoded.seq }), op: record.op, ...described, damaged: decoded.damaged })
      // Best effort: follow the lost records through the state so later ones name the right paths.
      try {
        machine.apply(state, record)
        describer.applied?.(state, record)
      } catch {
        // it depended on something lost before it
      }
    }
  }
  return lost
}

/** A record's seq and content even when its checksum fails (a flipped byte often leaves the JSON readable). */
function decodeBestEffort(text: string): { seq?: number; record?: JournalRecord; damaged: boolean } {
  const decoded = decodeRecord(text)
  if (decoded.ok) return { seq: decoded.seq, record: decoded.record, damaged: false }
  const m = /^(\d{1,16}) /.exec(text)
  const seq = m ? Number(m[1]) : undefined
  const json = text.indexOf('{')
  if (json === -1) return { ...(seq === undefined ? {} : { seq }), damaged: true }
  try {
    const record = JSON.parse(text.slice(json)) as JournalRecord
    if (typeof record === 'object' && record !== null && typeof record.op === 'string') return { ...(seq === undefined ? {} : { seq }), record, damaged: true }
  } catch {
    // not JSON any more
  }
  return { ...(seq === undefined ? {} : { seq }), damaged: true }
}
