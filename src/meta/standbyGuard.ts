// The one rule that keeps a standby's metadata folder (standbyMark.ts) from being opened as a primary
// by accident: every command that would write to a metadata folder as its owner (a mount, a NameNode,
// fsck --repair) asks here first, before it writes anything. Only `dfs namenode --promote` may open
// a standby's folder for writing; looking (fsck without --repair, meta dump) is always allowed.

import { dfsError } from '../errors.js'
import { checkFolderUnlocked } from '../util/folderLock.js'
import { META_LOCK } from './lock.js'
import { inspectMetaFolder } from './metaFormat.js'
import { STANDBY_FILE, readStandbyMark } from './standbyMark.js'

/** Refuse, writing nothing, a standby's folder; `shownAs` is the folder as the user gave it. */
export async function checkNotStandby(dir: string, shownAs = dir): Promise<void> {
  const mark = await readStandbyMark(dir)
  if (!mark) return
  throw dfsError('STANDBY_FOLDER',
    `metadata folder ${shownAs} is a standby of ${mark.primary}: it follows that NameNode and must not be opened as a primary; ` +
    `to keep following, dfs namenode --meta ${shownAs} --standby-of ${mark.primary} --secret-file <f>; ` +
    `to take over from it, dfs namenode --meta ${shownAs} --promote --listen <host:port> --secret-file <f>`,
    { meta: shownAs, primary: mark.primary })
}

/**
 * What `dfs namenode --promote` may take over: a standby's folder, which its standby process has let
 * go. Returns the primary it followed.
 */
export async function checkPromotable(dir: string, shownAs = dir): Promise<string> {
  const format = await inspectMetaFolder(dir)
  const mark = format ? await readStandbyMark(dir) : undefined
  if (!mark) {
    throw dfsError('BAD_ARGUMENT',
      `metadata folder ${shownAs} is not a standby's (${format ? `no ${STANDBY_FILE}` : 'no dfs cluster in it'}): --promote takes over from a standby (dfs namenode --standby-of); ` +
      `${format ? 'start this folder\'s NameNode without --promote' : 'pass the standby\'s --meta folder'}`,
      { meta: shownAs })
  }
  await checkFolderUnlocked(dir, { ...META_LOCK, howToStop: `it is the standby of ${mark.primary}: stop it first (SIGTERM), then promote` })
  return mark.primary
}
