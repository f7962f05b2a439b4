// Recovering a metadata folder the mount refuses (dfs fsck --meta <dir> --repair): start from the
// last good checkpoint (checkpoint.json, else the previous one) and cut the journal at its first
// bad record, so the folder holds exactly the state inspect.ts found and a mount loads it. Every
// file changed is first copied (or moved, when it goes) to backup-<time>/ inside the folder; what
// the cut drops is returned so the caller can list it. It leaves an orphan hold (orphanHold.ts):
// the chunks of what it dropped stay on the nodes until the operator releases them.

import { copyFile, mkdir, rename, truncate } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { dfsError } from '../errors.js'
import { fsyncPath, pathExists } from '../util/files.js'
import { CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE, removeCheckpointLeftovers } from './Checkpoint.js'
import { type MetaInspection, type RecordDescriber, inspectMeta, needsRepair } from './inspect.js'
import { listSegments } from './journalFormat.js'
import { acquireLock } from './lock.js'
import { markRepaired } from './epochClaim.js'
import { ORPHAN_HOLD_FILE, writeOrphanHold } from './orphanHold.js'
import type { JournalRecord, StateMachine } from './StateMachine.js'

export interface MetaRepair<S> {
  inspection: MetaInspection<S>
  /** Where the changed files were saved; undefined when nothing needed repair. */
  backupDir?: string
  /** What was done, one line each (for the report). */
  actions: string[]
}

export async function repairMeta<S, R extends JournalRecord>(
  dir: string,
  machine: StateMachine<S, R, unknown>,
  describer: RecordDescriber<S, R>,
  options: { log?: (msg: string) => void; now?: Date } = {},
): Promise<MetaRepair<S>> {
  const lock = await acquireLock(dir, options.log) // a running daemon owns the folder: refused
  try {
    const inspection = await inspectMeta(dir, machine, describer)
    if (inspection.unrecoverable) {
      throw dfsError('CHECKPOINT_CORRUPT', `metadata folder ${dir} cannot be repaired: ${inspection.checkpointDamage?.file ?? 'its checkpoint'} is damaged (${inspection.checkpointDamage?.why}) and ${inspection.unrecoverable}`, { dir })
    }
    if (!needsRepair(inspection)) return { inspection, actions: [] }

    const now = options.now ?? new Date()
    const backupDir = join(dir, `backup-${now.toISOString().replace(/[:.]/g, '-')}`)
    await mkdir(backupDir)
    const actions: string[] = []
    const keep = async (file: string) => {
      await copyFile(file, join(backupDir, basename(file)))
    }

    const checkpointDamage = inspection.checkpointDamage
    if (checkpointDamage) {
      const current = join(dir, CHECKPOINT_FILE)
      await removeCheckpointLeftovers(dir)
      if (inspection.base) {
        await keep(current).catch(() => {}) // missing is one of the ways it can be damaged
        await replaceWithCopy(inspection.base.file, current)
        actions.push(`replaced ${current} (${checkpointDamage.why}) by a copy of ${inspection.base.file} (record ${inspection.base.lastSeq}); the journal since then is replayed on top`)
      } else {
        await rename(current, join(backupDir, CHECKPOINT_FILE)).catch(() => {}) // it may be missing
        const previous = join(dir, PREVIOUS_CHECKPOINT_FILE)
        if (await pathExists(previous)) await rename(previous, join(backupDir, PREVIOUS_CHECKPOINT_FILE))
        actions.push(`moved ${current} (${checkpointDamage.why}) and any older checkpoint to the backup; the journal holds every record from the first, and is replayed from there`)
      }
    }

    const damage = inspection.journalDamage
    if (damage) {
      await keep(damage.file)
      await truncate(damage.file, damage.offset)
      await fsyncPath(damage.file)
      actions.push(`cut ${damage.file} at byte ${damage.offset} (after record ${inspection.lastGoodSeq})`)
      for (const segment of await listSegments(dir)) {
        if (segment.file <= damage.file) continue
        await rename(segment.file, join(backupDir, basename(segment.file)))
        actions.push(`moved ${segment.file}, which follows the cut, to the backup`)
      }
    }
    await fsyncPath(backupDir)
    // The DataNodes saw the seqs of the records dropped: the next claim may be below their watermark, once.
    await markRepaired(dir)
    // Chunk files only the dropped records (or the replaced checkpoint) referenced are the backup's
    // data: no orphan delete anywhere until the operator releases them (orphanHold.ts).
    await writeOrphanHold(dir, { since: now.toISOString(), backupDir, droppedRecords: inspection.lost.length })
    actions.push(`held every chunk file the repaired metadata no longer references (${ORPHAN_HOLD_FILE}): nothing deletes them as orphans until released`)
    await fsyncPath(dir)
    return { inspection, backupDir, actions }
  } finally {
    await lock.release()
  }
}

/** Replace dest by a copy of src through a temp file, so dest is always whole. */
async function replaceWithCopy(src: string, dest: string): Promise<void> {
  const tmp = `${dest}.tmp`
  await copyFile(src, tmp)
  await fsyncPath(tmp)
  await rename(tmp, dest)
}
