// A put that may replace a copy and a delete of the same id, at once. Each reads the file's old size
// and then changes the file, so interleaved (the delete's stat, the put's rename, the delete's unlink)
// they left the node's tally counting bytes that no disk held, until the node was opened again.
// LocalFolderNode runs them one after another per id. (From a hostile review.)

import { randomBytes } from 'node:crypto'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { TempDirs } from './tempDirs.js'
import { sha256Of } from '../helpers/sha256.js'

const temp = new TempDirs()
afterEach(() => temp.cleanup())

/** The chunk files in the folder, and their bytes. */
async function onDisk(dir: string): Promise<{ chunks: number; used: number }> {
  const names = (await readdir(join(dir, 'chunks'), { recursive: true })).filter((n) => n.split('/').pop()!.length > 2)
  let used = 0
  for (const name of names) used += (await stat(join(dir, 'chunks', name))).size
  return { chunks: names.length, used }
}

describe('a put that replaces a copy and a delete of one id, at once', () => {
  it('leave the tally equal to the files on disk, whichever lands last (small, fresh-said, and large chunks)', async () => {
    const dir = await temp.make('dfs-put-delete-')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    try {
      await node.counted
      for (let round = 0; round < 90; round++) {
        const id = newChunkId()
        const large = round % 3 === 2 // 128 KiB and up: renamed into place from the thread pool
        const first = randomBytes(large ? 200_000 : 4000)
        const second = randomBytes(large ? 300_000 : 6000)
        await node.put(id, first, sha256Of(first))
        await Promise.all([
          node.put(id, second, sha256Of(second), { fresh: round % 3 === 1 }), // a retry that says FRESH
          node.has(id),
          node.get(id).catch(() => undefined),
          node.delete(id),
        ])
      }
      const usage = await node.usage()
      expect({ chunks: usage.chunks, used: usage.used }).toEqual(await onDisk(dir))
    } finally {
      await node.close()
    }
  })
})
