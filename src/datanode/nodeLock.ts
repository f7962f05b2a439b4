// One writer per node folder: a `dfs datanode` serving it, or a mount (or fsck --repair) using it
// directly, holds the shared folder lock (util/folderLock.ts) while it runs. Two writers on one
// folder would each think they know its chunks and space, and one's orphan sweep would delete
// what the other just stored. Nothing is written into the folder for this: the kernel lock is
// enough on one host, and a rejected command leaves the folder exactly as it was.

import { resolve } from 'node:path'
import { type FolderLock, type LockKind, acquireFolderLock, checkFolderUnlocked } from '../util/folderLock.js'

export const NODE_LOCK: LockKind = {
  what: 'node folder',
  code: 'NODE_LOCKED',
  howToStop: 'stop that process first (a dfs datanode serving the folder, or a dfs mount using it); to share a served folder, mount it as tcp://host:port',
}

export function lockNodeFolder(dir: string): Promise<FolderLock> {
  return acquireFolderLock(resolve(dir), NODE_LOCK)
}

/** Refuse, writing nothing, a folder another process holds now. */
export function checkNodeFolderUnlocked(dir: string): Promise<void> {
  return checkFolderUnlocked(resolve(dir), NODE_LOCK)
}
