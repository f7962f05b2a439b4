// The readahead window a mount sets (src/fuse/readahead.ts) must survive the kernel's handling of
// libfuse's INIT reply, which caps the window at what libfuse asks for (128 KiB). fuse-native reports
// a mount as made when libfuse's init starts, before that reply: a window raised then was lowered
// again whenever the reply came later (a busy machine), and reads stayed at 128 KiB per round trip.
// Here init is answered late on purpose.

import { readFileSync } from 'node:fs'
import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DfsFuse, fuseOptions } from '../../src/fuse/mount.js'
import { READ_AHEAD_KB } from '../../src/fuse/readahead.js'
import { findMount, forceUnmount } from '../helpers/mount.js'
import { makeTempDir } from '../helpers/tmp.js'

describe('the readahead window of a mount', () => {
  const dir = makeTempDir('dfs-ra-')
  const mnt = join(dir.path, 'mnt')
  let fuse: DfsFuse | undefined

  afterAll(async () => {
    if (fuse) await new Promise<void>(resolve => fuse!.unmount(() => resolve()))
    await forceUnmount(mnt).catch(() => {})
    await dir.cleanup()
  })

  it.runIf(process.getuid?.() === 0)('is raised once the kernel has taken libfuse\'s INIT reply, even when init is answered late', async () => {
    await mkdir(mnt)
    const now = new Date()
    const ops = {
      init: (cb: (code: number) => void) => { setTimeout(() => cb(0), 300) },
      getattr: (path: string, cb: (code: number, stat?: object) => void) => path === '/'
        ? cb(0, { mode: 0o40755, uid: 0, gid: 0, size: 4096, nlink: 2, mtime: now, atime: now, ctime: now })
        : cb(-2),
    }
    fuse = new DfsFuse(mnt, ops, fuseOptions({ name: 'ra-test' }))
    await new Promise<void>((resolve, reject) => fuse!.mount(err => (err ? reject(err) : resolve())))
    // findMount resolves only the folder the mount is in: nothing synchronous reaches the mount, which this thread answers
    const device = findMount(mnt)?.device
    // Any request waits for the kernel to take the INIT reply: read the window after one.
    await stat(mnt)
    expect(device, 'the mount in /proc/self/mountinfo').toBeDefined()
    expect(Number(readFileSync(`/sys/class/bdi/${device}/read_ahead_kb`, 'utf8'))).toBe(READ_AHEAD_KB)
  })
})
