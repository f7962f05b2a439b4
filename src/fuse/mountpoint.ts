// Is a folder fit to mount on? And is something mounted there now? Read from /proc/self/mountinfo,
// asynchronously, because a stale FUSE mount answers stat with ENOTCONN (and a live one of ours must
// never be touched synchronously from the process serving it).

import { readFile, readdir, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { dfsError } from '../errors.js'

export interface MountEntry {
  mountpoint: string
  fstype: string
  source: string
}

export async function mountsAt(mountpoint: string): Promise<MountEntry[]> {
  const target = resolve(mountpoint)
  const text = await readFile('/proc/self/mountinfo', 'utf8')
  const found: MountEntry[] = []
  for (const line of text.split('\n')) {
    const fields = line.split(' ')
    const dash = fields.indexOf('-')
    if (dash < 0) continue
    const point = unescapeMountField(fields[4])
    if (point === target) found.push({ mountpoint: point, fstype: fields[dash + 1], source: fields[dash + 2] })
  }
  return found
}

function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

export const isDfsMount = (entry: MountEntry) => entry.fstype === 'fuse.dfs'

/**
 * Checks a mount point before mounting: it must exist, be a directory and be empty, and nothing may
 * be mounted there. A stale dfs mount (its daemon died) is fine: mounting recovers it.
 */
export async function checkMountpoint(mountpoint: string): Promise<void> {
  const mounts = await mountsAt(mountpoint)
  if (mounts.length > 0) {
    const stale = mounts.every(isDfsMount) && await isDisconnected(mountpoint)
    if (stale) return
    const top = mounts[mounts.length - 1]
    // Only a dfs mount is dfs unmount's to undo; for anything else the user's own umount is the fix.
    const unmount = isDfsMount(top) ? `dfs unmount ${mountpoint}` : `umount ${mountpoint}, if nothing needs it`
    throw dfsError('MOUNTPOINT_INVALID',
      `${mountpoint} is already mounted (${top.fstype}); pick another folder, or unmount it first (${unmount})`,
      { mountpoint, fstype: top.fstype })
  }
  let info
  try {
    info = await stat(mountpoint)
  } catch {
    throw dfsError('MOUNTPOINT_INVALID', `mount point ${mountpoint} does not exist; create it with: mkdir -p ${mountpoint}`, { mountpoint })
  }
  if (!info.isDirectory()) {
    throw dfsError('MOUNTPOINT_INVALID', `mount point ${mountpoint} is not a directory; pass an empty folder`, { mountpoint })
  }
  if ((await readdir(mountpoint)).length > 0) {
    throw dfsError('MOUNTPOINT_INVALID', `mount point ${mountpoint} is not empty; pass an empty folder so nothing in it is hidden`, { mountpoint })
  }
}

async function isDisconnected(mountpoint: string): Promise<boolean> {
  try {
    await stat(mountpoint)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOTCONN'
  }
}
