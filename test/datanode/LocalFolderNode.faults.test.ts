// Faults a test cannot make on demand (a full disk, a read-only mount, and as root no permission bit
// stops a write): writeFile is wrapped to fail the way the kernel would.

import { existsSync } from 'node:fs'
import * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { openNodeFolder } from '../../src/datanode/identity.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { TempDirs } from './tempDirs.js'

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>()
  return { ...actual, writeFile: vi.fn(actual.writeFile) }
})

function failWritesWith(code: string): void {
  vi.mocked(fsp.writeFile).mockImplementationOnce(async (path, data, options) => {
    const actual = await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises')
    await actual.writeFile(path, (data as Buffer).subarray(0, 3), options)
    throw Object.assign(new Error(`${code}: no space left on device, write`), { code })
  })
}

describe('LocalFolderNode on a full disk', () => {
  const temp = new TempDirs()
  afterEach(() => temp.cleanup())

  for (const code of ['ENOSPC', 'EDQUOT']) {
    it(`turns ${code} into NODE_FULL and removes the temp file`, async () => {
      const dir = await temp.make()
      const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
      const id = newChunkId()
      failWritesWith(code)
      await expect(node.put(id, Buffer.from('some data'))).rejects.toMatchObject({
        code: 'NODE_FULL',
        context: { node: dir, chunk: id },
      })
      const sub = join(dir, 'chunks', id.slice(0, 2))
      expect(await fsp.readdir(sub)).toEqual([])
      expect(existsSync(join(sub, id))).toBe(false)
      expect(await node.usage()).toMatchObject({ used: 0, chunks: 0 })
      // The disk has room again: the next put works.
      await node.put(id, Buffer.from('some data'))
      expect((await node.get(id)).toString()).toBe('some data')
    })
  }
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
