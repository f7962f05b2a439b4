// The orphan hold: after `dfs fsck --meta --repair` dropped journal records or replaced the
// checkpoint, chunk files the repaired namespace no longer references may be exactly the data of
// the dropped records, which the backup it made (backup-<time>/) still refers to. Deleting them as
// orphans would make that backup useless, so the repair leaves orphan-hold.json in the metadata
// folder and every path that deletes unreferenced chunk files (fsck --repair, the daemon's
// OrphanCollector) asks orphanHold() first and keeps them while it is there. The operator ends it
// with `dfs fsck --meta <dir> --release-orphans` (or by removing the file) once the backup is no
// longer needed.

import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fsyncPath, readTextIfExists, replaceFile } from '../util/files.js'

export const ORPHAN_HOLD_FILE = 'orphan-hold.json'

export interface OrphanHold {
  /** When the repair ran (ISO time). */
  since: string
  /** The backup folder the repair made, which may refer to the held chunks. */
  backupDir: string
  /** Journal records the repair dropped. */
  droppedRecords: number
  /** What made the hold when it was not a repair: a load of a namespace dump (dfs meta load), whose source backupDir names. */
  cause?: 'load'
}

/** Start (or renew) the hold: written durably before the repair reports success. */
export async function writeOrphanHold(metaDir: string, hold: OrphanHold): Promise<void> {
  await replaceFile(join(metaDir, ORPHAN_HOLD_FILE), `${JSON.stringify(hold, null, 2)}\n`)
}

/**
 * The hold in force for this metadata folder, if any. A hold file that does not read as one still
 * holds (keeping a chunk is always safe; deleting one is not).
 */
export async function orphanHold(metaDir: string): Promise<OrphanHold | undefined> {
  const file = join(metaDir, ORPHAN_HOLD_FILE)
  const text = await readTextIfExists(file)
  if (text === undefined) return undefined
  try {
    const parsed = JSON.parse(text) as Partial<OrphanHold>
    if (typeof parsed.since === 'string' && typeof parsed.backupDir === 'string') {
      return { since: parsed.since, backupDir: parsed.backupDir, droppedRecords: Number(parsed.droppedRecords) || 0, ...(parsed.cause === 'load' ? { cause: 'load' as const } : {}) }
    }
  } catch {
    // unreadable: held all the same
  }
  return { since: '(unknown time)', backupDir: `(unreadable ${file})`, droppedRecords: 0 }
}

/** End the hold: orphans may be collected again. Whether there was one. */
export async function releaseOrphanHold(metaDir: string): Promise<boolean> {
  const file = join(metaDir, ORPHAN_HOLD_FILE)
  if ((await readTextIfExists(file)) === undefined) return false
  await rm(file, { force: true })
  await fsyncPath(metaDir)
  return true
}

/** Why an orphan is kept, in the words every report uses. */
export function describeHold(hold: OrphanHold): string {
  if (hold.cause === 'load') return `kept: held since the metadata was loaded from the dump ${hold.backupDir} at ${hold.since} (newer metadata of the cluster may refer to them)`
  return `kept: held since the metadata repair of ${hold.since} (the backup ${hold.backupDir} refers to them)`
}

/** How to end it, for the repair output and the reports that keep orphans. */
export function releaseHint(metaDir: string): string {
  return `once that backup is no longer needed: dfs fsck --meta ${metaDir} --release-orphans`
}
