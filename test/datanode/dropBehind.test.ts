// Drop behind writes: once a large chunk put is durable, its pages leave the kernel's page cache
// (util/pageCache.ts says why). Checked against the kernel itself (test/helpers/pageCache.ts).

import { describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { canDropCachedPages } from '../../src/util/pageCache.js'
import { sha256Of } from '../helpers/sha256.js'
import { cachedBytes, diskFolder } from '../helpers/pageCache.js'
import { chunkPath } from '../helpers/nodeFolders.js'


describe('drop behind writes', () => {
  it('has the fadvise addon built and loaded here (setup builds it)', () => {
    expect(canDropCachedPages).toBe(true)
  })

  it('leaves none of a large chunk in the page cache once it is synced, and it still reads back whole', async () => {
    const dir = diskFolder('dfs-drop-')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    try {
      const data = Buffer.alloc(4 * 1024 * 1024)
      for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i)
      const id = newChunkId()
      await node.put(id, data, sha256Of(data), { fresh: true })
      await node.sync([id])
      expect(cachedBytes(chunkPath(dir, id))).toBe(0)
      expect((await node.get(id)).equals(data)).toBe(true)
    } finally {
      await node.close()
    }
  })
})
