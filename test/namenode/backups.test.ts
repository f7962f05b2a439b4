// The NameNode's backup schedule (namenode/backups.ts) with injected timers and clock: the first
// backup soon after start, then one per period, the newest N kept, each written whole (temp, fsync,
// rename), and a failed one logged and tried again the next period.

import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { captureStore, linesOf, readDump } from '../../src/meta/dump.js'
import { listBackups, readBackupsRecord } from '../../src/meta/backupsRecord.js'
import { BackupScheduler, FIRST_BACKUP_MS, type Timers } from '../../src/namenode/backups.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { buildSample, openNamespace } from '../meta/namespaceFolder.js'

class FakeTimers implements Timers {
  pending: { fn: () => void; ms: number }[] = []
  setTimeout(fn: () => void, ms: number) {
    const t = { fn, ms }
    this.pending.push(t)
    return t
  }
  clearTimeout(handle: unknown) {
    this.pending = this.pending.filter((t) => t !== handle)
  }
  /** Run the one timer due; returns its delay. */
  fire(): number {
    expect(this.pending).toHaveLength(1)
    const t = this.pending.shift()!
    t.fn()
    return t.ms
  }
}

async function setup(options: { keep?: number; failFirst?: number; failMidway?: boolean } = {}) {
  const metaDir = tempDirForTest('backup-meta-').path
  const backupDir = join(tempDirForTest('backup-dir-').path, 'backups')
  const store = await openNamespace(metaDir)
  buildSample(store)
  const timers = new FakeTimers()
  let clock = Date.parse('2026-01-01T00:00:00.000Z')
  const logged: string[] = []
  let failures = options.failFirst ?? 0
  const scheduler = await BackupScheduler.start({
    metaDir, dir: backupDir, everyMs: 3_600_000, keep: options.keep ?? 24, timers,
    now: () => new Date(clock),
    log: (m: string) => logged.push(m),
    capture: async () => {
      if (failures > 0) {
        failures--
        if (!options.failMidway) throw new Error('disk on fire')
        const captured = await captureStore(store)
        return { header: captured.header, pieces: (function* () { yield* [...captured.pieces].slice(0, 3); throw new Error('cut short') })() }
      }
      return captureStore(store)
    },
  })
  const tick = async () => {
    const ms = timers.fire()
    clock += ms
    await scheduler.idle()
    return ms
  }
  return { metaDir, backupDir, store, timers, scheduler, logged, tick, close: async () => { await scheduler.stop(); await store.close() } }
}

describe('NameNode backups', () => {
  it('writes the first backup soon after start, then one per period, each a whole dump; records where in the metadata folder', async () => {
    const s = await setup()
    try {
      expect(await readBackupsRecord(s.metaDir)).toEqual({ dir: s.backupDir, everyMs: 3_600_000, keep: 24 })
      expect(await listBackups(s.backupDir)).toEqual([])
      expect(await s.tick()).toBe(FIRST_BACKUP_MS)
      const [first] = await listBackups(s.backupDir)
      expect(first).toMatch(/ns-2026-01-01T00-00-10\.000Z\.json$/)
      const loaded = await readDump(linesOf(Readable.from([await readFile(first, 'utf8')])), first)
      expect(loaded.header.lastSeq).toBe(s.store.lastSeq)

      s.store.commit({ op: 'mknod', parent: 1, name: 'later', mode: 0o100644, uid: 0, gid: 0, time: 1 })
      expect(await s.tick()).toBe(3_600_000)
      const backups = await listBackups(s.backupDir)
      expect(backups).toHaveLength(2)
      expect(JSON.parse(await readFile(backups[0], 'utf8')).header.lastSeq).toBe(s.store.lastSeq) // newest first
      expect(s.timers.pending).toHaveLength(1) // and the next one is scheduled
    } finally {
      await s.close()
    }
  })

  it('keeps the newest N', async () => {
    const s = await setup({ keep: 3 })
    try {
      for (let i = 0; i < 6; i++) await s.tick()
      const names = (await readdir(s.backupDir)).sort()
      expect(names).toEqual([
        'ns-2026-01-01T03-00-10.000Z.json', 'ns-2026-01-01T04-00-10.000Z.json', 'ns-2026-01-01T05-00-10.000Z.json',
      ])
    } finally {
      await s.close()
    }
  })

  it('logs a failed backup, leaves no temp file, and tries again the next period', async () => {
    for (const failMidway of [false, true]) {
      const s = await setup({ failFirst: 1, failMidway })
      try {
        await s.tick()
        expect(await readdir(s.backupDir)).toEqual([])
        expect(s.logged.join('\n')).toMatch(/backup to .* failed \((disk on fire|cut short)\); the next try is in 3600 s/)
        expect(s.timers.pending).toHaveLength(1)
        await s.tick()
        expect(await listBackups(s.backupDir)).toHaveLength(1)
      } finally {
        await s.close()
      }
    }
  })

  it('stops: no timer left', async () => {
    const s = await setup()
    await s.close()
    expect(s.timers.pending).toEqual([])
  })
})
