// Dropping a file's pages from the kernel's page cache once they are on disk (posix_fadvise
// DONTNEED), through the `fadvise` addon: Node has no binding for the call.
//
// Why a DataNode wants it (HDFS's dfs.datanode.drop.cache.behind.writes): a chunk just written is
// rarely read back soon (clients keep their own chunk cache), and a streaming write that leaves every
// page cached makes the kernel find fresh memory for each new page. Measured on the machine dfs is
// built on (a VM whose host backs guest memory lazily), writing into fresh pages cost 74 % of the
// daemon's CPU during a sequential write; 2 GiB of 4 MiB files written with fdatasync took 4.7-7.7 s
// of system time without the drop and 0.6-0.7 s with it, because freed pages are reused.

import { createRequire } from 'node:module'

interface Fadvise {
  posix_fadvise(fd: number, offset: number, length: number, advice: number): number
  POSIX_FADV_DONTNEED: number
  /** Set by the package when its addon did not load: its posix_fadvise then does nothing. */
  failed_to_load?: boolean
}

// Loaded by Node's require, not imported: a test runner that transforms ES imports chokes on the
// package's .node file (as with @ronomon/reed-solomon).
const fadvise = createRequire(import.meta.url)('fadvise') as Fadvise

/** Whether dropping pages does anything here (the addon built and loaded; Linux). */
export const canDropCachedPages = fadvise.failed_to_load !== true && process.platform === 'linux'

/**
 * Ask the kernel to drop the cached pages of an open file. Only clean pages go, so call it after the
 * file's data is synced. Advice, not a promise: a failure changes nothing but memory use, and so is
 * ignored. Synchronous, but it does no I/O on clean pages (the caller has just synced them).
 */
export function dropCachedPages(fd: number): void {
  if (!canDropCachedPages) return
  try {
    fadvise.posix_fadvise(fd, 0, 0, fadvise.POSIX_FADV_DONTNEED)
  } catch {
    // Only bad arguments throw; a put that is durable must not fail over advice either way.
  }
}
