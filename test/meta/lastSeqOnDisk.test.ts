// lastSeqOnDisk (src/meta/lastSeqOnDisk.ts): the last record a metadata folder holds, read without
// opening its store, agrees with what the store's open finds: journal only, after a checkpoint, with
// a torn tail (dropped at open), and nothing for a damaged journal (the open explains that).

import { appendFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MetaStore } from '../../src/meta/MetaStore.js'
import { lastSeqOnDisk } from '../../src/meta/lastSeqOnDisk.js'
import { namespaceMachine } from '../../src/meta/namespace/machine.js'
import { tempDirForTest } from '../helpers/tmp.js'

const machine = () => namespaceMachine({ uid: 0, gid: 0, createdAt: 1 })
const mknod = (name: string) => ({ op: 'mknod' as const, parent: 1, name, mode: 0o100644, uid: 0, gid: 0, time: 1 })

async function storeWith(dir: string, names: string[], close: { checkpoint: boolean }) {
  const store = await MetaStore.open(dir, machine(), { create: { settings: {} } })
  for (const name of names) store.commit(mknod(name))
  await store.sync()
  const lastSeq = store.lastSeq
  await store.close(close)
  return lastSeq
}

async function openedLastSeq(dir: string): Promise<number> {
  const store = await MetaStore.open(dir, machine(), { readOnly: true })
  try {
    return store.lastSeq
  } finally {
    await store.close()
  }
}

describe('lastSeqOnDisk', () => {
  it('agrees with the store: journal only, after a checkpoint, with records after the checkpoint', async () => {
    const dir = join(tempDirForTest('dfs-lastseq-').path, 'meta')
    const first = await storeWith(dir, ['a', 'b'], { checkpoint: false })
    expect(await lastSeqOnDisk(dir)).toBe(first)
    const second = await storeWith(dir, ['c'], { checkpoint: true })
    expect(await lastSeqOnDisk(dir)).toBe(second)
    const third = await storeWith(dir, ['d', 'e'], { checkpoint: false })
    expect(third).toBeGreaterThan(second)
    expect(await lastSeqOnDisk(dir)).toBe(third)
    expect(await openedLastSeq(dir)).toBe(third)
  })

  it('leaves out a torn tail, and says nothing for a damaged record', async () => {
    const dir = join(tempDirForTest('dfs-lastseq-').path, 'meta')
    const last = await storeWith(dir, ['a', 'b'], { checkpoint: false })
    const segments = (await readdir(dir)).filter((name) => name.startsWith('journal-')).sort()
    const segment = join(dir, segments[segments.length - 1]!)
    await appendFile(segment, '99 0123456789abcdef {"op":"mkn')
    expect(await lastSeqOnDisk(dir)).toBe(last)
    await appendFile(segment, '\n')
    expect(await lastSeqOnDisk(dir)).toBeUndefined()
  })
})
