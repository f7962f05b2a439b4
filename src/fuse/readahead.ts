// How far ahead the kernel reads a FUSE mount. The kernel offers 128 KiB at mount time and libfuse 2
// cannot ask for more, so a sequential reader has at most one 128 KiB READ in flight beyond the one it
// waits for: throughput is 128 KiB per round trip through the daemon. A deeper window lets the kernel
// send several READs at once (up to max_background), which the daemon answers in parallel from chunks
// it already prefetches. The window is the mount's backing_dev_info setting, which only root may
// raise, after the mount exists. Measured with 1 ms reads: 185 -> 660 MB/s (notes/fuse-native.md).
// (A reader asking for 1 MiB at once, as dd bs=1M does, has that much in flight either way.)

import { stat, writeFile } from 'node:fs/promises'
import { canonicalMountpoint, readMounts } from './mountpoint.js'

/**
 * Readahead window set on every mount (KiB): eight 128 KiB READs in flight. Deeper (8 MiB) measured
 * slower for dfs: libfuse 2 keeps at most 10 idle threads and starts one per request beyond that.
 */
export const READ_AHEAD_KB = 1024

/**
 * Raise the kernel's readahead for the mount at `mountpoint` (the last one stacked there). Returns the
 * window set, or undefined where it cannot be (not root, no sysfs): the mount works either way, reads
 * are only shallower.
 *
 * Called by the process that serves the mount, once fuse-native says it is mounted: that is when
 * libfuse's init starts, before its INIT reply reaches the kernel, and the kernel caps the window at
 * what the reply asks for (128 KiB). Raised before the reply, the window fell back whenever the reply
 * came later (a busy machine). Every request waits until the kernel has taken the reply, so the
 * window is raised after a stat of the mount (asynchronous: the caller's thread answers it).
 */
export async function raiseReadahead(mountpoint: string, kb = READ_AHEAD_KB): Promise<number | undefined> {
  if (process.getuid?.() !== 0) return undefined
  await stat(mountpoint).catch(() => {})
  const where = await canonicalMountpoint(mountpoint)
  const device = (await readMounts().catch(() => [])).filter(e => e.mountpoint === where).pop()?.device
  if (!device) return undefined
  try {
    await writeFile(`/sys/class/bdi/${device}/read_ahead_kb`, `${kb}\n`)
    return kb
  } catch {
    return undefined
  }
}
