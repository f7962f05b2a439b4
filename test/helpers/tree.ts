// What is on disk below some folders, as lines to compare before and after a command that must
// change nothing: every entry's path, type, mode, size and a hash of its contents. Directory times
// are left out: a write probe that is removed again touches them.
//
//   const before = await treeListing([meta, ...nodes, mnt])
//   ... the command ...
//   expect(await treeListing([meta, ...nodes, mnt])).toEqual(before)
//
// Never point it at a live dfs mount from the process serving it (it reads with async fs calls,
// which is fine for a mount served by another process).

import { createHash } from 'node:crypto'
import { lstat, readFile, readdir, readlink } from 'node:fs/promises'
import { join, relative } from 'node:path'

export async function treeListing(folders: string[]): Promise<string[]> {
  const out: string[] = []
  const walk = async (top: string, path: string): Promise<void> => {
    let info
    try {
      info = await lstat(path)
    } catch {
      out.push(`${path} (missing)`)
      return
    }
    const rel = `${top}:${relative(top, path) || '.'}`
    if (info.isDirectory()) {
      out.push(`${rel} dir ${info.mode.toString(8)}`)
      for (const name of (await readdir(path)).sort()) await walk(top, join(path, name))
    } else if (info.isFile()) {
      const hash = createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16)
      out.push(`${rel} file ${info.mode.toString(8)} ${info.size} ${hash}`)
    } else if (info.isSymbolicLink()) {
      out.push(`${rel} symlink ${await readlink(path)}`)
    } else {
      out.push(`${rel} other ${info.mode.toString(8)}`)
    }
  }
  for (const folder of folders) await walk(folder, folder)
  return out
}
