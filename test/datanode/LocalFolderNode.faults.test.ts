// Node folders that cannot take a write: a really full disk (a tiny tmpfs), and a read-only file
// system, which the write probe meets through a wrapped writeFile (as root no permission bit stops a write).

import * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { openNodeFolder } from '../../src/datanode/identity.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { isNoSpace } from '../../src/util/osError.js'
import { TempDirs } from './tempDirs.js'
import { mountTinyDisk, unmountTinyDisks } from '../helpers/tinyDisk.js'
import { sha256Of } from '../helpers/sha256.js'

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>()
  return { ...actual, writeFile: vi.fn(actual.writeFile) }
})

describe('LocalFolderNode on a full disk', () => {
  const temp = new TempDirs()
  afterEach(async () => {
    unmountTinyDisks()
    await temp.cleanup()
  })

  it('turns ENOSPC into NODE_FULL, removes the temp file, and works again once there is room', async () => {
    // A real full disk: a 256 KiB tmpfs as the node folder.
    const dir = await temp.make()
    mountTinyDisk(dir, '256k')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    const id = newChunkId()
    await expect(node.put(id, Buffer.alloc(1024 * 1024, 1), sha256Of(Buffer.alloc(1024 * 1024, 1)))).rejects.toMatchObject({
      code: 'NODE_FULL',
      context: { node: dir, chunk: id },
    })
    const sub = join(dir, 'chunks', id.slice(0, 2))
    expect(await fsp.readdir(sub)).toEqual([])
    expect(await node.usage()).toMatchObject({ used: 0, chunks: 0 })
    await node.put(id, Buffer.from('some data'), sha256Of(Buffer.from('some data')))
    expect((await node.get(id)).toString()).toBe('some data')
  })

  it('counts a full quota (EDQUOT) as no room too', () => {
    expect(isNoSpace(Object.assign(new Error('quota'), { code: 'EDQUOT' }))).toBe(true)
    expect(isNoSpace(Object.assign(new Error('io'), { code: 'EIO' }))).toBe(false)
  })
})

describe('openNodeFolder on a read-only file system', () => {
  const temp = new TempDirs()
  afterEach(() => temp.cleanup())

  it('refuses the folder as not writable, found by its write probe', async () => {
    const dir = await temp.make()
    vi.mocked(fsp.writeFile).mockRejectedValueOnce(Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' }))
    await expect(openNodeFolder(dir, { clusterId: 'c', create: true })).rejects.toMatchObject({
      code: 'NODE_FOLDER_INVALID',
      message: `node folder ${dir} is not writable (EROFS); make it writable or pass another folder`,
    })
    expect(await fsp.readdir(dir)).toEqual([])
  })
})
