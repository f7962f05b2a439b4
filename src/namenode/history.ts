// history.json: which history of journal seqs a metadata folder holds, so a client that meets a new
// NameNode can tell whether the seqs it remembers still mean its records (docs/protocol.md,
// "A NameNode change").
//
//   { format: 1, kind: 'dfs-history', id, parent?, forkSeq?, cleanStopSeq? }
//
// A history is a line of journal seqs. A NameNode that stops cleanly has every record it answered
// on disk, and writes `cleanStopSeq`; the next start that replays exactly that far continues the
// same history (same id). Any other start (after a crash or kill -9, a standby promoted, a folder
// from elsewhere) may have lost records the one before had answered: it forks, a new id whose
// `parent` is the id the folder held and `forkSeq` the seq it replayed to. A record of the parent
// history at seq s is in the fork when s <= forkSeq. A folder without the file (made before it
// existed, or a standby that was not sent it) starts a history without parent: clients fall back to
// the welcome's startSeq for it.
//
// The standby: it should hold the primary's history as it follows (adoptHistory, at every attach:
// a primary that restarted may have forked); its promotion is then a fork of the primary's history
// at the standby's seq.

import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { readTextIfExists, replaceFile } from '../util/files.js'

export const HISTORY_FILE = 'history.json'
const HISTORY_FORMAT = 1
const KIND = 'dfs-history'

/** What a welcome tells clients about the history a NameNode serves. */
export interface History {
  id: string
  /** The history this one forked from, at `forkSeq`. */
  parent?: string
  forkSeq?: number
}

interface HistoryFile extends History {
  cleanStopSeq?: number
}

/** The folder's file; undefined when missing or not one of ours (a new history starts then). */
export async function readHistory(dir: string): Promise<HistoryFile | undefined> {
  const text = await readTextIfExists(join(dir, HISTORY_FILE))
  if (text === undefined) return undefined
  try {
    const v = JSON.parse(text) as Partial<HistoryFile & { format: number; kind: string }>
    if (v.format !== HISTORY_FORMAT || v.kind !== KIND || typeof v.id !== 'string') return undefined
    return {
      id: v.id,
      ...(typeof v.parent === 'string' && Number.isSafeInteger(v.forkSeq) ? { parent: v.parent, forkSeq: v.forkSeq } : {}),
      ...(Number.isSafeInteger(v.cleanStopSeq) ? { cleanStopSeq: v.cleanStopSeq } : {}),
    }
  } catch {
    return undefined
  }
}

async function writeHistory(dir: string, history: HistoryFile): Promise<void> {
  await replaceFile(join(dir, HISTORY_FILE), `${JSON.stringify({ format: HISTORY_FORMAT, kind: KIND, ...history }, null, 2)}\n`)
}

/**
 * A NameNode starts serving a folder whose journal it replayed up to `lastSeq`: the history it
 * continues or forks, written durably (without the clean-stop mark) before any client hears of it.
 */
export async function beginHistory(dir: string, lastSeq: number): Promise<History> {
  const held = await readHistory(dir)
  let history: History
  if (held && held.cleanStopSeq === lastSeq) {
    history = { id: held.id, ...(held.parent !== undefined ? { parent: held.parent, forkSeq: held.forkSeq } : {}) }
  } else if (held) {
    history = { id: randomUUID(), parent: held.id, forkSeq: lastSeq }
  } else {
    history = { id: randomUUID() }
  }
  await writeHistory(dir, history)
  return history
}

/**
 * A standby attaching to its primary takes the primary's history (the welcome's `history`), so that
 * its promotion forks that history at the standby's seq. Without it, a promotion starts a history
 * without parent, and clients fall back to the welcome's startSeq.
 */
export async function adoptHistory(dir: string, history: History): Promise<void> {
  await writeHistory(dir, { id: history.id, ...(history.parent !== undefined ? { parent: history.parent, forkSeq: history.forkSeq } : {}) })
}

/** After a clean stop (the journal closed: every record on disk): the next start continues it. */
export async function endHistoryCleanly(dir: string, history: History, lastSeq: number): Promise<void> {
  await writeHistory(dir, { ...history, cleanStopSeq: lastSeq })
}
