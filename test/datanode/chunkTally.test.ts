// The running totals of a node folder, counted in the background after open while puts and deletes
// go on (src/datanode/chunkTally.ts). The count of each subfolder is a promise the test settles, so
// every interleaving below is the one the test chose.

import { describe, expect, it } from 'vitest'
import { ChunkTally, type TallyDelta } from '../../src/datanode/chunkTally.js'

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

  it('ends its first count early when a count fails or it is stopped: what it has stays, and changes count as they come', async () => {
    const failing = controlled()
    failing.counts.get('a')?.resolve({ bytes: 1, chunks: 1 })
    await turns()
    failing.counts.get('a')!.resolve({ bytes: 1, chunks: 1 })
    await turns()
    failing.counts.get('b')!.reject(new Error('the folder is gone'))
    await failing.tally.counted
    expect(failing.tally.counting).toBe(false)
    expect(failing.started).toEqual(['a', 'b']) // 'c' never counted
    await failing.tally.change('c', async () => ({ bytes: 4, chunks: 1 }))
    expect([failing.tally.bytes, failing.tally.chunks]).toEqual([5, 2])

    const stopped = controlled()
    await turns()
    stopped.tally.stop()
    stopped.counts.get('a')!.resolve({ bytes: 9, chunks: 9 })
    await stopped.tally.counted
    expect(stopped.started).toEqual(['a'])
    expect(stopped.tally.counting).toBe(false)
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
})
