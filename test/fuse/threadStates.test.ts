// libfuse 2 starts a thread whenever none is idle and ends one whenever more than 10 are, so bursts
// of requests start and end threads all the time (hundreds during a 1 GiB read). The binding keeps a
// state per thread that includes a wake-up handle on the JavaScript thread's loop, and libuv looks at
// every such handle on each wake-up: made anew for every thread, they piled up and cost the
// JavaScript thread for the rest of the mount. A thread takes the state of one that ended instead
// (native-notes/README.md). Counted on a real mount, reached by child processes.

import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FileSystem } from '../../src/fs/FileSystem.js'
import type { Mounted } from '../../src/fuse/mount.js'
import { mountHearingCommits } from './mountHearingCommits.js'
import { sh } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

const READERS = 24
const BURSTS = 3

describe('the binding\'s per-thread states', () => {
  const dir = makeTempDir('dfs-threads-')
  const mnt = join(dir.path, 'mnt')
  let fs: FileSystem
  let mounted: Mounted | undefined

  beforeAll(async () => {
    await mkdir(mnt)
    ;({ fs, mounted } = await mountHearingCommits(mnt))
  })

  afterAll(async () => {
    await mounted?.unmount()
    await dir.cleanup()
  })

  it('are taken over from threads libfuse ended: bursts of slow reads start threads again and again, not states', async () => {
    const files = BURSTS * READERS
    const made = await sh(`cd ${mnt} && for i in $(seq 1 ${files}); do echo "file $i" > f$i; done`)
    expect(made.code, made.stderr).toBe(0)
    // A burst's READs are answered together once all of them wait (or after a generous while), so
    // its readers hold a libfuse thread each at once; between bursts, libfuse ends all but 10.
    const read = fs.read.bind(fs)
    const waiting: (() => void)[] = []
    const release = () => {
      for (const go of waiting.splice(0)) go()
    }
    let deadline: NodeJS.Timeout | undefined
    fs.read = async (fh, out, position) => {
      await new Promise<void>(resolve => {
        waiting.push(resolve)
        if (waiting.length >= READERS) release()
        else if (waiting.length === 1) deadline = setTimeout(release, 30_000)
      })
      if (waiting.length === 0) clearTimeout(deadline)
      return read(fh, out, position)
    }
    const before = mounted!.bindingCounters()
    for (let burst = 0; burst < BURSTS; burst++) {
      const first = burst * READERS + 1
      const r = await sh(`cd ${mnt} && for i in $(seq ${first} ${first + READERS - 1}); do cat f$i > ${dir.path}/out$i & done; wait
        for i in $(seq ${first} ${first + READERS - 1}); do [ "$(cat ${dir.path}/out$i)" = "file $i" ] || { echo "f$i read wrong"; exit 1; }; done`)
      expect(r.code, r.stdout + r.stderr).toBe(0)
    }
    const after = mounted!.bindingCounters()
    const threads = after.threads - before.threads
    const statesMade = after.threadStatesMade - before.threadStatesMade
    // The first burst needs more threads than libfuse keeps idle; the later ones start them again.
    expect(threads).toBeGreaterThan(READERS)
    // Made only when no ended thread's state was free: never more than were in use at once (the
    // readers, and a few for the shell that starts them). Without reuse: one per thread started.
    expect(statesMade).toBeLessThanOrEqual(READERS + 4)
    expect(threads - statesMade).toBeGreaterThanOrEqual(READERS - 11)
  })
})
