// What a journal write costs in system calls, counted (speed itself is a bench figure): records
// appended in one turn of the event loop share one write, and the lock check before each write is
// one stat of the lock record while that record stays the one this process wrote.

import * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { LOCK_FILE } from '../../src/meta/lock.js'
import { openKv, tempDir } from './kv.js'

/** Every call of the functions the journal and the lock use, with its path (handles: the file they were opened on). */
const calls: Array<{ fn: string; path: string }> = []

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>()
  const counted = <F extends (...args: never[]) => unknown>(fn: string, f: F) =>
    ((...args: Parameters<F>) => {
      calls.push({ fn, path: String(args[0]) })
      return f(...args)
    }) as F
  return {
    ...actual,
    stat: counted('stat', actual.stat),
    readFile: counted('readFile', actual.readFile),
    open: async (path: string, ...rest: unknown[]) => {
      const handle = await (actual.open as (...a: unknown[]) => Promise<fsp.FileHandle>)(path, ...rest)
      for (const method of ['write', 'writeFile'] as const) {
        const original = handle[method].bind(handle) as (...a: unknown[]) => unknown
        ;(handle as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
          calls.push({ fn: 'write', path })
          return original(...args)
        }
      }
      return handle
    },
  }
})

/** A store whose periodic flush never falls due within a test: every write counted is one the test caused. */
const openQuiet = (dir: string) => openKv(dir, { create: { settings: { replicas: 2 } }, flushIntervalMs: 600_000 })

const count = (fn: string, path: (p: string) => boolean) => calls.filter((c) => c.fn === fn && path(c.path)).length
const isJournal = (p: string) => /journal-\d+\.log$/.test(p)

describe('journal writes', () => {
  beforeEach(() => {
    calls.length = 0
  })
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('writes the records appended in one turn, across awaits, in one write', async () => {
    const store = await openQuiet(await tempDir())
    for (let i = 0; i < 10; i++) store.commit({ op: 'set', key: `a${i}`, value: i })
    // A request's records reach the journal after awaits of its own (a promise chain, one turn).
    for (let i = 0; i < 10; i++) {
      await Promise.resolve()
      store.commit({ op: 'set', key: `b${i}`, value: i })
    }
    await store.sync()
    expect(count('write', isJournal)).toBe(1)
    expect(store.state.size).toBe(20)
  })

  it('writes the records of many turns in one group: nothing is written before the delay or a sync', async () => {
    const store = await openQuiet(await tempDir())
    // The delay never runs out here: only the sync writes.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      for (let i = 0; i < 10; i++) {
        store.commit({ op: 'set', key: `k${i}`, value: i })
        await new Promise((resolve) => setImmediate(resolve))
      }
      expect(count('write', isJournal)).toBe(0)
      await store.sync()
      expect(count('write', isJournal)).toBe(1)
      // Records nobody syncs are written once the delay runs out.
      store.commit({ op: 'set', key: 'later', value: 1 })
      await new Promise((resolve) => setImmediate(resolve))
      expect(count('write', isJournal)).toBe(1)
      await vi.advanceTimersByTimeAsync(1000)
      await vi.waitFor(() => expect(count('write', isJournal)).toBe(2))
    } finally {
      vi.useRealTimers()
    }
  })

  it('checks the lock before each write with one stat of its record while the record is unchanged, and reads it whole otherwise', async () => {
    const dir = await tempDir()
    const lockFile = join(dir, LOCK_FILE)
    const store = await openQuiet(dir)
    // The clock stands still: the once-a-second full check never falls due within the test.
    vi.spyOn(performance, 'now').mockReturnValue(1_000_000)
    calls.length = 0
    for (let i = 0; i < 10; i++) {
      store.commit({ op: 'set', key: `k${i}`, value: i })
      await store.sync()
    }
    expect(count('write', isJournal)).toBe(10)
    expect(count('readFile', (p) => p === lockFile), 'the record read whole').toBe(1)
    expect(count('stat', (p) => p === dir), 'the folder itself').toBe(1)
    expect(count('stat', (p) => p === lockFile)).toBe(10)

    // Another process takes the folder over: its record replaces this one, and the next write stops.
    await fsp.unlink(lockFile)
    await fsp.writeFile(lockFile, JSON.stringify({ pid: 4242, hostname: 'elsewhere', startedAt: 'now', token: 'theirs' }))
    store.commit({ op: 'set', key: 'late', value: 1 })
    const failed = await store.sync().catch((err: unknown) => err)
    expect(String(failed)).toContain('taken over by process 4242')
    expect(count('write', isJournal)).toBe(10)
  })

  it('reads the record whole again once a second, unchanged or not', async () => {
    const dir = await tempDir()
    const lockFile = join(dir, LOCK_FILE)
    const store = await openQuiet(dir)
    let now = 1_000_000
    vi.spyOn(performance, 'now').mockImplementation(() => now)
    calls.length = 0
    for (let i = 0; i < 6; i++) {
      store.commit({ op: 'set', key: `k${i}`, value: i })
      await store.sync()
      now += 400
    }
    // Writes at 0, 400, 800 ms read it once; 1,200 reads it again; 1,600 and 2,000 do not.
    expect(count('readFile', (p) => p === lockFile)).toBe(2)
  })
})
