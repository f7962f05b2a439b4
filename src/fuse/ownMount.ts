// Is the mount this daemon made still in the mount table? Asked every second by the detach watch (an
// unmount from outside dfs) and before dfs unmounts it itself.
//
// The kernel gives a freed mount id to the next mount at once (the smallest free id; the anonymous
// device number too), whatever and wherever that mount is: after `fusermount -u`, a mount made
// elsewhere before the next look carries our old id. Matched by id alone, that mount kept the daemon
// running for as long as it lived. So the mount is known by its id together with its place and type.
// Left over: a new dfs mount on this same folder that got both numbers back within one look.

import { type MountEntry, isDfsMount, readMounts } from './mountpoint.js'

export interface OwnMount {
  /** Still mounted. Not found right after mounting (a busy machine): assumed there, and looked for again. */
  present(): Promise<boolean>
}

/**
 * Call right after mounting: the mount found now at `where` (the mount point as the table names it,
 * canonicalMountpoint), the last one if several are stacked, is ours; one made there later is not.
 */
export async function ownMount(where: string, read: () => Promise<MountEntry[]> = readMounts): Promise<OwnMount> {
  const find = (mounts: MountEntry[]) => mounts.filter(e => isDfsMount(e) && e.mountpoint === where).pop()
  let ours = find(await read())
  return {
    async present() {
      const mounts = await read()
      const known = (ours ??= find(mounts))
      return known === undefined || mounts.some(e => sameMount(e, known))
    },
  }
}

const sameMount = (a: MountEntry, b: MountEntry) => a.id === b.id && a.mountpoint === b.mountpoint && a.fstype === b.fstype
