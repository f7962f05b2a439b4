// format.json: what makes a folder a dfs metadata folder. It names the on-disk format, the cluster
// (a random id every DataNode folder of the cluster records too) and the settings the cluster was
// created with. It is written once at creation and rewritten atomically when settings change.
// format.copy.json beside it holds the same bytes: one damaged byte in format.json would otherwise
// leave no way in, so a damaged format.json with an intact copy is named (FORMAT_CORRUPT) and
// `dfs fsck --meta <dir> --repair` puts the copy back.

import { randomUUID } from 'node:crypto'
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { dfsError } from '../errors.js'
import { fsyncPath, pathExists, readTextIfExists, replaceFile } from '../util/files.js'
import { errnoOf } from '../util/osError.js'

export const META_FORMAT = 1
const FORMAT_FILE = 'format.json'
export const FORMAT_COPY_FILE = 'format.copy.json'

export type Settings = Record<string, unknown>

export interface MetaFormat {
  format: number
  clusterId: string
  createdAt: string
  settings: Settings
}

/**
 * Look at dir, writing nothing: its format, or undefined when it is missing or empty, so a new
 * cluster can be made there. Anything else (a file, a folder of other files) is refused, so that a
 * caller can check everything before the first write.
 */
export async function inspectMetaFolder(dir: string): Promise<MetaFormat | undefined> {
  let info
  try {
    info = await stat(dir)
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined
    if (errnoOf(err) === 'ENOTDIR') {
      throw dfsError('META_FOREIGN', `metadata folder ${dir} cannot be a folder: part of its path is a file; pass a folder path (a missing or empty folder makes a new cluster)`, { dir }, err)
    }
    throw err
  }
  if (!info.isDirectory()) {
    throw dfsError('META_FOREIGN', `metadata folder ${dir} is a file, not a folder; pass a folder (a missing or empty folder makes a new cluster)`, { dir })
  }
  const format = await readFormat(dir)
  if (format) return format
  // A temp file from a creation that crashed before its rename is ours; anything else is not.
  const others = (await readdir(dir)).filter((name) => name !== `${FORMAT_FILE}.tmp` && name !== `${FORMAT_COPY_FILE}.tmp`)
  if (others.length > 0) {
    throw dfsError(
      'META_FOREIGN',
      `${dir} is not a dfs metadata folder: it has no ${FORMAT_FILE} but holds other files (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', ...' : ''}); use an empty folder`,
      { dir, files: others.length },
    )
  }
  return undefined
}

/**
 * Make sure dir is a metadata folder we can use: it has a format.json we understand, or, when
 * createSettings is given, it is new or empty and becomes one.
 */
export async function prepareMetaFolder(dir: string, createSettings: Settings | undefined): Promise<void> {
  if (await inspectMetaFolder(dir)) return
  if (!createSettings) {
    throw (await pathExists(dir))
      ? dfsError('META_FOREIGN', `${dir} is not a dfs metadata folder (it has no ${FORMAT_FILE})`, { dir })
      : dfsError('ENOENT', `metadata folder ${dir} does not exist`, { dir })
  }
  await mkdir(dir, { recursive: true })
  await writeFormat(dir, { format: META_FORMAT, clusterId: randomUUID(), createdAt: new Date().toISOString(), settings: createSettings })
}

/** The folder's format.json; undefined when there is none. */
export async function readFormat(dir: string): Promise<MetaFormat | undefined> {
  const file = join(dir, FORMAT_FILE)
  const text = await readTextIfExists(file)
  if (text === undefined) {
    if (!(await readFormatCopy(dir))) return undefined
    throw dfsError('FORMAT_CORRUPT',
      `${file} is missing, but its copy ${FORMAT_COPY_FILE} is intact; unmounted, run dfs fsck --meta ${dir} --repair to put the copy back`,
      { dir, file })
  }
  try {
    return parseFormat(text, dir, file)
  } catch (err) {
    if ((err as { code?: string }).code !== 'META_FOREIGN') throw err
    if (await readFormatCopy(dir)) {
      throw dfsError('FORMAT_CORRUPT',
        `${file} is damaged, but its copy ${FORMAT_COPY_FILE} is intact; unmounted, run dfs fsck --meta ${dir} --repair to put the copy back (it keeps the damaged file in a backup folder)`,
        { dir, file })
    }
    throw err
  }
}

/** The intact copy of format.json, if there is one. */
export async function readFormatCopy(dir: string): Promise<MetaFormat | undefined> {
  const file = join(dir, FORMAT_COPY_FILE)
  const text = await readTextIfExists(file)
  if (text === undefined) return undefined
  try {
    return parseFormat(text, dir, file)
  } catch {
    return undefined
  }
}

function parseFormat(text: string, dir: string, file: string): MetaFormat {
  let parsed: Partial<MetaFormat> | null = null
  try {
    parsed = JSON.parse(text) as Partial<MetaFormat> | null
  } catch {
    // reported below
  }
  const format = parsed?.format
  if (typeof format === 'number' && format > META_FORMAT) {
    throw dfsError('META_TOO_NEW', `metadata in ${dir} has format ${format}; this dfs understands up to ${META_FORMAT}: upgrade dfs`, {
      dir,
      format,
    })
  }
  if (
    format !== META_FORMAT ||
    typeof parsed?.clusterId !== 'string' ||
    typeof parsed.createdAt !== 'string' ||
    typeof parsed.settings !== 'object' ||
    parsed.settings === null
  ) {
    throw dfsError('META_FOREIGN', `${file} is not a valid dfs format file, so ${dir} is not a usable dfs metadata folder`, { dir, file })
  }
  return { format, clusterId: parsed.clusterId, createdAt: parsed.createdAt, settings: parsed.settings }
}

export async function writeFormat(dir: string, format: MetaFormat): Promise<void> {
  const text = `${JSON.stringify(format, null, 2)}\n`
  await replaceFile(join(dir, FORMAT_FILE), text)
  await replaceFile(join(dir, FORMAT_COPY_FILE), text)
}

/**
 * Put the intact copy back in place of a damaged or missing format.json, keeping the damaged file in
 * backupDir. Returns false when there is nothing to do (format.json is fine) or no intact copy.
 */
export async function restoreFormat(dir: string, backupDir: string): Promise<boolean> {
  const copy = await readFormatCopy(dir)
  if (!copy) return false
  const file = join(dir, FORMAT_FILE)
  const text = await readTextIfExists(file)
  if (text !== undefined) {
    try {
      parseFormat(text, dir, file)
      return false
    } catch {
      await mkdir(backupDir, { recursive: true })
      await copyFile(file, join(backupDir, FORMAT_FILE))
      await fsyncPath(join(backupDir, FORMAT_FILE))
    }
  }
  await replaceFile(file, `${JSON.stringify(copy, null, 2)}\n`)
  return true
}

/** A folder made before the copy existed (or whose copy is gone or stale) gets one. */
export async function ensureFormatCopy(dir: string, format: MetaFormat): Promise<void> {
  const copy = await readFormatCopy(dir)
  if (copy && JSON.stringify(copy) === JSON.stringify(format)) return
  await replaceFile(join(dir, FORMAT_COPY_FILE), `${JSON.stringify(format, null, 2)}\n`)
}
