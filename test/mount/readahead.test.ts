// A mounted dfs reads ahead further than the kernel's 128 KiB default (src/fuse/readahead.ts): the
// window is the mount's backing_dev_info setting, raised once mounted (root only).

import { readFileSync, realpathSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { READ_AHEAD_KB } from '../../src/fuse/readahead.js'
import { stopAllAfterAll } from '../helpers/mount.js'
import { mountFresh } from './fixtures.js'

stopAllAfterAll()

/** major:minor of the mount at `mnt`, from /proc/self/mountinfo. */
function deviceOf(mnt: string): string | undefined {
  let found: string | undefined
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ')
    if (f[4] === mnt) found = f[2]
  }
  return found
}

describe('readahead of a mount', () => {
  it.runIf(process.getuid?.() === 0)('is raised to READ_AHEAD_KB once mounted', async () => {
    const m = await mountFresh()
    const device = deviceOf(realpathSync(m.mnt))
    expect(device, 'the mount in /proc/self/mountinfo').toBeDefined()
    expect(Number(readFileSync(`/sys/class/bdi/${device}/read_ahead_kb`, 'utf8'))).toBe(READ_AHEAD_KB)
  })
})
