// backups.json in a metadata folder: where the NameNode that runs on it writes its backups
// (namenode/backups.ts), so that `dfs fsck --meta <dir> --repair` can find them, and how the
// backups in that folder are named (ns-<ISO time>.json: the names sort by time).

import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { readTextIfExists, replaceFile } from '../util/files.js'

export const BACKUPS_FILE = 'backups.json'
export const BACKUP_PREFIX = 'ns-'
export const BACKUP_SUFFIX = '.json'

export interface BackupsRecord {
  dir: string
  everyMs?: number
  keep?: number
}

export async function writeBackupsRecord(metaDir: string, record: BackupsRecord): Promise<void> {
  await replaceFile(join(metaDir, BACKUPS_FILE), `${JSON.stringify({ format: 1, ...record }, null, 2)}\n`)
}

/** Where a metadata folder's backups go, as backups.json says; undefined when it names none. */
export async function readBackupsRecord(metaDir: string): Promise<{ dir: string; everyMs?: number; keep?: number } | undefined> {
  const text = await readTextIfExists(join(metaDir, BACKUPS_FILE))
  if (text === undefined) return undefined
  try {
    const value = JSON.parse(text) as { dir?: unknown; everyMs?: unknown; keep?: unknown }
    if (typeof value.dir !== 'string') return undefined
    return { dir: value.dir, ...(typeof value.everyMs === 'number' ? { everyMs: value.everyMs } : {}), ...(typeof value.keep === 'number' ? { keep: value.keep } : {}) }
  } catch {
    return undefined
  }
}

/** The backups in dir, newest first (their names sort by time). */
export async function listBackups(dir: string): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  return names.filter((n) => n.startsWith(BACKUP_PREFIX) && n.endsWith(BACKUP_SUFFIX)).sort().reverse().map((n) => join(dir, n))
}

