// The healer runs many small repairs at once and only a few large ones: the workers bound the count,
// RepairMemory the chunk bytes held together.

import { describe, expect, it } from 'vitest'
import { ChunkLocks } from '../../../src/cluster/chunkLocks.js'
import { HealerCounts } from '../../../src/cluster/healer/HealerCounts.js'
import { RepairHints } from '../../../src/cluster/healer/RepairHints.js'
import { RepairMemory } from '../../../src/cluster/healer/RepairMemory.js'
import type { RepairItem } from '../../../src/cluster/healer/RepairQueue.js'
import { RepairWorkers } from '../../../src/cluster/healer/RepairWorkers.js'
import { silentLog } from '../../../src/log/Log.js'

const MiB = 1024 * 1024
/** Every promise chain that can move has moved. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('RepairMemory', () => {
  it('lets repairs in while their bytes fit, then in the order they asked', async () => {
    const memory = new RepairMemory(10)
    const entered: string[] = []
    const enter = (name: string, bytes: number) => memory.enter(bytes).then(() => entered.push(name))
    void enter('a', 4)
    void enter('b', 4)
    void enter('c', 4) // does not fit beside a and b
    void enter('d', 1) // would fit, but c asked first
    await settle()
    expect(entered).toEqual(['a', 'b'])
    expect(memory.held).toBe(8)
    memory.leave(4)
    await settle()
    expect(entered).toEqual(['a', 'b', 'c', 'd'])
    expect(memory.held).toBe(9)
  })

  it('lets a repair larger than the whole budget in alone, once nothing else is held', async () => {
    const memory = new RepairMemory(10)
    await memory.enter(3)
    let bigIn = false
    const big = memory.enter(50).then(() => { bigIn = true })
    await settle()
    expect(bigIn).toBe(false)
    memory.leave(3)
    await big
    expect(memory.held).toBe(50)
    let smallIn = false
    const small = memory.enter(1).then(() => { smallIn = true })
    await settle()
    expect(smallIn).toBe(false)
    memory.leave(50)
    await small
    expect(memory.held).toBe(1)
  })
})

describe('RepairWorkers within RepairMemory', () => {
  it('runs up to `concurrency` small repairs at once, and large ones only as many as the bytes allow', async () => {
    const running = new Map<string, RepairItem>()
    let mostSmall = 0
    let mostBytes = 0
    const finishers: (() => void)[] = []
    const workers = new RepairWorkers({
      concurrency: 16,
      memory: new RepairMemory(32 * MiB),
      locks: new ChunkLocks(),
      counts: new HealerCounts(),
      hints: new RepairHints(),
      log: silentLog,
      repair: async (item) => {
        running.set(item.id, item)
        const items = [...running.values()]
        mostSmall = Math.max(mostSmall, items.filter((i) => i.bytes < MiB).length)
        mostBytes = Math.max(mostBytes, items.reduce((sum, i) => sum + i.bytes, 0))
        await new Promise<void>((resolve) => finishers.push(resolve))
        running.delete(item.id)
      },
      rescan: () => {},
      stopped: () => false,
    })
    const items: RepairItem[] = []
    for (let i = 0; i < 20; i++) items.push({ id: `large-${i}`, ino: 2, index: i, good: 1, bytes: 4 * MiB })
    for (let i = 0; i < 40; i++) items.push({ id: `small-${i}`, ino: 3 + i, index: 0, good: 1, bytes: 4096 })
    workers.add(items)
    // Finish repairs one at a time, oldest first, until every item has been repaired.
    let done = 0
    while (done < items.length) {
      await settle()
      const finish = finishers.shift()
      if (!finish) throw new Error(`stuck with ${items.length - done} repairs left`)
      finish()
      done++
    }
    await workers.idle()
    expect(mostBytes).toBeLessThanOrEqual(32 * MiB)
    expect(mostBytes).toBeGreaterThanOrEqual(28 * MiB) // the budget was used, not one at a time
    expect(mostSmall).toBe(16)
  })
})
