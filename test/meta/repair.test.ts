// A damaged metadata folder is explained (inspectMeta: file, record, byte offset, what follows) and
// recovered (repairMeta: backup, cut at the last good record or fall back to the previous
// checkpoint), after which it opens. The kv machine of kv.ts stands in for the namespace.

import { appendFile, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isDfsError } from '../../src/errors.js'
import { type RecordDescriber, inspectMeta } from '../../src/meta/inspect.js'
import { encodeRecord, listSegments, segmentFile } from '../../src/meta/journalFormat.js'
import { orphanHold } from '../../src/meta/orphanHold.js'
import { repairMeta } from '../../src/meta/repair.js'
import { type KvRecord, type KvState, kv, openKv, setRange, tempDir } from './kv.js'

const existing = {}
const describer: RecordDescriber<KvState, KvRecord> = {
  describe: (_state, r) => ({ what: `${r.op} ${r.key}`, paths: [r.key] }),
}

/** Every file in dir (not below), name -> bytes. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const entry of await readdir(dir, { withFileTypes: true })) if (entry.isFile()) out.set(entry.name, await readFile(join(dir, entry.name), 'latin1'))
  return out
}

/** A folder whose journal holds records 1..n (no checkpoint), closed. */
async function journalOf(n: number): Promise<{ dir: string; file: string }> {
  const dir = await tempDir()
  const store = await openKv(dir)
  setRange(store, 1, n)
  await store.close()
  return { dir, file: segmentFile(dir, 1) }
}

describe('metadata repair', () => {
  it('explains a flipped byte in a journal record: file, record, offset, and what the records after it did', async () => {
    const { dir, file } = await journalOf(10)
    const text = await readFile(file, 'latin1')
    const offset = text.indexOf('\n4 ') + 1
    await writeFile(file, text.replace('"k4","value":4', '"k4","value":5'), 'latin1')
    const before = await snapshot(dir)

    const i = await inspectMeta(dir, kv, describer)
    expect(i.journalDamage).toMatchObject({ file, line: 4, seq: 4, offset, why: 'checksum mismatch' })
    expect(i.lastGoodSeq).toBe(3)
    expect(i.lost.map((r) => r.seq)).toEqual([4, 5, 6, 7, 8, 9, 10])
    expect(i.lost[0]).toMatchObject({ what: 'set k4', damaged: true })
    expect(i.lost[1]).toMatchObject({ what: 'set k5', damaged: false, paths: ['k5'] })
    expect(await snapshot(dir)).toEqual(before) // looking changes nothing
  })

  it('repairs it: backs up the file, cuts at the last good record, and the folder opens with records 1..3', async () => {
    const { dir, file } = await journalOf(10)
    const text = await readFile(file, 'latin1')
    const damaged = text.replace('"k4","value":4', '"k4","value":5')
    await writeFile(file, damaged, 'latin1')
    expect(isDfsError(await openKv(dir, existing).catch((e: unknown) => e), 'JOURNAL_CORRUPT')).toBe(true)

    const repaired = await repairMeta(dir, kv, describer, { now: new Date('2026-01-02T03:04:05.678Z') })
    expect(repaired.backupDir).toBe(join(dir, 'backup-2026-01-02T03-04-05-678Z'))
    expect(await readFile(join(repaired.backupDir!, 'journal-0000000000000001.log'), 'latin1')).toBe(damaged)
    expect(repaired.inspection.lost).toHaveLength(7)
    // The chunks of the 7 dropped records are the backup's: held from orphan deletion until released.
    expect(await orphanHold(dir)).toEqual({ since: '2026-01-02T03:04:05.678Z', backupDir: repaired.backupDir, droppedRecords: 7 })

    const store = await openKv(dir, existing)
    expect(store.lastSeq).toBe(3)
    expect([...store.state.keys()]).toEqual(['k1', 'k2', 'k3'])
    store.commit({ op: 'set', key: 'after', value: 1 }) // and it takes new records after the cut
    await store.close()
    expect((await openKv(dir, existing)).state.get('after')).toBe(1)
  })

  it('handles a tail damaged across two records (a torn, unsynced batch after a power cut) the same way', async () => {
    const { dir, file } = await journalOf(5)
    // Records 6 and 7 were written in one batch; a power cut kept neither whole.
    const batch = encodeRecord(6, JSON.stringify({ op: 'set', key: 'k6', value: 6 })) + encodeRecord(7, JSON.stringify({ op: 'set', key: 'k7', value: 7 }))
    const torn = Buffer.from(batch)
    torn.fill(0, 20, 40) // zeros where page 1 never reached the disk, inside record 6
    torn.fill(0, batch.indexOf('\n7 ') + 10, batch.indexOf('\n7 ') + 20) // and inside record 7
    await appendFile(file, torn)
    expect(isDfsError(await openKv(dir, existing).catch((e: unknown) => e), 'JOURNAL_CORRUPT')).toBe(true)

    const i = await inspectMeta(dir, kv, describer)
    expect(i.journalDamage).toMatchObject({ file, line: 6 })
    expect(i.lost.map((r) => r.seq)).toEqual([6, 7])
    await repairMeta(dir, kv, describer)
    const store = await openKv(dir, existing)
    expect(store.lastSeq).toBe(5)
  })

  it('calls a flipped byte in the last complete record damage (fsck repairs it), and only bytes after the last newline a torn tail', async () => {
    const { dir, file } = await journalOf(6)
    const bytes = await readFile(file)
    bytes[bytes.length - 8]! ^= 0x01 // inside record 6; its newline is intact
    await writeFile(file, bytes)
    const i = await inspectMeta(dir, kv, describer)
    expect(i.journalDamage).toMatchObject({ file, line: 6, seq: 6, tornTail: false })
    expect(i.tornTail).toBeUndefined()
    expect(i.lost.map((r) => r.seq)).toEqual([6])
    expect(isDfsError(await openKv(dir, existing).catch((e: unknown) => e), 'JOURNAL_CORRUPT')).toBe(true)
    await repairMeta(dir, kv, describer)
    expect((await openKv(dir, existing)).lastSeq).toBe(5)

    const torn = await journalOf(3)
    await appendFile(torn.file, encodeRecord(4, JSON.stringify({ op: 'set', key: 'k4', value: 4 })).slice(0, 15))
    const t = await inspectMeta(torn.dir, kv, describer)
    expect(t.journalDamage).toBeUndefined()
    expect(t.tornTail).toMatchObject({ file: torn.file, line: 4, tornTail: true })
    expect(t.lastGoodSeq).toBe(3)
  })

  it('falls back to the previous checkpoint when checkpoint.json is damaged, losing nothing', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    setRange(store, 1, 10)
    await store.checkpoint()
    setRange(store, 11, 20)
    await store.checkpoint()
    setRange(store, 21, 25)
    await store.close()
    const current = join(dir, 'checkpoint.json')
    const text = await readFile(current, 'utf8')
    await writeFile(current, text.replace('["k7",7]', '["k7",8]'))
    const opened = await openKv(dir, existing).catch((e: unknown) => e)
    expect(isDfsError(opened, 'CHECKPOINT_CORRUPT')).toBe(true)
    expect((opened as Error).message).toContain(`dfs fsck --meta ${dir} --repair`)

    const i = await inspectMeta(dir, kv, describer)
    expect(i.checkpointDamage?.file).toBe(current)
    expect(i.base).toEqual({ file: join(dir, 'checkpoint.prev.json'), lastSeq: 10 })
    expect(i.lastGoodSeq).toBe(25)
    expect(i.lost).toEqual([])

    const repaired = await repairMeta(dir, kv, describer)
    expect(await readdir(repaired.backupDir!)).toEqual(['checkpoint.json'])
    const again = await openKv(dir, existing)
    expect(again.lastSeq).toBe(25)
    expect(again.state.size).toBe(25)
    expect(again.state.get('k7')).toBe(7)
  })

  it('rebuilds from the whole journal when the only checkpoint is damaged (the journal since record 1 is still kept)', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    setRange(store, 1, 10)
    await store.checkpoint()
    setRange(store, 11, 12)
    await store.close()
    const current = join(dir, 'checkpoint.json')
    await writeFile(current, (await readFile(current, 'utf8')).replace('["k7",7]', '["k7",8]'))

    const repaired = await repairMeta(dir, kv, describer)
    expect(repaired.inspection.base).toBeUndefined()
    expect(repaired.inspection.lost).toEqual([])
    expect(await readdir(repaired.backupDir!)).toEqual(['checkpoint.json'])
    const again = await openKv(dir, existing)
    expect(again.lastSeq).toBe(12)
    expect(again.state.get('k7')).toBe(7)
  })

  it('warns when checkpoint.json is intact but checkpoint.prev.json, its fallback, is damaged', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    setRange(store, 1, 5)
    await store.checkpoint()
    setRange(store, 6, 10)
    await store.checkpoint()
    await store.close()
    const previous = join(dir, 'checkpoint.prev.json')
    await writeFile(previous, (await readFile(previous, 'utf8')).replace('["k3",3]', '["k3",4]'))

    const i = await inspectMeta(dir, kv, describer)
    expect(i.checkpointDamage).toBeUndefined()
    expect(i.fallbackDamage).toMatchObject({ file: previous })
    expect(i.lastGoodSeq).toBe(10)
  })

  it('says a folder with no intact checkpoint and no full journal cannot be rebuilt, and changes nothing', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    setRange(store, 1, 10)
    await store.close({ checkpoint: true }) // checkpoint 10, no previous one
    await rm(join(dir, 'journal-0000000000000001.log')) // as an older dfs left it: no journal before the checkpoint
    await writeFile(join(dir, 'checkpoint.json'), (await readFile(join(dir, 'checkpoint.json'), 'utf8')).replace('"k3"', '"k4"'))
    const before = await snapshot(dir)

    const i = await inspectMeta(dir, kv, describer)
    expect(i.unrecoverable).toContain('restore the metadata folder from a backup')
    const err = await repairMeta(dir, kv, describer).catch((e: unknown) => e)
    expect(isDfsError(err, 'CHECKPOINT_CORRUPT')).toBe(true)
    expect(await snapshot(dir)).toEqual(before)
  })

  it('refuses to repair a folder a live store holds, and does nothing to an intact one', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    setRange(store, 1, 3)
    await store.sync()
    expect(isDfsError(await repairMeta(dir, kv, describer).catch((e: unknown) => e), 'META_LOCKED')).toBe(true)
    await store.close()
    const result = await repairMeta(dir, kv, describer)
    expect(result.backupDir).toBeUndefined()
    expect((await readdir(dir)).some((n) => n.startsWith('backup-'))).toBe(false)
    expect((await listSegments(dir)).length).toBeGreaterThan(0)
  })
})
