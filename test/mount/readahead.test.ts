// A mounted dfs reads ahead further than the kernel's 128 KiB default (src/fuse/readahead.ts): the
// window is the mount's backing_dev_info setting, raised once mounted (root only).

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { READ_AHEAD_KB } from '../../src/fuse/readahead.js'
import { findMount, stopAllAfterAll } from '../helpers/mount.js'
import { mountFresh } from './fixtures.js'

stopAllAfterAll()

describe('readahead of a mount', () => {
  it.runIf(process.getuid?.() === 0)('is raised to READ_AHEAD_KB once mounted', async () => {
    const m = await mountFresh()
    const device = findMount(m.mnt)?.device
    expect(device, 'the mount in /proc/self/mountinfo').toBeDefined()
    expect(Number(readFileSync(`/sys/class/bdi/${device}/read_ahead_kb`, 'utf8'))).toBe(READ_AHEAD_KB)
  })
})
