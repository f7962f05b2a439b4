// Exclusive use of a metadata folder: one daemon at a time may journal into it. The mechanism is
// the shared folder lock (util/folderLock.ts); here the folder also keeps a record file `lock`
// naming its holder, which the journal checks before every write (MetaStore).

import { type FolderLock, type LockKind, type LockOwner, acquireFolderLock, checkFolderUnlocked } from '../util/folderLock.js'

export const LOCK_FILE = 'lock'

export type { LockOwner }
export type MetaLock = FolderLock

export const META_LOCK: LockKind = {
  what: 'metadata folder',
  code: 'META_LOCKED',
  howToStop: 'unmount it first (dfs unmount <mountpoint>) or stop that process',
  recordFile: LOCK_FILE,
}

export function acquireLock(dir: string, log: (msg: string) => void = () => {}): Promise<MetaLock> {
  return acquireFolderLock(dir, META_LOCK, log)
}

/** Refuse, writing nothing, a metadata folder a live daemon holds now (checked before a command writes anything). */
export function checkMetaUnlocked(dir: string): Promise<void> {
  return checkFolderUnlocked(dir, META_LOCK)
}
