// The stat and statfs shapes the file system hands to its edge (plain numbers, times in ms).

import { type Inode, isDir, isFile } from '../meta/namespace/types.js'

export interface Stat {
  ino: number
  mode: number
  uid: number
  gid: number
  size: number
  nlink: number
  rdev: number
  blksize: number
  blocks: number
  atime: number
  mtime: number
  ctime: number
}

export interface StatFs {
  bsize: number
  frsize: number
  blocks: number
  bfree: number
  bavail: number
  files: number
  ffree: number
  favail: number
  namemax: number
}

/** Preferred I/O size: FUSE's largest write (128 KiB), so `cp` and friends use big buffers. */
export const IO_BLOCK = 128 * 1024

/** What writes have changed ahead of the journal for an open file. */
export interface Overlay {
  size: number
  mtime: number
  ctime: number
}

/**
 * Bytes stored for a chunk map, summed once per map: maps are frozen and replaced on every change, so
 * a stat of a file of a million chunks is a lookup, not a walk of its map.
 */
const storedBytes = new WeakMap<readonly unknown[], number>()

function storedOf(chunks: Inode['chunks']): number {
  if (!chunks || chunks.length === 0) return 0
  let sum = storedBytes.get(chunks)
  if (sum === undefined) {
    sum = chunks.reduce((total, ref) => total + (ref?.len ?? 0), 0)
    if (Object.isFrozen(chunks)) storedBytes.set(chunks, sum)
  }
  return sum
}

export function toStat(inode: Inode, overlay?: Overlay): Stat {
  const size = isDir(inode) ? 4096 : overlay?.size ?? inode.size
  // Blocks count what is stored, so sparse files look sparse to du and tar; open files may hold
  // unstored bytes, so count their whole size.
  const stored = isFile(inode) && !overlay ? storedOf(inode.chunks) : size
  return {
    ino: inode.ino,
    mode: inode.mode,
    uid: inode.uid,
    gid: inode.gid,
    size,
    nlink: inode.nlink,
    rdev: inode.rdev,
    blksize: IO_BLOCK,
    blocks: Math.ceil(stored / 512),
    atime: inode.atime,
    mtime: overlay?.mtime ?? inode.mtime,
    // The later of the two: writes move the open file's, namespace changes (link, rename...) the inode's.
    ctime: Math.max(overlay?.ctime ?? 0, inode.ctime),
  }
}
