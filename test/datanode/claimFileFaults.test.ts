// A raise of the claim whose write fails (fdatasync says EIO): the slot it went to may or may not be
// on disk, whatever the page cache shows, so the next write goes to that slot again and the other
// keeps the last claim known durable (src/datanode/claimFile.ts).

import * as fsp from 'node:fs/promises'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { readNodeClaim } from '../../src/datanode/claimFile.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { TempDirs } from './tempDirs.js'

const failDatasync = { armed: false }
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>()
  const open = vi.fn(async (...args: Parameters<typeof actual.open>) => {
    const fh = await actual.open(...args)
    const datasync = fh.datasync.bind(fh)
    fh.datasync = async () => {
      if (!failDatasync.armed) return datasync()
      failDatasync.armed = false
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' })
    }
    return fh
  })
  return { ...actual, open }
})

const SLOT = 4096
const slots = async (dir: string) => {
  const text = await readFile(join(dir, 'dfs-claim.json'), 'latin1')
  return [0, 1].map((i) => {
    const line = text.slice(i * SLOT, (i + 1) * SLOT).trim()
    return line === '' ? undefined : (JSON.parse(line) as { generation: number; seqWatermark: number })
  })
}

describe('a raise whose write fails', () => {
  const temp = new TempDirs()
  afterEach(() => temp.cleanup())

  it('is written again to the same slot: the other keeps the claim known durable', async () => {
    const dir = join(await temp.make(), 'node_1')
    await mkdir(dir)
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    const e1 = { epoch: 1, token: 'a1' }
    await node.claim({ claim: e1, seq: 1 }) // generation 1, slot 1
    await node.claim({ claim: e1, seq: 2 }) // generation 2, slot 0
    failDatasync.armed = true
    await expect(node.claim({ claim: e1, seq: 3 })).rejects.toMatchObject({ code: 'NODE_UNAVAILABLE' })
    expect(vi.mocked(fsp.open)).toHaveBeenCalled()
    // The page cache holds generation 3 in slot 1; the disk may not.
    expect((await slots(dir)).map((s) => s?.seqWatermark)).toEqual([2, 3])
    await node.claim({ claim: e1, seq: 4 })
    // Generation 3 again, in slot 1: slot 0 still holds generation 2, which was durable.
    expect(await slots(dir)).toMatchObject([{ generation: 2, seqWatermark: 2 }, { generation: 3, seqWatermark: 4 }])
    expect(await readNodeClaim(dir)).toEqual({ ...e1, seqWatermark: 4 })
    await node.close()
  })
})
