// The healer repairs many small chunks at once and only a few large ones, always starting from the
// head of its queue (fewest copies first), and starts nothing once stopped.

import { describe, expect, it } from 'vitest'
import { ChunkLocks } from '../../../src/cluster/chunkLocks.js'
import { HealerCounts } from '../../../src/cluster/healer/HealerCounts.js'
import { RepairHints } from '../../../src/cluster/healer/RepairHints.js'
import type { RepairItem } from '../../../src/cluster/healer/RepairQueue.js'
import { LARGE_CHUNK_BYTES, RepairWorkers } from '../../../src/cluster/healer/RepairWorkers.js'
import { type Log, levelled, silentLog } from '../../../src/log/Log.js'
import { RepairQueue } from '../../../src/cluster/healer/RepairQueue.js'

const MiB = 1024 * 1024

/** Workers whose repairs run until the test finishes them, one by one. */
function heldWorkers(bounds: { concurrency: number; largeConcurrency: number }, options: { log?: Log; onStart?: (item: RepairItem) => void } = {}) {
  const running = new Map<string, { item: RepairItem; finish: () => void }>()
  const started: string[] = []
  let stopped = false
  let most = 0
  const workers: RepairWorkers = new RepairWorkers({
    ...bounds,
    locks: new ChunkLocks(),
    counts: new HealerCounts(),
    hints: new RepairHints(),
    log: options.log ?? silentLog,
    repair: (item) => new Promise<void>((finish) => {
      started.push(item.id)
      workers.pass!.restored++ // a pass that did something logs its line
      running.set(item.id, { item, finish })
      most = Math.max(most, running.size)
      options.onStart?.(item)
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
    /** The most repairs that ran at once. */
    most: () => most,
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

  it('ends one pass when the last repair ends, not each time none runs for a moment with work queued', async () => {
    const lines: string[] = []
    const w = heldWorkers({ concurrency: 1, largeConcurrency: 1 }, { log: levelled((message: string) => { lines.push(message) }) })
    w.workers.add(Array.from({ length: 5 }, (_, i) => small(`s${i}`)))
    for (let i = 0; i < 5; i++) await w.finish(`s${i}`)
    await w.workers.idle()
    expect(lines.filter((line) => line.includes('pass done'))).toHaveLength(1)
  })

  it('counts a repair against `concurrency` from its first step, even if that step queues more work', async () => {
    let w: ReturnType<typeof heldWorkers> | undefined
    let more = 0
    w = heldWorkers({ concurrency: 2, largeConcurrency: 2 }, {
      // A repair that finds more to do at once (nothing does today; the bound must not depend on it).
      onStart: () => { if (more < 3) w!.workers.add([small(`more${more++}`)]) },
    })
    w.workers.add([small('a'), small('b')])
    expect(w.most()).toBe(2)
    while (w.running.size > 0) await w.finish([...w.running.keys()][0]!)
    expect(w.most()).toBe(2)
    expect(w.started).toHaveLength(5)
  })
})

describe('RepairQueue', () => {
  it('serves as a plain model does through adds, moves up, deletes and shifts (served from arrays)', () => {
    // A model: every queued item with its level and arrival number; served by (level, arrival).
    let seed = 7
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
    const queue = new RepairQueue()
    const model = new Map<string, { level: number; at: number }>()
    let at = 0
    const expected = () => [...model.entries()].sort(([, x], [, y]) => x.level - y.level || x.at - y.at)[0]?.[0]
    for (let step = 0; step < 20_000; step++) {
      const op = random(10)
      const id = `c${random(3000)}`
      if (op < 5) {
        const good = random(4)
        queue.add({ id, ino: 1, index: 0, good, bytes: 0 })
        const was = model.get(id)
        if (!was || was.level > good) model.set(id, { level: good, at: at++ })
      } else if (op < 7) {
        queue.delete(id)
        model.delete(id)
      } else {
        const first = expected()
        expect(queue.shift()?.id).toBe(first)
        if (first) model.delete(first)
      }
      expect(queue.size).toBe(model.size)
    }
    expect(queue.countBelow(2)).toBe([...model.values()].filter((e) => e.level < 2).length)
    while (model.size > 0) {
      const first = expected()!
      expect(queue.peek()?.id).toBe(first)
      expect(queue.shift()?.id).toBe(first)
      model.delete(first)
    }
    expect(queue.shift()).toBeUndefined()
  })
})
