// The metadata half of `dfs fsck --meta <dir>`: before any node is needed, check the checkpoint and
// the journal. A damaged folder is explained (which file, which record, byte offset, how many
// records follow and what they did); with --repair it is recovered (meta/repair.ts) and exactly what
// was lost is listed, after which the chunk check goes on and mount works.

import { join, resolve } from 'node:path'
import { parseSettings } from '../cluster/settings.js'
import { dfsError } from '../errors.js'
import { type LostRecord, type MetaInspection, inspectMeta, needsRepair } from '../meta/inspect.js'
import { CHECKPOINT_FILE } from '../meta/Checkpoint.js'
import { FORMAT_COPY_FILE, readFormat, restoreFormat } from '../meta/metaFormat.js'
import { checkMetaUnlocked } from '../meta/lock.js'
import { namespaceDescriber } from '../meta/namespace/describe.js'
import { namespaceMachine } from '../meta/namespace/machine.js'
import type { NamespaceState } from '../meta/namespace/types.js'
import { describeDamage } from '../meta/replayJournal.js'
import { type OrphanHold, orphanHold, releaseHint, releaseOrphanHold } from '../meta/orphanHold.js'
import { repairMeta } from '../meta/repair.js'
import { findGoodBackup, restoreFromBackup } from '../meta/restoreBackup.js'

export interface MetaCheck {
  /** The folder is usable now (it was healthy, or was repaired): the chunk check can go on. */
  usable: boolean
  /** For --json. */
  report: Record<string, unknown>
  /** What to tell a person (nothing with --json); the caller prints it once the rest of its input is known good. */
  lines: string[]
  /** --repair changed the folder: say so at once, whatever fails after. */
  repaired: boolean
}

// Operations listed one per line before the rest are only counted (--json lists them all).
const SHOW_OPERATIONS = 100

/** Open the dfs metadata folder given by the user, or say why it is not one. */
async function metaFolder(meta: string) {
  const dir = resolve(meta)
  const format = await readFormat(dir).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') throw dfsError('META_FOREIGN', `metadata folder ${meta} is not a directory`, { meta })
    throw err
  })
  if (!format) throw dfsError('META_FOREIGN', `${meta} holds no dfs cluster (no format.json); pass the --meta folder given to dfs mount`, { meta })
  return { dir, format }
}

/** --repair: put format.json's intact copy back if format.json is damaged or missing; true if it did. */
async function restoreFormatFor(meta: string, print: (line: string) => void): Promise<boolean> {
  const dir = resolve(meta)
  const broken = await readFormat(dir).then(() => false, (err: { code?: string }) => err.code === 'FORMAT_CORRUPT')
  if (!broken) return false
  await checkMetaUnlocked(dir)
  const backupDir = join(dir, `backup-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  if (!(await restoreFormat(dir, backupDir))) return false
  print(`metadata ${dir}: format.json was damaged or missing; put back from its copy ${FORMAT_COPY_FILE} (the damaged file is kept in ${backupDir})`)
  return true
}

/** dfs fsck --meta <dir> --release-orphans: end the hold a metadata repair put on orphan chunk files. */
export async function releaseOrphans(meta: string): Promise<{ released?: OrphanHold; lines: string[] }> {
  const { dir } = await metaFolder(meta)
  const hold = await orphanHold(dir)
  if (!hold || !(await releaseOrphanHold(dir))) return { lines: [`metadata ${dir}: no orphan hold; nothing to release`] }
  return {
    released: hold,
    lines: [
      hold.cause === 'load'
        ? `released the orphan hold of the load of the dump ${hold.backupDir} (${hold.since}): a newer dump of the cluster can no longer be loaded with its data`
        : `released the orphan hold of the metadata repair of ${hold.since}: the backup ${hold.backupDir} can no longer be restored with its data`,
      '  chunk files no file references are now removed by dfs fsck --repair, or by a running daemon at its next orphan sweep (within a minute)',
    ],
  }
}

export async function checkMetaFolder(meta: string, flags: { repair: boolean; json: boolean }): Promise<MetaCheck> {
  const lines: string[] = []
  const print = (line: string) => { if (!flags.json) lines.push(line) }
  // A damaged format.json with an intact copy (FORMAT_CORRUPT) is put right first: nothing else can be read without it.
  const restoredFormat = flags.repair && await restoreFormatFor(meta, print)
  const { dir, format } = await metaFolder(meta)
  const settings = parseSettings(format.settings, dir)
  const machine = namespaceMachine({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, createdAt: settings.createdAt })

  const inspection = await inspectMeta(dir, machine, namespaceDescriber())
  if (!needsRepair(inspection) && !inspection.unrecoverable) {
    print(`metadata ${dir}: intact (state as of record ${inspection.lastGoodSeq}${inspection.base ? `, from ${inspection.base.file} and ${inspection.replayed} journal records` : ''})`)
    if (inspection.tornTail) print(`  the journal ends with a torn tail, bytes after its last newline (a write cut short by a crash); mount drops them by itself, keeping a copy: ${describeDamage(inspection.tornTail)}`)
    if (inspection.fallbackDamage) {
      print(`  WARNING: the previous checkpoint ${inspection.fallbackDamage.file} is damaged (${inspection.fallbackDamage.why}): if ${CHECKPOINT_FILE} is ever damaged too, there is no fallback left`)
      print(`  the next checkpoint the daemon writes (at the latest on a clean dfs unmount) replaces it with the current one; until then, keep a copy of ${dir}`)
    }
    return { usable: true, report: reportOf(inspection), lines, repaired: restoredFormat }
  }

  // A NameNode backup is the fallback when the folder cannot be rebuilt from itself, or keeps more than a cut would.
  const backups = await findGoodBackup(dir, format.clusterId)
  const fallback = backups.good && (inspection.unrecoverable || backups.good.dump.header.lastSeq > inspection.lastGoodSeq) ? backups.good : undefined

  if (!flags.repair) {
    explain(inspection, print)
    if (fallback) {
      print(`to recover: dfs fsck --meta ${dir} --repair`)
      print(`  it restores the NameNode backup ${fallback.file} (record ${fallback.dump.header.lastSeq}${inspection.unrecoverable ? '' : `, newer than record ${inspection.lastGoodSeq}, where a cut of the journal would end`}), replays the intact journal records after it, and moves every file it replaces to ${dir}/backup-<time>/ first`)
    } else if (inspection.unrecoverable) {
      print(`  it cannot be repaired: ${inspection.unrecoverable}`)
      print(backups.dir ? `  no NameNode backup in ${backups.dir} reads whole${backups.skipped.length ? ` (${backups.skipped.length} damaged)` : ' (there is none)'}` : '  no NameNode backups are recorded for it (dfs namenode --backup-dir)')
    } else {
      print(`to recover: dfs fsck --meta ${dir} --repair`)
      const drops = inspection.lost.length === 0 ? 'drops nothing' : `drops the ${inspection.lost.length} record(s) listed above`
      print(`  it keeps the state as of record ${inspection.lastGoodSeq}, ${drops}, and copies every file it changes to ${dir}/backup-<time>/ first`)
      print('  chunk files the repaired metadata no longer references are kept (not removed as orphans) until you release them with --release-orphans')
    }
    return { usable: false, report: reportOf(inspection), lines, repaired: false }
  }

  if (fallback) {
    const restored = await restoreFromBackup(dir, fallback)
    explain(inspection, print)
    print(`metadata restored from the NameNode backup ${fallback.file}; the files it replaced are kept in ${restored.backupDir}`)
    for (const skipped of backups.skipped) print(`  skipped the newer backup ${skipped.file}: ${skipped.why}`)
    for (const action of restored.actions) print(`  ${action}`)
    print(`  chunk files the restored metadata no longer references stay on the nodes while that backup may be restored; ${releaseHint(dir)}`)
    const lost = inspection.lost.filter((r) => r.seq === undefined || r.seq > restored.restoredSeq)
    const gone = [...restored.notReplayed, ...(inspection.unrecoverable ? [] : lost.length ? [`the ${lost.length} operation(s) listed above after record ${restored.restoredSeq}`] : [])]
    print(gone.length === 0 ? `  nothing was lost: the folder holds every record up to ${restored.restoredSeq}` : `  lost (after record ${restored.restoredSeq}): ${[...new Set(gone)].join('; ')}`)
    const paths = pathsOf(lost)
    if (paths.length) print(`  paths they touched: ${paths.join(', ')}`)
    print('  files changed after the backup may refer to chunks the NameNode deleted since: the chunk check below lists them')
    return {
      usable: true,
      report: { ...reportOf(inspection), restoredFromBackup: { file: fallback.file, backupSeq: fallback.dump.header.lastSeq, restoredSeq: restored.restoredSeq, replayed: restored.replayed, notReplayed: restored.notReplayed, backupDir: restored.backupDir, actions: restored.actions, skipped: backups.skipped, lost } },
      lines, repaired: true,
    }
  }
  const repaired = await repairMeta(dir, machine, namespaceDescriber())
  explain(repaired.inspection, print)
  print(`metadata repaired; the files it changed are kept in ${repaired.backupDir}`)
  for (const action of repaired.actions) print(`  ${action}`)
  print(`  chunk files the repaired metadata no longer references stay on the nodes while that backup may be restored; ${releaseHint(dir)}`)
  const lost = repaired.inspection.lost
  print(lost.length === 0 ? '  nothing was lost' : `  lost: the ${lost.length} operation(s) listed above; paths they touched: ${pathsOf(lost).join(', ') || '(none named)'}`)
  return { usable: true, report: { ...reportOf(repaired.inspection), repaired: { backupDir: repaired.backupDir, actions: repaired.actions, orphanHold: (await orphanHold(dir)) ?? null } }, lines, repaired: true }
}

function explain(i: MetaInspection<NamespaceState>, print: (line: string) => void): void {
  print(`metadata ${i.dir}: DAMAGED`)
  if (i.checkpointDamage) {
    print(`  checkpoint ${i.checkpointDamage.file} is damaged: ${i.checkpointDamage.why}`)
    if (i.base) print(`  the previous checkpoint ${i.base.file} (record ${i.base.lastSeq}) is intact, with the journal since it`)
    else if (!i.unrecoverable) print('  no intact checkpoint, but the journal reaches back to the first record')
  }
  const damage = i.journalDamage
  if (damage) {
    print(`  journal ${damage.file} is damaged at ${describeDamage(damage)}`)
    const files = new Set(i.lost.map((r) => r.file)).size
    print(`  the state is good up to record ${i.lastGoodSeq}; the damaged record and the ${i.lost.length - 1} after it (in ${files} journal file${files === 1 ? '' : 's'}) cannot be trusted:`)
    for (const r of i.lost.slice(0, SHOW_OPERATIONS)) print(`    ${r.seq === undefined ? `line ${r.line}` : `record ${r.seq}`}: ${r.what}${r.damaged ? '  (damaged: read as far as it goes)' : ''}`)
    if (i.lost.length > SHOW_OPERATIONS) print(`    ... and ${i.lost.length - SHOW_OPERATIONS} more (--json lists them all)`)
    const paths = pathsOf(i.lost)
    if (paths.length) print(`  paths they touched: ${paths.join(', ')}`)
  } else if (i.checkpointDamage && !i.unrecoverable) {
    print(`  the journal after it is intact: nothing is lost (state as of record ${i.lastGoodSeq})`)
  }
}

function pathsOf(lost: LostRecord[]): string[] {
  return [...new Set(lost.flatMap((r) => r.paths))]
}

function reportOf(i: MetaInspection<NamespaceState>): Record<string, unknown> {
  return {
    dir: i.dir,
    intact: !needsRepair(i) && !i.unrecoverable,
    lastGoodSeq: i.lastGoodSeq,
    ...(i.base ? { checkpoint: i.base } : {}),
    ...(i.checkpointDamage ? { checkpointDamage: i.checkpointDamage } : {}),
    ...(i.fallbackDamage ? { fallbackDamage: i.fallbackDamage } : {}),
    ...(i.journalDamage ? { journalDamage: i.journalDamage } : {}),
    ...(i.tornTail ? { tornTail: i.tornTail } : {}),
    ...(i.unrecoverable ? { unrecoverable: i.unrecoverable } : {}),
    lost: i.lost,
    lostPaths: pathsOf(i.lost),
  }
}
