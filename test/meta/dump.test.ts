// The namespace dump (meta/dump.ts) and making a folder of it (meta/loadDump.ts): everything the
// namespace records survives dump -> load, the document is the same bytes the second time, and the
// loaded folder is one a NameNode opens and claims the nodes from with a new epoch.

import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { isDfsError } from '../../src/errors.js'
import { captureStore, linesOf, readDump, writeDump } from '../../src/meta/dump.js'
import { readMetaEpoch, writeMetaEpoch } from '../../src/meta/epochClaim.js'
import { loadDumpInto } from '../../src/meta/loadDump.js'
import { orphanHold } from '../../src/meta/orphanHold.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { buildSample, openNamespace } from './namespaceFolder.js'

async function dumpText(dir: string): Promise<string> {
  const store = await openNamespace(dir, { readOnly: true })
  try {
    const parts: string[] = []
    const { header, pieces } = await captureStore(store)
    await writeDump(header, pieces, async (text) => { parts.push(text) })
    return parts.join('')
  } finally {
    await store.close()
  }
}

const read = (text: string) => readDump(linesOf(Readable.from([text])), 'test.json')

async function sampleFolder(): Promise<string> {
  const dir = tempDirForTest('dump-src-').path
  const store = await openNamespace(dir)
  buildSample(store)
  await store.close()
  await writeMetaEpoch(dir, { epoch: 3, token: 'ab'.repeat(16), previous: { epoch: 2, token: 'cd'.repeat(16) } })
  return dir
}

describe('namespace dump', () => {
  it('is one valid JSON document holding every inode, name, link, symlink, xattr, owner, time and chunk map', async () => {
    const text = await dumpText(await sampleFolder())
    const doc = JSON.parse(text)
    expect(doc.header).toMatchObject({ kind: 'dfs-namespace-dump', format: 1, epoch: { epoch: 3, token: 'ab'.repeat(16) }, settings: { chunkSize: 4096 } })
    expect(doc.header).not.toHaveProperty('dumpedAt')
    const names = doc.entries.map((e: [number, string, number]) => e[1])
    expect(names).toEqual(expect.arrayContaining(['dir', 'file.bin', 'empty', 'hardlink', 'symlink', 'sparse', 'ünïcode name ✓']))
    expect(names).not.toContain('gone')
    const file = doc.inodes.find((i: any) => i.xattrs)
    expect(file).toMatchObject({ nlink: 2, size: 8292, mtime: 1_600_000_000_000, xattrs: { 'user.note': Buffer.from('hello').toString('base64') } })
    expect(file.chunks[1]).toBeNull()
    expect(file.chunks[2]).toMatchObject({ len: 100, nodes: ['n1', 'n2'] })
    expect(doc.inodes.find((i: any) => i.target)).toMatchObject({ target: 'dir/file.bin', mode: 0o120777 })
    expect(doc.trailer).toMatchObject({ inodes: doc.inodes.length, entries: doc.entries.length })
  })

  it('dump -> load -> dump gives the same bytes, and the loaded folder opens at the same seq', async () => {
    const src = await sampleFolder()
    const first = await dumpText(src)
    const loaded = await read(first)
    const target = join(tempDirForTest('dump-dst-').path, 'meta')
    await loadDumpInto(target, loaded, { source: 'test.json' })
    const second = await dumpText(target)
    expect(second).toBe(first)

    const store = await openNamespace(target)
    expect(store.lastSeq).toBe(loaded.header.lastSeq)
    await store.close()
    // The claim is the dump's, marked so the next claim may be below the nodes' watermark.
    expect(await readMetaEpoch(target)).toEqual({ epoch: 3, token: 'ab'.repeat(16), afterRepair: true })
    expect(await orphanHold(target)).toMatchObject({ cause: 'load', backupDir: 'test.json' })
    expect((await readdir(target)).sort()).toEqual(expect.arrayContaining(['checkpoint.json', 'epoch.json', 'format.json', 'format.copy.json']))
    expect(JSON.parse(await readFile(join(target, 'format.json'), 'utf8')).clusterId).toBe(loaded.header.clusterId)
  })

  it('reads a folder a running store holds (read-only, no lock), as of its last durable record', async () => {
    const dir = await sampleFolder()
    const store = await openNamespace(dir)
    store.commit({ op: 'mknod', parent: 1, name: 'while-running', mode: 0o100644, uid: 0, gid: 0, time: 1 })
    await store.sync()
    try {
      expect(JSON.parse(await dumpText(dir)).entries.map((e: unknown[]) => e[1])).toContain('while-running')
    } finally {
      await store.close()
    }
  })

  describe('refuses, naming the line, anything but a whole unedited dump', async () => {
    const cases: [string, (text: string) => string, RegExp][] = [
      ['not JSON', () => 'hello world\n', /it is not JSON/],
      ['truncated', (t) => t.slice(0, Math.floor(t.length / 2)), /truncated|not valid JSON/],
      ['cut before its trailer', (t) => t.slice(0, t.lastIndexOf('"trailer"')), /truncated/],
      ['another kind', (t) => t.replace('"kind":"dfs-namespace-dump"', '"kind":"dfs-checkpoint"'), /kind is "dfs-checkpoint"/],
      ['edited', (t) => t.replace('"user.note"', '"user.nope"'), /SHA-256 does not match/],
      ['an item removed', (t) => t.replace(/\n\[1,"dir",\d+\],/, ''), /trailer counts/],
      ['pretty-printed', (t) => JSON.stringify(JSON.parse(t), null, 2), /first line is not the header/],
      ['empty', () => '', /it is empty/],
    ]
    for (const [what, change, message] of cases) {
      it(what, async () => {
        const text = change(await dumpText(await sampleFolder()))
        const err = await read(text).catch((e: unknown) => e)
        expect(isDfsError(err, 'DUMP_INVALID'), String(err)).toBe(true)
        expect((err as Error).message).toMatch(message)
        expect((err as Error).message).not.toContain('\n')
      })
    }
  })

  it('names only durable records: a capture of a live store resolves once its seq is durable', async () => {
    const store = await openNamespace(tempDirForTest('dump-live-').path)
    try {
      store.commit({ op: 'mknod', parent: 1, name: 'unsynced', mode: 0o100644, uid: 0, gid: 0, time: 1 } as never)
      let durable!: () => void
      const syncs: number[] = []
      // The store as a NameNode's with a standby sees it: durable once the standby says so too.
      const live = Object.create(store, { sync: { value: () => { syncs.push(store.lastSeq); return new Promise<void>((r) => { durable = r }) } } }) as typeof store
      let captured = false
      const capture = captureStore(live).then((c) => { captured = true; return c })
      while (!captured && syncs.length === 0) await new Promise((r) => setTimeout(r, 5))
      // A crash now could still take back the record: a dump naming it could be restored under a journal that forked.
      expect(captured).toBe(false)
      durable()
      const { header } = await capture
      expect(syncs).toEqual([header.lastSeq])
    } finally {
      await store.close()
    }
  })

  it('refuses a namespace that does not hold together, even with a matching SHA-256', async () => {
    const src = await sampleFolder()
    const store = await openNamespace(src, { readOnly: true })
    const { header, pieces } = await captureStore(store)
    await store.close()
    const broken = [...pieces].map((p) => (p[0] === 'd' && p[2] === 'hardlink' ? ['d', 1, 'hardlink', 999] as const : p))
    const parts: string[] = []
    await writeDump({ ...header, nextIno: 1000 }, broken as never, async (t) => { parts.push(t) })
    const err = await read(parts.join('')).catch((e: unknown) => e)
    expect(isDfsError(err, 'DUMP_INVALID')).toBe(true)
    expect((err as Error).message).toMatch(/inode 999, which the dump does not hold/)
  })
})
