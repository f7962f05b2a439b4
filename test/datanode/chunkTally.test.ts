// The running totals of a node folder, counted in the background after open while puts and deletes
// go on (src/datanode/chunkTally.ts). The count of each subfolder is a promise the test settles, so
// every interleaving below is the one the test chose.

import { describe, expect, it } from 'vitest'
import { COUNT_TRIES, ChunkTally, type TallyDelta, holdFirstCounts } from '../../src/datanode/chunkTally.js'

interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
  reject(err: Error): void
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (err: Error) => void
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)))
  return { promise, resolve, reject }
}

/** A tally of subfolders 'a', 'b', 'c' counted one at a time, each count waiting for the test to say what it found. */
function controlled() {
  const counts = new Map<string, Deferred<TallyDelta>>()
  const started: string[] = []
  const tally = new ChunkTally(['a', 'b', 'c'], (sub) => {
    started.push(sub)
    const d = deferred<TallyDelta>()
    counts.set(sub, d)
    return d.promise
  }, 1)
  return { tally, counts, started }
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

describe('ChunkTally', () => {
  it('adds a change in a subfolder not counted yet at once, then lets the count of that subfolder take its place', async () => {
    const { tally, counts } = controlled()
    expect(tally.counting).toBe(true)
    // 'b' and 'c' are not counted yet: a put of 10 bytes in 'c' and a delete of 5 in 'b'.
    await tally.change('c', async () => ({ bytes: 10, chunks: 1 }))
    await tally.change('b', async () => ({ bytes: -5, chunks: -1 }))
    expect([tally.bytes, tally.chunks]).toEqual([5, 0])
    counts.get('a')!.resolve({ bytes: 100, chunks: 3 })
    await turns()
    expect([tally.bytes, tally.chunks]).toEqual([105, 3])
    // 'b' held 2 chunks of 50 before the delete: its count finds what is left, 1 of 45.
    counts.get('b')!.resolve({ bytes: 45, chunks: 1 })
    await turns()
    // 'c' held nothing before the put: its count finds the put's chunk.
    counts.get('c')!.resolve({ bytes: 10, chunks: 1 })
    await tally.counted
    expect(tally.counting).toBe(false)
    expect([tally.bytes, tally.chunks]).toEqual([155, 5])
    // After the count, a change counts as it comes.
    await tally.change('a', async () => ({ bytes: 7, chunks: 1 }))
    expect([tally.bytes, tally.chunks]).toEqual([162, 6])
  })

  it('counts a subfolder only once the changes of it under way are done, and holds new ones until its count is', async () => {
    const { tally, counts, started } = controlled()
    await turns()
    expect(started).toEqual(['a'])
    counts.get('a')!.resolve({ bytes: 0, chunks: 0 })
    // A change of 'b' under way when its turn comes: the count waits for it.
    const put = deferred<TallyDelta>()
    const changing = tally.change('b', () => put.promise)
    await turns()
    expect(started).toEqual(['a']) // 'b' is next, and waits for the put
    put.resolve({ bytes: 20, chunks: 1 })
    await changing
    await turns()
    expect(started).toEqual(['a', 'b'])
    // While 'b' is counted, a new change of it waits: it must not fall between the count's look and its answer.
    let ran = false
    const later = tally.change('b', async () => {
      ran = true
      return { bytes: 1, chunks: 1 }
    })
    await turns()
    expect(ran).toBe(false)
    counts.get('b')!.resolve({ bytes: 20, chunks: 1 }) // finds the put
    await later
    expect(ran).toBe(true)
    counts.get('c')!.resolve({ bytes: 0, chunks: 0 })
    await tally.counted
    expect([tally.bytes, tally.chunks]).toEqual([21, 2])
  })

  it('counts a subfolder whose count failed again after the others, and gives up after COUNT_TRIES failures still saying counting', async () => {
    const once = controlled()
    await turns()
    once.counts.get('a')!.reject(new Error('EMFILE: too many open files'))
    await turns()
    await once.tally.change('a', async () => ({ bytes: 3, chunks: 1 })) // pending again: added at once
    once.counts.get('b')!.resolve({ bytes: 10, chunks: 1 })
    await turns()
    once.counts.get('c')!.resolve({ bytes: 20, chunks: 2 })
    await turns()
    expect(once.started).toEqual(['a', 'b', 'c', 'a'])
    once.counts.get('a')!.resolve({ bytes: 103, chunks: 4 }) // finds the change's chunk too
    await once.tally.counted
    expect(once.tally.counting).toBe(false)
    expect([once.tally.bytes, once.tally.chunks]).toEqual([133, 7])

    const never = controlled()
    for (let i = 0; i < COUNT_TRIES; i++) {
      await turns()
      if (i === 0) {
        never.counts.get('a')!.reject(new Error('the folder is gone'))
        await turns()
        never.counts.get('b')!.resolve({ bytes: 1, chunks: 1 })
        await turns()
        never.counts.get('c')!.resolve({ bytes: 1, chunks: 1 })
      } else never.counts.get('a')!.reject(new Error('the folder is gone'))
    }
    await never.tally.counted
    expect(never.started.filter(s => s === 'a')).toHaveLength(COUNT_TRIES)
    expect(never.tally.counting).toBe(true) // short of the whole: never taken for the truth
    await never.tally.change('a', async () => ({ bytes: 4, chunks: 1 }))
    expect([never.tally.bytes, never.tally.chunks]).toEqual([6, 3])
  })

  it('after a stop while a count waited for a change, later changes of that subfolder still count, and the totals say they are short', async () => {
    const { tally, started } = controlled()
    const put = deferred<TallyDelta>()
    const first = tally.change('a', () => put.promise)
    await turns() // the count of 'a' waits for the put
    tally.stop()
    put.resolve({ bytes: 5, chunks: 1 })
    await first
    await tally.counted
    await tally.change('a', async () => ({ bytes: 6, chunks: 1 }))
    expect(started).toEqual([])
    expect([tally.bytes, tally.chunks, tally.counting]).toEqual([11, 2, true])
  })

  it('stops counting when stopped (the node closes), and says the totals are short', async () => {
    const stopped = controlled()
    await turns()
    stopped.tally.stop()
    stopped.counts.get('a')!.resolve({ bytes: 9, chunks: 9 })
    await stopped.tally.counted
    expect(stopped.started).toEqual(['a'])
    expect(stopped.tally.counting).toBe(true)
  })

  it('never reports totals below zero while deletes of chunks not counted yet run ahead of the count', async () => {
    const { tally, counts } = controlled()
    await tally.change('c', async () => ({ bytes: -100, chunks: -2 }))
    expect([tally.bytes, tally.chunks]).toEqual([0, 0])
    counts.get('a')?.resolve({ bytes: 0, chunks: 0 })
    await turns()
    counts.get('b')!.resolve({ bytes: 0, chunks: 0 })
    await turns()
    counts.get('c')!.resolve({ bytes: 300, chunks: 3 })
    await tally.counted
    expect([tally.bytes, tally.chunks]).toEqual([300, 3])
  })

  it('holds back the first count of a tally made while a process holds counts (a mount starting up) until it lets go; changes count meanwhile', async () => {
    let release!: () => void
    holdFirstCounts(new Promise<void>((resolve) => (release = resolve)))
    const { tally, counts, started } = controlled()
    await tally.change('b', async () => ({ bytes: 8, chunks: 1 }))
    await turns()
    expect(started).toEqual([])
    expect([tally.bytes, tally.chunks, tally.counting]).toEqual([8, 1, true])
    release()
    await turns()
    expect(started).toEqual(['a'])
    counts.get('a')!.resolve({ bytes: 0, chunks: 0 })
    await turns()
    counts.get('b')!.resolve({ bytes: 18, chunks: 2 })
    await turns()
    counts.get('c')!.resolve({ bytes: 0, chunks: 0 })
    await tally.counted
    expect([tally.bytes, tally.chunks, tally.counting]).toEqual([18, 2, false])
  })
})
