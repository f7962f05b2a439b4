// The small durability steps the metadata store repeats: fsync a folder so a new or renamed name
// in it survives power loss, and replace a file atomically (temp file, fsync, rename, fsync folder)
// so a reader finds the old content or the new, never half of one.

import { open, rename, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Replace `file` with `data` atomically and durably, through `<file>.tmp` beside it. */
export async function replaceFile(file: string, data: string): Promise<void> {
  const dir = dirname(file)
  const tmp = join(dir, `${basename(file)}.tmp`)
  const fh = await open(tmp, 'w')
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, file)
  await fsyncDir(dir)
}

/** True for the error a missing file or folder gives. */
export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT'
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
