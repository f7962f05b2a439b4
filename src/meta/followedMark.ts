// followed.json: a standby has followed the NameNode of this metadata folder (the primary's side;
// standby.json is the standby's). A standby's folder outlives the connection it was fed on, and the
// primary process that fed it: a primary restarted on this folder has no standby attached yet, but
// one may be waiting to reconnect, or be promoted. So while no standby is caught up, a primary whose
// folder carries this mark acknowledges an fsync only once the DataNodes' seq watermark says how far
// its journal got (namenode/standbyLink.ts), and that standby's promotion refuses to lose it. Written
// before the first standby gets its snapshot; never removed (a folder that had a standby may again).
//
//   { format: 1, kind: 'dfs-followed', since }

import { join } from 'node:path'
import { readTextIfExists, replaceFile } from '../util/files.js'

export const FOLLOWED_FILE = 'followed.json'

/** Whether a standby ever followed this folder's NameNode (an unreadable mark counts as yes: the safe side). */
export async function wasFollowed(dir: string): Promise<boolean> {
  return (await readTextIfExists(join(dir, FOLLOWED_FILE))) !== undefined
}

export async function markFollowed(dir: string): Promise<void> {
  await replaceFile(join(dir, FOLLOWED_FILE), `${JSON.stringify({ format: 1, kind: 'dfs-followed', since: new Date().toISOString() }, null, 2)}\n`)
}
