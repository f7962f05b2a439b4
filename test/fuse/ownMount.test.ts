// Telling the daemon's own mount from the others in the mount table (src/fuse/ownMount.ts), with the
// table given by the test. The kernel hands a freed mount id to the very next mount, wherever it is
// (`mount -t tmpfs` at /a, umount, mount at /b: both are id 45 on 0:40), so after `fusermount -u`
// our old id can name another mount before the detach watch looks.

import { describe, expect, it } from 'vitest'
import type { MountEntry } from '../../src/fuse/mountpoint.js'
import { ownMount } from '../../src/fuse/ownMount.js'

const MNT = '/tmp/dfs-x/mnt'
const entry = (id: number, mountpoint: string, fstype = 'fuse.dfs'): MountEntry => ({ id, mountpoint, fstype, source: fstype === 'fuse.dfs' ? 'dfs' : 'none' })
const ROOT = entry(1, '/', 'ext4')

/** A mount table that reads as the test last set it. */
function table(...mounts: MountEntry[]) {
  let now = mounts
  return { read: async () => now, set: (...next: MountEntry[]) => { now = next } }
}

describe('the daemon\'s own mount', () => {
  it('is present while mounted and gone after an unmount from outside', async () => {
    const t = table(ROOT, entry(45, MNT))
    const own = await ownMount(MNT, t.read)
    expect(await own.present()).toBe(true)
    t.set(ROOT)
    expect(await own.present()).toBe(false)
  })

  it('is gone even when a mount elsewhere got its id', async () => {
    const t = table(ROOT, entry(45, MNT))
    const own = await ownMount(MNT, t.read)
    t.set(ROOT, entry(45, '/tmp/other', 'tmpfs'))
    expect(await own.present()).toBe(false)
    t.set(ROOT, entry(45, '/tmp/dfs-y/mnt')) // another dfs daemon's mount
    expect(await own.present()).toBe(false)
  })

  it('is gone when a later mount at the same place has another id', async () => {
    const t = table(ROOT, entry(45, MNT))
    const own = await ownMount(MNT, t.read)
    t.set(ROOT, entry(46, MNT))
    expect(await own.present()).toBe(false)
  })

  it('is the top one of mounts stacked there', async () => {
    const t = table(ROOT, entry(44, MNT), entry(45, MNT))
    const own = await ownMount(MNT, t.read)
    t.set(ROOT, entry(44, MNT))
    expect(await own.present()).toBe(false)
  })

  it('not in the table yet counts as present, and is looked for again', async () => {
    const t = table(ROOT)
    const own = await ownMount(MNT, t.read)
    expect(await own.present()).toBe(true)
    t.set(ROOT, entry(45, MNT))
    expect(await own.present()).toBe(true)
    t.set(ROOT, entry(45, '/tmp/other', 'tmpfs'))
    expect(await own.present()).toBe(false)
  })
})
