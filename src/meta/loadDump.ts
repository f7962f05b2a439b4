// Making a metadata folder of a namespace dump (`dfs meta load`, and `dfs fsck --repair` falling
// back on a backup). The folder is built whole beside the target and renamed into place, so a load
// that fails half way (a full disk) leaves the target as it was.
//
// What it holds: format.json with the dump's cluster id, createdAt and settings; a checkpoint at the
// dump's lastSeq; an empty journal after it; epoch.json with the dump's claim, marked afterRepair.
// The first NameNode to open the folder claims the DataNodes with the next epoch from that basis; the
// mark lets its journal end below the nodes' seq watermark (records after the dump are gone for good),
// once. Whoever held the claim the dump was taken under is then behind the nodes: fenced.

import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { dfsError, isDfsError } from '../errors.js'
import { fsyncPath } from '../util/files.js'
import { errnoOf } from '../util/osError.js'
import { writeCheckpoint } from './Checkpoint.js'
import type { LoadedDump } from './dump.js'
import { writeMetaEpoch } from './epochClaim.js'
import { MetaStore } from './MetaStore.js'
import { META_FORMAT, writeFormat } from './metaFormat.js'
import { namespaceMachine } from './namespace/machine.js'
import { writeOrphanHold } from './orphanHold.js'

/** Refuse (DUMP_TARGET_NOT_EMPTY, META_FOREIGN) a target that is not a missing or empty folder; writes nothing. */
export async function checkLoadTarget(dir: string): Promise<void> {
  let names: string[]
  try {
    const info = await stat(dir)
    if (!info.isDirectory()) throw dfsError('META_FOREIGN', `${dir} is a file; dfs meta load makes a metadata folder: pass a missing or empty folder`, { dir })
    names = await readdir(dir)
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return
    throw err
  }
  if (names.length > 0) {
    throw dfsError('DUMP_TARGET_NOT_EMPTY',
      `${dir} is not empty (it holds ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}); dfs meta load makes a new metadata folder: pass a missing or empty folder`,
      { dir, files: names.length })
  }
}

export interface LoadOptions {
  /** Where the dump came from, for the orphan hold (a file, "stdin"). */
  source: string
  now?: Date
}

/** Write the folder (checkLoadTarget first). */
export async function loadDumpInto(target: string, dump: LoadedDump, options: LoadOptions): Promise<void> {
  const dir = resolve(target)
  await checkLoadTarget(dir)
  const tmp = join(dirname(dir), `.${basename(dir)}.loading-${process.pid}`)
  try {
    await rm(tmp, { recursive: true, force: true })
    await mkdir(tmp, { recursive: true })
    await buildFolder(tmp, dump, options)
    await rename(tmp, dir) // over an empty folder, or where none was
    await fsyncPath(dirname(dir))
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    if (isDfsError(err)) throw err
    const code = errnoOf(err) === 'ENOSPC' ? 'ENOSPC' : errnoOf(err) === 'EACCES' ? 'EACCES' : 'EIO'
    throw dfsError(code, `cannot make metadata folder ${dir}: ${(err as Error).message}; nothing was left behind`, { dir }, err)
  }
}

/** The folder's files, in dir (which exists and is empty). */
export async function buildFolder(dir: string, dump: LoadedDump, options: LoadOptions): Promise<void> {
  const { header, state } = dump
  await writeFormat(dir, { format: META_FORMAT, clusterId: header.clusterId, createdAt: header.createdAt, settings: header.settings })
  const machine = namespaceMachine({ uid: 0, gid: 0, createdAt: 0 })
  await writeCheckpoint(dir, header.lastSeq, machine.snapshot(state))
  if (header.epoch) await writeMetaEpoch(dir, { ...header.epoch, afterRepair: true })
  // Chunks only newer metadata referenced (files written after the dump) are not orphans to delete:
  // a newer dump may yet be loaded. The operator releases them (dfs fsck --meta <dir> --release-orphans).
  await writeOrphanHold(dir, { since: (options.now ?? new Date()).toISOString(), backupDir: options.source, droppedRecords: 0, cause: 'load' })
  // Opening makes the empty journal after the checkpoint, and proves the folder opens.
  const store = await MetaStore.open(dir, machine, {})
  await store.close()
  await fsyncPath(dir)
}
