// Writing a new chunk file whole, for a DataNode's put. A large chunk in page-aligned memory
// (util/sha256.ts: a writer's chunk buffer, or a chunk that came over TCP, which tcp/frame.ts receives
// into memory of its own) is written with O_DIRECT: the bytes go from that memory to the disk, with
// no page-cache pages in between. On the VM dfs is built on, where the host backs guest memory
// lazily, finding fresh page-cache pages is what a buffered write costs: two writers putting 128 files of 4 MiB each with fdatasync took 3.6-5.5 s of system
// time buffered, 0.30-0.35 s buffered with each file's pages dropped after its sync, and 0.05-0.06 s
// with O_DIRECT (and the least wall time). HDFS DataNodes drop written pages behind for the same
// reason (dfs.datanode.drop.cache.behind.writes); O_DIRECT does not put them there at all.
//
// O_DIRECT is not durability: the put's fdatasync still follows (LocalFolderNode syncs behind). A
// chunk written this way is read back from the disk, also by a buffered read: nothing is cached.

import { constants } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { closeFdQuietly, openFd, writeAllFd } from '../util/fdCalls.js'
import { isPageAligned } from '../util/sha256.js'
import type { DirectState } from './readWhole.js'

/** How chunk files were written, for tests that pin the page-cache bypass. */
export const writeCounts = {
  /** Written with O_DIRECT. */
  direct: 0,
  /** Written through the page cache (small, unaligned memory, or O_DIRECT refused). */
  buffered: 0,
}

const DIRECT_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT

/**
 * Create the file at `path` (it must not exist) holding data; the open descriptor, for the caller to
 * sync and close. With O_DIRECT when data's memory and length allow it and the folder's file system
 * takes it (refused once: remembered in `state`, shared with reads). On an error nothing is left
 * open; the caller removes the file.
 */
export async function writeNewFile(path: string, data: Buffer, state: DirectState): Promise<{ fd: number; direct: boolean }> {
  if (!state.refused && isPageAligned(data)) {
    const fd = await openDirect(path, state)
    if (fd !== undefined) {
      try {
        await writeAllFd(fd, data)
        writeCounts.direct++
        return { fd, direct: true }
      } catch (err) {
        closeFdQuietly(fd)
        // EINVAL: the file system takes O_DIRECT opens but not such writes: from now on, and for
        // this one, buffered.
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
        state.refused = true
        await unlink(path)
      }
    }
  }
  const fd = await openFd(path, 'wx')
  try {
    await writeAllFd(fd, data)
  } catch (err) {
    closeFdQuietly(fd)
    throw err
  }
  writeCounts.buffered++
  return { fd, direct: false }
}

/** path created with O_DIRECT, or undefined when the file system refuses O_DIRECT (remembered). */
async function openDirect(path: string, state: DirectState): Promise<number | undefined> {
  try {
    return await openFd(path, DIRECT_FLAGS)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
    state.refused = true
    // Some kernels refuse O_DIRECT only after creating the file.
    await unlink(path).catch(() => {})
    return undefined
  }
}
