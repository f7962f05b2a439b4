// Durable file steps repeated across the rooms that keep state on disk (metadata store, node folders).

import { open, readFile, rename, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { isNotFound } from './osError.js'

/**
 * fsync a file or a folder by path. A folder's fsync is what makes a new or renamed name in it
 * survive power loss; Linux allows fsync on a descriptor opened read-only, for files and folders alike.
 */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Replace `file` with `data` atomically and durably (temp file beside it, fsync, rename, fsync the
 * folder), so a reader finds the old content or the new, never half of one.
 */
export async function replaceFile(file: string, data: string, tempName = `${basename(file)}.tmp`): Promise<void> {
  const dir = dirname(file)
  const tmp = join(dir, tempName)
  const fh = await open(tmp, 'w')
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, file)
  await fsyncPath(dir)
}

/** A file's text, or undefined when it (or its folder) is not there. */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if (isNotFound(err)) return false
    throw err
  }
}
