import { appendFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { type DfsError, isDfsError } from '../../src/errors.js'
import { SLICE_PIECES } from '../../src/meta/Checkpoint.js'
import { MetaStore } from '../../src/meta/MetaStore.js'
import { encodeRecord, listSegments } from '../../src/meta/journalFormat.js'
import { kv, openKv, setRange, tempDir } from './kv.js'

const existing = {} // open options for a folder that is already a metadata folder

async function openError(dir: string, options = existing): Promise<DfsError> {
  const err = await MetaStore.open(dir, kv, options).catch((e: unknown) => e)
  expect(isDfsError(err), String(err)).toBe(true)
  return err as DfsError
}

async function lastSegmentFile(dir: string): Promise<string> {
  return (await listSegments(dir)).at(-1)!.file
}

describe('MetaStore', () => {
  it('keeps committed records across a reopen', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    expect(store.lastSeq).toBe(0)
    expect(store.commit({ op: 'set', key: 'a', value: 1 })).toBe(1)
    expect(store.commit({ op: 'incr', key: 'a', by: 5 })).toBe(6)
    store.commit({ op: 'set', key: 'b', value: 'text' })
    store.commit({ op: 'del', key: 'b' })
    await store.close()
    await store.close() // twice is fine

    const format = JSON.parse(await readFile(join(dir, 'format.json'), 'utf8'))
    expect(format).toMatchObject({ format: 1, clusterId: store.clusterId, settings: { replicas: 2 } })

    const again = await openKv(dir, existing)
    expect(again.state).toEqual(new Map([['a', 6]]))
    expect(again.lastSeq).toBe(4)
    expect(again.clusterId).toBe(store.clusterId)
    expect(again.settings).toEqual({ replicas: 2 })
    expect(() => store.commit({ op: 'set', key: 'late', value: 1 })).toThrow(/closed/)
  })

  it('journals nothing when apply refuses a record', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    store.commit({ op: 'set', key: 'a', value: 'not a number' })
    expect(() => store.commit({ op: 'del', key: 'missing' })).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    expect(() => store.commit({ op: 'incr', key: 'a', by: 1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }))
    expect(store.lastSeq).toBe(1)
    await store.close()
    const again = await openKv(dir, existing)
    expect(again.lastSeq).toBe(1)
    expect(again.state).toEqual(new Map([['a', 'not a number']]))
  })

  it('checkpoints, keeps committing, and reopens from checkpoint plus journal', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    setRange(store, 1, 100)
    await store.checkpoint()
    setRange(store, 101, 150)
    store.commit({ op: 'del', key: 'k1' })
    await store.close()

    // The checkpoint covers 1..100; its journal stays as long as that checkpoint is the previous
    // one (the fallback should checkpoint.json rot); mount replays only 101..151.
    expect((await listSegments(dir)).map((s) => s.firstSeq)).toEqual([1, 101])
    const checkpoint = (await readFile(join(dir, 'checkpoint.json'), 'utf8')).split('\n')
    expect(JSON.parse(checkpoint[0]!)).toMatchObject({ lastSeq: 100 })

    const again = await openKv(dir, existing)
    expect(again.lastSeq).toBe(151)
    expect(again.state.size).toBe(149)
    expect(again.state.get('k150')).toBe(150)
    expect(again.state.has('k1')).toBe(false)
    expect(again.stats.journalRecords).toBe(51)

    await again.close({ checkpoint: true }) // a final checkpoint leaves no journal to replay
    expect((await listSegments(dir)).map((s) => s.firstSeq)).toEqual([101, 152]) // 1..100 went with checkpoint 100
    expect(JSON.parse((await readFile(join(dir, 'checkpoint.prev.json'), 'utf8')).split('\n')[0]!)).toMatchObject({ lastSeq: 100 })
    const third = await openKv(dir, existing)
    expect(third.stats.journalRecords).toBe(0)
    expect(third.state).toEqual(again.state)
  })

  it('checkpoints by itself once the journal is long enough', async () => {
    const dir = await tempDir()
    const store = await openKv(dir, { create: { settings: {} }, checkpointEvery: { records: 100 } })
    for (let i = 1; i <= 250; i += 50) {
      setRange(store, i, i + 49)
      // Each automatic checkpoint finishes before the next batch (waited for, not slept on).
      const due = Math.floor((i + 49) / 100)
      await vi.waitFor(() => expect(store.stats.checkpoints).toBe(due), { timeout: 30_000, interval: 5 })
    }
    expect(store.stats.checkpoints).toBe(2) // at 100 and at 200
    expect(store.stats.journalRecords).toBe(50)
    await store.close()
    const again = await openKv(dir, existing)
    expect(again.state.size).toBe(250)
    expect(again.stats.journalRecords).toBe(50)
  })

  it('drops a torn last record at open and truncates it away', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    setRange(store, 1, 10)
    await store.close()
    const file = await lastSegmentFile(dir)
    const goodSize = (await stat(file)).size
    await appendFile(file, encodeRecord(11, '{"op":"set","key":"k11","value":11}').slice(0, 25))

    const readOnlyLog: string[] = []
    const readOnly = await openKv(dir, { readOnly: true, log: (m) => readOnlyLog.push(m) })
    expect(readOnly.lastSeq).toBe(10)
    expect(readOnlyLog.join('\n')).toContain('read-only')
    expect((await stat(file)).size).toBeGreaterThan(goodSize)

    const log: string[] = []
    const again = await openKv(dir, { log: (m) => log.push(m) })
    expect(again.lastSeq).toBe(10)
    expect(log.join('\n')).toContain('dropped a torn tail at line 11')
    expect((await stat(file)).size).toBe(goodSize)
    setRange(again, 11, 12) // the seq the torn record had is used again
    await again.close()
    expect((await openKv(dir, existing)).state.get('k12')).toBe(12)
  })

  it('refuses a journal corrupt in the middle, and leaves the folder unlocked', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    setRange(store, 1, 10)
    await store.close()
    const file = await lastSegmentFile(dir)
    await writeFile(file, (await readFile(file, 'utf8')).replace('"k5"', '"k6"'))

    const err = await openError(dir)
    expect(err.code).toBe('JOURNAL_CORRUPT')
    expect(err.message).toContain(`journal ${file} is corrupt at record 5`)
    expect(await readdir(dir)).not.toContain('lock')
  })

  it('refuses a corrupt checkpoint', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    setRange(store, 1, 10)
    await store.close({ checkpoint: true })
    const file = join(dir, 'checkpoint.json')
    await writeFile(file, (await readFile(file, 'utf8')).replace('"k5",5', '"k5",6'))
    const err = await openError(dir)
    expect(err.code).toBe('CHECKPOINT_CORRUPT')
    expect(err.message).toContain(file)
  })

  it('refuses a second writer while locked, but lets a read-only reader look', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    setRange(store, 1, 5)
    await store.sync()

    const err = await openError(dir)
    expect(err.code).toBe('META_LOCKED')
    expect(err.message).toContain(`metadata folder ${dir} is in use by process ${process.pid}`)

    const reader = await openKv(dir, { readOnly: true })
    expect(reader.state.size).toBe(5)
    expect(() => reader.commit({ op: 'set', key: 'x', value: 1 })).toThrow(expect.objectContaining({ code: 'EROFS' }))
    await expect(reader.checkpoint()).rejects.toMatchObject({ code: 'EROFS' })
    await reader.close()
    await expect(reader.sync()).resolves.toBeUndefined()
    expect(await readdir(dir)).toContain('lock') // the reader neither took nor released it
  })

  it('tells a foreign, a newer and a missing folder apart', async () => {
    const dir = await tempDir()
    expect((await openError(join(dir, 'missing'))).code).toBe('ENOENT')

    const empty = join(dir, 'empty')
    await mkdir(empty)
    const foreign = await openError(empty)
    expect(foreign.code).toBe('META_FOREIGN')
    expect(foreign.message).toBe(`${empty} is not a dfs metadata folder (it has no format.json)`)
    expect((await openError(empty, { readOnly: true, create: { settings: {} } })).code).toBe('META_FOREIGN') // read-only never creates
    expect(await readdir(empty)).toEqual([])

    const other = join(dir, 'other')
    await mkdir(other)
    await writeFile(join(other, 'notes.txt'), 'mine')
    const mixed = await openError(other, { create: { settings: {} } })
    expect(mixed.code).toBe('META_FOREIGN')
    expect(mixed.message).toContain('notes.txt')
    expect(await readdir(other)).toEqual(['notes.txt'])

    const newer = join(dir, 'newer')
    await mkdir(newer)
    await writeFile(join(newer, 'format.json'), JSON.stringify({ format: 2, clusterId: 'x', createdAt: '', settings: {} }))
    const tooNew = await openError(newer, { create: { settings: {} } })
    expect(tooNew.code).toBe('META_TOO_NEW')
    expect(tooNew.message).toBe(`metadata in ${newer} has format 2; this dfs understands up to 1: upgrade dfs`)
  })

  it('opens an existing folder as it is when asked to create it, and records settings changes', async () => {
    const dir = await tempDir()
    const store = await openKv(dir, { create: { settings: { replicas: 2 } } })
    await store.updateSettings({ replicas: 2, nodes: ['a', 'b'] })
    expect(store.settings).toEqual({ replicas: 2, nodes: ['a', 'b'] })
    await store.close()
    const again = await openKv(dir, { create: { settings: { replicas: 3 } } })
    expect(again.clusterId).toBe(store.clusterId)
    expect(again.settings).toEqual({ replicas: 2, nodes: ['a', 'b'] })
  })

  it('runs afterDurable tasks only once their records are on disk', async () => {
    const dir = await tempDir()
    const store = await openKv(dir, { create: { settings: {} }, flushIntervalMs: 60_000 })
    const ran: string[] = []
    store.afterDurable(() => ran.push('nothing pending'))
    store.commit({ op: 'set', key: 'a', value: 1 })
    store.afterDurable(() => ran.push('after a'))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(ran).toEqual(['nothing pending']) // nobody synced yet
    await store.sync()
    await new Promise((resolve) => setImmediate(resolve))
    expect(ran).toEqual(['nothing pending', 'after a'])
  })

  it('fails cleanly when the journal cannot be written, without crashing', async () => {
    const dir = await tempDir()
    const errors: DfsError[] = []
    const store = await openKv(dir, { create: { settings: {} }, onError: (err) => errors.push(err) })
    setRange(store, 1, 5)
    await store.sync()
    await rm(dir, { recursive: true }) // the metadata disk is gone: the next segment cannot be created
    const checkpoint = store.checkpoint()
    store.commit({ op: 'set', key: 'x', value: 1 }) // queued behind the rotation that is about to fail
    store.afterDurable(() => errors.push(new Error('must not run') as DfsError))
    await expect(checkpoint).rejects.toMatchObject({ code: 'EIO' })
    expect(errors).toHaveLength(1)
    expect(() => store.commit({ op: 'set', key: 'y', value: 1 })).toThrow(errors[0])
    await expect(store.sync()).rejects.toBe(errors[0])
    await expect(store.close()).rejects.toBe(errors[0])
    expect(errors).toHaveLength(1)
    expect(store.state.get('y')).toBeUndefined()
  })

  it('checkpoints a large state in slices while commits go on (its stall is a bench figure)', async () => {
    // How long the loop stalls is measured by `npm run bench` (event-loop stalls); here only the
    // behaviour: commits keep being applied between the checkpoint's slices, and both the checkpoint
    // and the journal after it restore the state exactly.
    const dir = await tempDir()
    const store = await openKv(dir, { create: { settings: {} }, checkpointEvery: { records: 10_000_000 } })
    const entries = 20 * SLICE_PIECES
    setRange(store, 1, entries)
    await store.sync()

    let done = false
    let commitTurns = 0
    const checkpoint = store.checkpoint().finally(() => {
      done = true
    })
    let i = entries
    while (!done) {
      commitTurns++
      for (let j = 0; j < 50; j++) store.commit({ op: 'set', key: `k${++i}`, value: i })
      store.commit({ op: 'del', key: `k${i - entries}` })
      await new Promise((resolve) => setImmediate(resolve))
    }
    await checkpoint
    // One slice per turn at most, so the commit loop ran at least once between consecutive slices.
    expect(commitTurns).toBeGreaterThanOrEqual(20)
    expect(store.stats.checkpoints).toBe(1)

    const live = new Map(store.state)
    await store.close()
    const again = await openKv(dir, existing)
    expect(again.state).toEqual(live)
  })
})
