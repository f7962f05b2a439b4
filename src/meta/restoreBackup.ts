// `dfs fsck --meta <dir> --repair` falling back on a NameNode backup (namenode/backups.ts): when the
// folder cannot be rebuilt from itself (no checkpoint restores and the journal does not reach back
// to record 1), or when the newest good backup is newer than what survives the damage (a journal cut
// would keep less). The backup's namespace is the new base; the journal records after it that are
// still intact and follow on are replayed on top, so as little as possible is lost.
//
// As repair.ts does, every file it replaces is moved to backup-<time>/ in the folder first, the
// folder's claim is marked afterRepair (its journal may now end below the nodes' watermark) and an
// orphan hold keeps the chunks only the lost records referenced.

import { createReadStream } from 'node:fs'
import { mkdir, rename } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { isDfsError } from '../errors.js'
import { fsyncPath, pathExists } from '../util/files.js'
import { listBackups, readBackupsRecord } from './backupsRecord.js'
import { CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE, removeCheckpointLeftovers, writeCheckpoint } from './Checkpoint.js'
import { type LoadedDump, linesOf, readDump } from './dump.js'
import { EPOCH_FILE, markRepaired, readMetaEpoch, writeMetaEpoch } from './epochClaim.js'
import { listSegments } from './journalFormat.js'
import { acquireLock } from './lock.js'
import { MetaStore } from './MetaStore.js'
import { namespaceMachine } from './namespace/machine.js'
import type { NamespaceRecord } from './namespace/records.js'
import { writeOrphanHold } from './orphanHold.js'
import { readLines } from './lineReader.js'
import { judgeLine } from './replayJournal.js'

export interface GoodBackup {
  file: string
  dump: LoadedDump
}

export interface BackupSearch {
  /** Where backups.json says the backups go; undefined when the folder records none. */
  dir?: string
  /** The newest that reads as a whole dump of this cluster. */
  good?: GoodBackup
  /** Newer ones that did not, and why. */
  skipped: { file: string; why: string }[]
}

/** The newest backup recorded for the folder that reads whole and is of its cluster. */
export async function findGoodBackup(metaDir: string, clusterId: string): Promise<BackupSearch> {
  const record = await readBackupsRecord(metaDir)
  if (!record) return { skipped: [] }
  const skipped: BackupSearch['skipped'] = []
  for (const file of await listBackups(record.dir)) {
    try {
      const dump = await readDump(linesOf(createReadStream(file)), file)
      if (dump.header.clusterId !== clusterId) {
        skipped.push({ file, why: `it is of cluster ${dump.header.clusterId}, not ${clusterId}` })
        continue
      }
      return { dir: record.dir, good: { file, dump }, skipped }
    } catch (err) {
      if (!isDfsError(err)) throw err
      skipped.push({ file, why: err.message })
    }
  }
  return { dir: record.dir, skipped }
}

export interface BackupRestore {
  backupDir: string
  actions: string[]
  /** The last record the restored folder holds (the backup's, plus what was replayed after it). */
  restoredSeq: number
  /** Journal records replayed on top of the backup. */
  replayed: number
  /** What the journal held after restoredSeq and could not be replayed, said in words; empty when nothing. */
  notReplayed: string[]
}

export async function restoreFromBackup(dir: string, backup: GoodBackup, options: { log?: (msg: string) => void; now?: Date } = {}): Promise<BackupRestore> {
  const lock = await acquireLock(dir, options.log)
  const now = options.now ?? new Date()
  const backupDir = join(dir, `backup-${now.toISOString().replace(/[:.]/g, '-')}`)
  const actions: string[] = []
  const { header, state } = backup.dump
  const machine = namespaceMachine({ uid: 0, gid: 0, createdAt: 0 })
  let restoredSeq = header.lastSeq
  let replayed = 0
  const notReplayed: string[] = []
  try {
    actions.push(`took the namespace of backup ${backup.file} (record ${header.lastSeq}) as the base`)
    // The intact journal records that follow on from the backup still apply. Damage at or before
    // the backup's record does not matter: the backup holds what those records did.
    const segments = await listSegments(dir)
    replay: for (const [i, segment] of segments.entries()) {
      if (segments[i + 1] && segments[i + 1].firstSeq <= restoredSeq + 1) continue
      for await (const line of readLines(segment.file)) {
        const judged = judgeLine(line, i === segments.length - 1)
        if (judged.kind !== 'record') {
          if (judged.seq !== undefined && judged.seq <= restoredSeq) continue
          if (judged.kind === 'torn') notReplayed.push(`a record cut short at the end of ${segment.file} (a write a crash interrupted)`)
          else notReplayed.push(`the journal from ${segment.file} line ${line.number} (${judged.why}) on, which is damaged`)
          break replay
        }
        if (judged.seq <= restoredSeq) continue
        if (judged.seq !== restoredSeq + 1) {
          notReplayed.push(`records ${restoredSeq + 1} to ${judged.seq - 1}, which no file holds any more, and every journal record from ${judged.seq} on, which build on them`)
          break replay
        }
        try {
          machine.apply(state, judged.record as NamespaceRecord)
        } catch (err) {
          notReplayed.push(`record ${judged.seq} and the ones after it: it does not apply on top of the backup (${(err as Error).message})`)
          break replay
        }
        restoredSeq = judged.seq
        replayed++
      }
    }
    if (replayed) actions.push(`replayed the ${replayed} intact journal record(s) after it, up to record ${restoredSeq}`)

    await mkdir(backupDir)
    await removeCheckpointLeftovers(dir)
    for (const name of [CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE]) {
      const file = join(dir, name)
      if (await pathExists(file)) {
        await rename(file, join(backupDir, name))
        actions.push(`moved ${file} to the backup`)
      }
    }
    for (const segment of await listSegments(dir)) {
      await rename(segment.file, join(backupDir, basename(segment.file)))
      actions.push(`moved ${segment.file} to the backup`)
    }
    await fsyncPath(backupDir)
    await writeCheckpoint(dir, restoredSeq, machine.snapshot(state))
    actions.push(`wrote ${join(dir, CHECKPOINT_FILE)} at record ${restoredSeq}`)
    // The folder's own claim is the latest it made; a folder that lost it takes the backup's.
    const claim = await readMetaEpoch(dir).catch(() => undefined)
    if (claim) await markRepaired(dir)
    else if (header.epoch) {
      const damaged = join(dir, EPOCH_FILE)
      if (await pathExists(damaged)) await rename(damaged, join(backupDir, EPOCH_FILE))
      await writeMetaEpoch(dir, { ...header.epoch, afterRepair: true })
      actions.push(`wrote epoch.json with the backup's claim (epoch ${header.epoch.epoch})`)
    }
    await writeOrphanHold(dir, { since: now.toISOString(), backupDir, droppedRecords: notReplayed.length })
    actions.push('held every chunk file the restored metadata no longer references (orphan-hold.json): nothing deletes them as orphans until released')
    await fsyncPath(dir)
  } finally {
    await lock.release()
  }
  // Opening makes the empty journal after the checkpoint, and proves the folder opens.
  const store = await MetaStore.open(dir, machine, {})
  await store.close()
  return { backupDir, actions, restoredSeq, replayed, notReplayed }
}
