// A large chunk in page-aligned memory is written with O_DIRECT (datanode/writeWhole.ts says why): its
// bytes go from the writer's buffer to the disk, and none of the file enters the page cache, not even
// before its sync. Checked against the kernel itself with fincore(1). Memory that is not page-aligned,
// or a length O_DIRECT cannot take, is written through the page cache. Either way the chunk reads back
// whole.

import { describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { writeCounts } from '../../src/datanode/writeWhole.js'
import { hashableBuffer, isPageAligned } from '../../src/util/sha256.js'
import { randomFillSync } from 'node:crypto'
import { sha256Of } from '../helpers/sha256.js'
import { cachedBytes, diskFolder } from '../helpers/pageCache.js'
import { chunkPath } from '../helpers/nodeFolders.js'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { TestServers } from './tcpHelpers.js'

const MiB = 1024 * 1024
const servers = new TestServers()
afterEach(() => servers.cleanup())

async function withNode(run: (node: LocalFolderNode, dir: string) => Promise<void>): Promise<void> {
  const dir = diskFolder('dfs-direct-write-')
  const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
  try {
    await run(node, dir)
  } finally {
    await node.close()
  }
}

describe('writing chunks around the page cache', () => {
  it('writes a large chunk in page-aligned memory with O_DIRECT: none of it is cached, and it reads back whole', async () => {
    await withNode(async (node, dir) => {
      const data = randomFillSync(hashableBuffer(4 * MiB))
      expect(isPageAligned(data)).toBe(true)
      const id = newChunkId()
      const before = { ...writeCounts }
      await node.put(id, data, sha256Of(data), { fresh: true })
      expect(writeCounts.direct - before.direct).toBe(1)
      expect(writeCounts.buffered - before.buffered).toBe(0)
      expect(cachedBytes(chunkPath(dir, id))).toBe(0) // before its sync, too
      await node.sync([id])
      expect((await node.get(id)).equals(data)).toBe(true)
      expect((await node.usage()).used).toBe(4 * MiB)
    })
  })

  it('replaces a chunk put again (a repair over a bad copy) with O_DIRECT too', async () => {
    await withNode(async (node) => {
      const data = randomFillSync(hashableBuffer(2 * MiB))
      const id = newChunkId()
      await node.put(id, data, sha256Of(data), { fresh: true })
      const before = writeCounts.direct
      await node.put(id, data, sha256Of(data))
      expect(writeCounts.direct - before).toBe(1)
      expect((await node.get(id)).equals(data)).toBe(true)
      expect((await node.usage())).toMatchObject({ used: 2 * MiB, chunks: 1 })
    })
  })

  it('writes through the page cache what O_DIRECT cannot take: ordinary memory, an unaligned start or length, a small chunk', async () => {
    const aligned = randomFillSync(hashableBuffer(4 * MiB))
    const cases: [string, Buffer][] = [
      ['ordinary memory', randomFillSync(Buffer.alloc(4 * MiB))],
      ['a start past the page', aligned.subarray(4096)],
      ['a length short of a whole unit', aligned.subarray(0, 4 * MiB - 100)],
      ['a small chunk', randomFillSync(hashableBuffer(64 * 1024))],
    ]
    await withNode(async (node) => {
      for (const [what, data] of cases) {
        expect(isPageAligned(data), what).toBe(false)
        const id = newChunkId()
        const before = { ...writeCounts }
        await node.put(id, data, sha256Of(data), { fresh: data.length >= MiB })
        await node.sync([id])
        if (data.length >= 128 * 1024) expect(writeCounts.buffered - before.buffered, what).toBe(1)
        expect(writeCounts.direct - before.direct, what).toBe(0)
        expect((await node.get(id)).equals(data), what).toBe(true)
      }
    })
  })

  it('writes a large chunk put over TCP with O_DIRECT too (the decoder gives it memory of its own, past its SHA-256)', async () => {
    const dir = join(diskFolder('dfs-direct-tcp-'), 'node_1')
    mkdirSync(dir)
    const s = await servers.start({ dir })
    const node = await servers.connect(s.url)
    const data = randomFillSync(hashableBuffer(4 * MiB))
    const id = newChunkId()
    const before = { ...writeCounts }
    await node.put(id, data, sha256Of(data))
    expect(writeCounts.direct - before.direct).toBe(1) // the server runs in this process
    expect(writeCounts.buffered - before.buffered).toBe(0)
    expect(cachedBytes(chunkPath(dir, id))).toBe(0)
    expect((await node.get(id)).equals(data)).toBe(true)
  })
})
