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
  // Siblings are read at once and their lines joined in name order: node folders hold 256 chunk
  // subfolders each, and one await per entry made a listing of a few clusters take ~0.5 s. File
  // contents, though, a few at a time: a node folder may hold hundreds of MiB of chunks.
  const hashOf = limited(READERS, async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16))
  const walk = async (top: string, path: string): Promise<string[]> => {
    let info
    try {
      info = await lstat(path)
    } catch {
      return [`${path} (missing)`]
    }
    const rel = `${top}:${relative(top, path) || '.'}`
    if (info.isDirectory()) {
      const names = (await readdir(path)).sort()
      const below = await Promise.all(names.map((name) => walk(top, join(path, name))))
      return [`${rel} dir ${info.mode.toString(8)}`, ...below.flat()]
    } else if (info.isFile()) {
      const hash = await hashOf(path)
      return [`${rel} file ${info.mode.toString(8)} ${info.size} ${hash}`]
    } else if (info.isSymbolicLink()) {
      return [`${rel} symlink ${await readlink(path)}`]
    } else {
      return [`${rel} other ${info.mode.toString(8)}`]
    }
  }
  return (await Promise.all(folders.map((folder) => walk(folder, folder)))).flat()
}

const READERS = 4

/** fn, with at most `n` calls running at once (the rest wait in order). */
function limited<A, R>(n: number, fn: (arg: A) => Promise<R>): (arg: A) => Promise<R> {
  let running = 0
  const waiting: Array<() => void> = []
  return async (arg) => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve))
    else running++
    try {
      return await fn(arg)
    } finally {
      const next = waiting.shift()
      if (next) next()
      else running--
    }
  }
}
