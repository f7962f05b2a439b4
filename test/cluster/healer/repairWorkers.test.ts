// The healer repairs many small chunks at once and only a few large ones, always starting from the
// head of its queue (fewest copies first), and starts nothing once stopped.

import { describe, expect, it } from 'vitest'
import { ChunkLocks } from '../../../src/cluster/chunkLocks.js'
import { HealerCounts } from '../../../src/cluster/healer/HealerCounts.js'
import { RepairHints } from '../../../src/cluster/healer/RepairHints.js'
import type { RepairItem } from '../../../src/cluster/healer/RepairQueue.js'
import { LARGE_CHUNK_BYTES, RepairWorkers } from '../../../src/cluster/healer/RepairWorkers.js'
import { silentLog } from '../../../src/log/Log.js'

const MiB = 1024 * 1024

/** Workers whose repairs run until the test finishes them, one by one. */
function heldWorkers(bounds: { concurrency: number; largeConcurrency: number }) {
  const running = new Map<string, { item: RepairItem; finish: () => void }>()
  const started: string[] = []
  let stopped = false
  const workers = new RepairWorkers({
    ...bounds,
    locks: new ChunkLocks(),
    counts: new HealerCounts(),
    hints: new RepairHints(),
    log: silentLog,
    repair: (item) => new Promise<void>((finish) => {
      started.push(item.id)
      running.set(item.id, { item, finish })
    }),
    rescan: () => {},
    stopped: () => stopped,
  })
  return {
    workers,
    running,
    started,
    stop: () => { stopped = true },
    /** Finish the repair of `id` and let whatever it starts start. */
    async finish(id: string) {
      const repair = running.get(id)
      if (!repair) throw new Error(`${id} is not being repaired`)
      running.delete(id)
      repair.finish()
      await new Promise((resolve) => setImmediate(resolve))
    },
    large: () => [...running.values()].filter((r) => r.item.bytes >= LARGE_CHUNK_BYTES).length,
  }
}

const large = (name: string, good = 1): RepairItem => ({ id: name, ino: 2, index: 0, good, bytes: 4 * MiB })
const small = (name: string, good = 1): RepairItem => ({ id: name, ino: 3, index: 0, good, bytes: 4096 })

describe('RepairWorkers', () => {
  it('runs up to `concurrency` small chunks at once, and of large ones only `largeConcurrency`', async () => {
    const w = heldWorkers({ concurrency: 6, largeConcurrency: 2 })
    w.workers.add([small('s1'), small('s2'), small('s3'), large('L1'), large('L2'), large('L3'), small('s4'), small('s5')])
    // s1-s3, L1 and L2 start; L3 is next and waits for a large one to end; s4 and s5 wait behind it.
    expect(w.started).toEqual(['s1', 's2', 's3', 'L1', 'L2'])
    await w.finish('s1')
    expect(w.started).toEqual(['s1', 's2', 's3', 'L1', 'L2'])
    await w.finish('L1')
    expect(w.started).toEqual(['s1', 's2', 's3', 'L1', 'L2', 'L3', 's4', 's5'])
    expect(w.large()).toBe(2)
    expect(w.running.size).toBe(6)
    for (const id of [...w.running.keys()]) await w.finish(id)
    await w.workers.idle()
    expect(w.workers.busy).toBe(false)
  })

  it('starts a chunk with fewer copies, queued while all ran, before those queued earlier with more', async () => {
    const w = heldWorkers({ concurrency: 2, largeConcurrency: 2 })
    w.workers.add([small('a'), small('b'), small('c'), small('d')])
    w.workers.add([small('urgent', 0)])
    expect(w.started).toEqual(['a', 'b'])
    await w.finish('a')
    expect(w.started).toEqual(['a', 'b', 'urgent'])
    for (const id of ['b', 'urgent', 'c', 'd']) await w.finish(id)
    expect(w.started).toEqual(['a', 'b', 'urgent', 'c', 'd'])
  })

  it('starts no repair once stopped, and idle() waits only for those running', async () => {
    const w = heldWorkers({ concurrency: 2, largeConcurrency: 1 })
    w.workers.add([large('L1'), large('L2'), small('s1')])
    expect(w.started).toEqual(['L1'])
    w.stop()
    const idle = w.workers.idle()
    await w.finish('L1')
    await idle
    expect(w.started).toEqual(['L1'])
    expect(w.workers.working).toBe(false)
  })
})
