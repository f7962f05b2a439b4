// dfs fsck --meta --repair falling back on a NameNode backup (meta/restoreBackup.ts through
// cli/fsckMeta.ts): when no checkpoint restores and the journal does not reach back, and when the
// backup is newer than where a cut of the damaged journal would end. The journal records after the
// backup are replayed on top; every file replaced is kept; what is lost is listed.

import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkMetaFolder } from '../../src/cli/fsckMeta.js'
import { writeBackupsRecord } from '../../src/meta/backupsRecord.js'
import { captureStore, writeDump } from '../../src/meta/dump.js'
import { readMetaEpoch, writeMetaEpoch } from '../../src/meta/epochClaim.js'
import { segmentFile } from '../../src/meta/journalFormat.js'
import { orphanHold } from '../../src/meta/orphanHold.js'
import { treeListing } from '../helpers/tree.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { type NamespaceStore, buildSample, openNamespace } from '../meta/namespaceFolder.js'

const file = (store: NamespaceStore, name: string) =>
  store.commit({ op: 'mknod', parent: 1, name, mode: 0o100644, uid: 0, gid: 0, time: 1 })

async function backupOf(store: NamespaceStore, backupDir: string, name: string): Promise<string> {
  const path = join(backupDir, `ns-${name}.json`)
  const parts: string[] = []
  const { header, pieces } = await captureStore(store)
  await writeDump(header, pieces, async (t) => { parts.push(t) })
  await writeFile(path, parts.join(''))
  return path
}

async function flipByte(path: string, at: (text: string) => number): Promise<void> {
  const buf = await readFile(path)
  const i = at(buf.toString('latin1'))
  buf[i] ^= 0x20
  await writeFile(path, buf)
}

async function names(dir: string): Promise<string[]> {
  const store = await openNamespace(dir, { readOnly: true })
  try {
    return [...store.state.children.get(1)!.keys()].sort()
  } finally {
    await store.close()
  }
}

describe('fsck --repair falls back on a NameNode backup', () => {
  it('when no checkpoint restores and the journal does not reach back: backup + the journal after it, nothing lost', async () => {
    const dir = tempDirForTest('restore-meta-').path
    const backupDir = tempDirForTest('restore-backups-').path
    const store = await openNamespace(dir)
    buildSample(store)
    await store.checkpoint()
    file(store, 'between-checkpoints')
    await store.checkpoint() // the journal before the first checkpoint is gone now
    file(store, 'before-backup')
    await backupOf(store, backupDir, '2026-01-01T00-00-00.000Z')
    file(store, 'after-backup-1')
    file(store, 'after-backup-2')
    const lastSeq = store.lastSeq
    await store.close()
    await writeBackupsRecord(dir, { dir: backupDir })
    await writeMetaEpoch(dir, { epoch: 7, token: 'ef'.repeat(16) })
    for (const f of ['checkpoint.json', 'checkpoint.prev.json']) await flipByte(join(dir, f), (t) => t.indexOf('"nlink"'))

    const before = await treeListing([dir, backupDir])
    const look = await checkMetaFolder(dir, { repair: false, json: false })
    expect(look.usable).toBe(false)
    expect(look.lines.join('\n')).toMatch(/it restores the NameNode backup .*ns-2026-01-01T00-00-00.000Z.json/)
    expect(await treeListing([dir, backupDir])).toEqual(before) // looking changes nothing

    const fixed = await checkMetaFolder(dir, { repair: true, json: false })
    const text = fixed.lines.join('\n')
    expect(fixed.usable).toBe(true)
    expect(text).toMatch(/metadata restored from the NameNode backup/)
    expect(text).toMatch(/replayed the 2 intact journal record\(s\) after it/)
    expect(text).toMatch(new RegExp(`nothing was lost: the folder holds every record up to ${lastSeq}`))
    expect(await names(dir)).toEqual(expect.arrayContaining(['before-backup', 'after-backup-1', 'after-backup-2', 'between-checkpoints', 'hardlink']))
    // What it replaced is kept; the claim is marked so the next one may be below the nodes' watermark.
    const kept = (await readdir(dir)).find((n) => n.startsWith('backup-'))!
    expect(await readdir(join(dir, kept))).toEqual(expect.arrayContaining(['checkpoint.json', 'checkpoint.prev.json']))
    expect(await readMetaEpoch(dir)).toMatchObject({ epoch: 7, afterRepair: true })
    expect(await orphanHold(dir)).toBeDefined()
    expect((await checkMetaFolder(dir, { repair: false, json: false })).lines.join('\n')).toMatch(/intact/)
  })

  it('when the backup is newer than where a cut of the damaged journal would end; a damaged newer backup is skipped', async () => {
    const dir = tempDirForTest('restore-meta-').path
    const backupDir = tempDirForTest('restore-backups-').path
    const store = await openNamespace(dir)
    buildSample(store)
    file(store, 'early')
    const damagedSeq = store.lastSeq
    file(store, 'middle')
    await backupOf(store, backupDir, '2026-01-01T00-00-00.000Z')
    file(store, 'late-1')
    const newest = await backupOf(store, backupDir, '2026-01-01T01-00-00.000Z')
    file(store, 'late-2')
    await store.close()
    await writeBackupsRecord(dir, { dir: backupDir })
    await flipByte(newest, (t) => t.indexOf('"late-1"') + 2)
    // Damage record `damagedSeq` (the mknod of "early") in the journal.
    await flipByte(segmentFile(dir, 1), (t) => t.indexOf('"early"') + 2)

    const fixed = await checkMetaFolder(dir, { repair: true, json: false })
    const text = fixed.lines.join('\n')
    expect(text).toMatch(/skipped the newer backup .*ns-2026-01-01T01-00-00.000Z.json: .*SHA-256 does not match/)
    expect(text).toMatch(/metadata restored from the NameNode backup .*ns-2026-01-01T00-00-00.000Z.json/)
    // The backup holds "early" and "middle" (a cut would have lost both); the journal after it still applies.
    expect(text).toMatch(/replayed the 2 intact journal record\(s\)/)
    expect(text).toMatch(/nothing was lost/)
    expect(await names(dir)).toEqual(expect.arrayContaining(['early', 'middle', 'late-1', 'late-2']))
    expect(damagedSeq).toBeGreaterThan(0)
  })

  it('says so when the folder cannot be rebuilt and no backup is recorded', async () => {
    const dir = tempDirForTest('restore-meta-').path
    const store = await openNamespace(dir)
    buildSample(store)
    await store.checkpoint()
    file(store, 'x')
    await store.checkpoint()
    await store.close()
    for (const f of ['checkpoint.json', 'checkpoint.prev.json']) await flipByte(join(dir, f), (t) => t.indexOf('"nlink"'))
    const look = await checkMetaFolder(dir, { repair: false, json: false })
    expect(look.lines.join('\n')).toMatch(/no NameNode backups are recorded for it \(dfs namenode --backup-dir\)/)
  })
})
