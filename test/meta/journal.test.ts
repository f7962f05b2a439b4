import { appendFile, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { type DfsError, isDfsError } from '../../src/errors.js'
import { Journal } from '../../src/meta/Journal.js'
import { encodeRecord, listSegments, segmentFile } from '../../src/meta/journalFormat.js'
import { type ReplayOptions, replayJournal } from '../../src/meta/replayJournal.js'
import { tempDir } from './kv.js'

async function openJournal(dir: string, nextSeq = 1, onError: (err: DfsError) => void = () => {}): Promise<Journal> {
  const journal = await Journal.open(dir, nextSeq, { flushIntervalMs: 60_000, onError })
  onTestFinished(() => journal.close().catch(() => {}))
  return journal
}

function record(i: number): string {
  return JSON.stringify({ op: 'set', key: `k${i}`, value: i })
}

async function replayAll(dir: string, options: Partial<ReplayOptions> = {}) {
  const logged: string[] = []
  const seqs: number[] = []
  for await (const r of replayJournal(dir, { afterSeq: 0, repairTornTail: true, log: (m) => logged.push(m), ...options })) {
    expect(r.record).toEqual({ op: 'set', key: `k${r.seq}`, value: r.seq })
    seqs.push(r.seq)
  }
  return { seqs, logged }
}

async function replayError(dir: string): Promise<DfsError> {
  const err = await replayAll(dir).catch((e: unknown) => e)
  expect(isDfsError(err, 'JOURNAL_CORRUPT'), String(err)).toBe(true)
  return err as DfsError
}

/** A journal of records 1..n in one segment, closed. */
async function writeRecords(dir: string, n: number): Promise<string> {
  const journal = await openJournal(dir)
  for (let i = 1; i <= n; i++) journal.append(record(i))
  await journal.close()
  return segmentFile(dir, 1)
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('journal', () => {
  it('writes records as checksummed lines and reads them back across rotations', async () => {
    const dir = await tempDir()
    const journal = await openJournal(dir)
    for (let i = 1; i <= 3; i++) expect(journal.append(record(i))).toBe(i)
    const { lastSeq, rotated } = journal.rotate()
    expect(lastSeq).toBe(3)
    for (let i = 4; i <= 5; i++) journal.append(record(i))
    await rotated
    await journal.sync()

    expect((await readdir(dir)).sort()).toEqual(['journal-0000000000000001.log', 'journal-0000000000000004.log'])
    const firstLine = (await readFile(segmentFile(dir, 1), 'utf8')).split('\n')[0]
    expect(firstLine).toMatch(/^1 [0-9a-f]{16} \{"op":"set","key":"k1","value":1\}$/)
    expect((await replayAll(dir)).seqs).toEqual(range(1, 5))
    expect((await replayAll(dir, { afterSeq: 3 })).seqs).toEqual([4, 5])
  })

  it('shares one fdatasync among many concurrent syncs (group commit)', async () => {
    const dir = await tempDir()
    const journal = await openJournal(dir)
    const syncs: Promise<void>[] = []
    for (let i = 1; i <= 500; i++) {
      journal.append(record(i))
      syncs.push(journal.sync())
    }
    await Promise.all(syncs)
    // The first record starts a write at once; everything else is written and synced together.
    expect(journal.syncs).toBeLessThanOrEqual(3)
    await journal.sync() // nothing new: no fsync
    expect(journal.syncs).toBeLessThanOrEqual(3)
    expect((await replayAll(dir)).seqs).toEqual(range(1, 500))
  })

  it('drops a torn tail (a prefix of a record), keeps a copy of its bytes, warns, and truncates the file', async () => {
    const dir = await tempDir()
    const file = await writeRecords(dir, 4)
    const goodSize = (await stat(file)).size
    const torn = encodeRecord(5, record(5)).slice(0, 20) // a write cut short mid-line
    await appendFile(file, torn)

    // Read-only: dropped, but nothing is written.
    const readOnly = await replayAll(dir, { repairTornTail: false })
    expect(readOnly.seqs).toEqual(range(1, 4))
    expect((await stat(file)).size).toBeGreaterThan(goodSize)
    expect((await readdir(dir)).filter((n) => n.startsWith('torn-'))).toEqual([])

    const warned: string[] = []
    const log = Object.assign((m: string) => expect.fail(`logged at info: ${m}`), { info: (m: string) => expect.fail(`logged at info: ${m}`), error: (m: string) => expect.fail(m), debug: () => {}, warn: (m: string) => warned.push(m) })
    const repaired = await replayAll(dir, { log, now: () => new Date('2026-01-02T03:04:05.678Z') })
    expect(repaired.seqs).toEqual(range(1, 4))
    expect((await stat(file)).size).toBe(goodSize)
    const copy = join(dir, 'torn-2026-01-02T03-04-05-678Z-journal-0000000000000001.bin')
    expect(await readFile(copy, 'utf8')).toBe(torn)
    expect(warned).toHaveLength(1)
    expect(warned[0]).toContain(`journal ${file}: dropped a torn tail at line 5, byte ${goodSize}: 20 bytes after the last complete record`)
    expect(warned[0]).toContain(`a copy of the dropped bytes is in ${copy}`)
  })

  it('drops a tail of zeros a power cut left after the last newline, keeping a copy', async () => {
    const dir = await tempDir()
    const file = await writeRecords(dir, 3)
    const goodSize = (await stat(file)).size
    await appendFile(file, Buffer.alloc(4096)) // the file grew, the data never reached the disk
    const repaired = await replayAll(dir)
    expect(repaired.seqs).toEqual(range(1, 3))
    expect((await stat(file)).size).toBe(goodSize)
    const copies = (await readdir(dir)).filter((n) => n.startsWith('torn-'))
    expect(copies).toHaveLength(1)
    expect(await readFile(join(dir, copies[0]!))).toEqual(Buffer.alloc(4096))
  })

  it('keeps a whole, verified last record that lacks only its newline, and completes the line', async () => {
    const dir = await tempDir()
    const file = await writeRecords(dir, 3)
    const whole = await readFile(file, 'utf8')
    await appendFile(file, encodeRecord(4, record(4)).slice(0, -1))

    const readOnly = await replayAll(dir, { repairTornTail: false })
    expect(readOnly.seqs).toEqual(range(1, 4))
    expect(await readFile(file, 'utf8')).toBe(whole + encodeRecord(4, record(4)).slice(0, -1))

    const repaired = await replayAll(dir)
    expect(repaired.seqs).toEqual(range(1, 4))
    expect(repaired.logged.join('\n')).toContain('record 4, the last one, is whole and verified but lacks its final newline')
    expect(await readFile(file, 'utf8')).toBe(whole + encodeRecord(4, record(4)))
    expect((await readdir(dir)).filter((n) => n.startsWith('torn-'))).toEqual([])
    // A journal that goes on in the next segment still reads whole.
    const journal = await openJournal(dir, 5)
    journal.append(record(5))
    await journal.close()
    expect((await replayAll(dir)).seqs).toEqual(range(1, 5))
  })

  it('refuses a flipped byte in the last complete record (it may have been acknowledged), changing nothing', async () => {
    const dir = await tempDir()
    const file = await writeRecords(dir, 4)
    const bytes = await readFile(file)
    bytes[bytes.length - 10]! ^= 0x01 // inside record 4's JSON; its newline is intact
    await writeFile(file, bytes)
    const err = await replayError(dir)
    expect(err.context).toMatchObject({ file, line: 4, seq: 4 })
    expect(err.message).toContain('checksum mismatch')
    expect(err.message).toContain(`dfs fsck --meta ${dir} --repair`)
    expect(await readFile(file)).toEqual(bytes)
    expect((await readdir(dir)).filter((n) => n.startsWith('torn-'))).toEqual([])
  })

  it('refuses a last complete line of garbage or zeros, as damage and not a torn tail', async () => {
    for (const tail of ['garbage\n', `${'\0'.repeat(30)}\n`]) {
      const dir = await tempDir()
      const file = await writeRecords(dir, 3)
      await appendFile(file, tail)
      expect((await replayError(dir)).context).toMatchObject({ file, line: 4 })
    }
  })

  it('refuses a corrupt record in the middle, naming the file and the record', async () => {
    const dir = await tempDir()
    const file = await writeRecords(dir, 5)
    const text = await readFile(file, 'utf8')
    await writeFile(file, text.replace('"k3","value":3', '"k3","value":8'))
    const err = await replayError(dir)
    expect(err.message).toContain(`journal ${file} is corrupt at record 3 (line 3), byte ${text.indexOf('\n3 ') + 1}: checksum mismatch`)
    expect(err.message).toContain(`run dfs fsck --meta ${dir} to see what it affects, then dfs fsck --meta ${dir} --repair to recover`)
    expect(err.context).toMatchObject({ file, line: 3, seq: 3 })
  })

  it('refuses a bad last line when a later segment follows', async () => {
    const dir = await tempDir()
    const file = await writeRecords(dir, 3)
    await appendFile(file, 'garbage\n')
    await writeFile(segmentFile(dir, 4), encodeRecord(4, record(4)))
    expect((await replayError(dir)).context).toMatchObject({ file, line: 4 })
  })

  it('refuses a gap in the seqs (a lost segment)', async () => {
    const dir = await tempDir()
    const journal = await openJournal(dir)
    for (let i = 1; i <= 6; i++) {
      journal.append(record(i))
      if (i % 2 === 0) await journal.rotate().rotated
    }
    await journal.close()
    expect((await listSegments(dir)).map((s) => s.firstSeq)).toEqual([1, 3, 5, 7])
    await rm(segmentFile(dir, 3))
    const err = await replayError(dir)
    expect(basename(err.context.file as string)).toBe('journal-0000000000000005.log')
    expect(err.message).toContain('record 3 should come next')
    // A checkpoint covering the lost records makes the gap harmless.
    expect((await replayAll(dir, { afterSeq: 4 })).seqs).toEqual([5, 6])
  })

  it('refuses records missing between the checkpoint and the journal', async () => {
    const dir = await tempDir()
    const journal = await openJournal(dir, 10)
    journal.append(record(10))
    await journal.close()
    await expect(replayAll(dir, { afterSeq: 5 })).rejects.toThrow(/record 6 should come next/)
    expect((await replayAll(dir, { afterSeq: 9 })).seqs).toEqual([10])
  })

  it('fails for good when it cannot write, and says so once', async () => {
    const dir = await tempDir()
    const errors: DfsError[] = []
    const journal = await openJournal(dir, 1, (err) => errors.push(err))
    journal.append(record(1))
    await journal.sync()
    await rm(dir, { recursive: true }) // the next segment cannot be created
    journal.append(record(2))
    const pending = journal.sync()
    await expect(journal.rotate().rotated).rejects.toMatchObject({ code: 'EIO' })
    await expect(pending).resolves.toBeUndefined() // record 2 was synced before the rotation failed
    expect(errors).toHaveLength(1)
    expect(errors[0]!.message).toContain('cannot be written')
    expect(() => journal.append(record(3))).toThrow(errors[0])
    await expect(journal.sync()).rejects.toBe(errors[0])
    await expect(journal.close()).rejects.toBe(errors[0])
  })
})
