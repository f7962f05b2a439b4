// A node's chunk ids a page at a time (src/datanode/listPages.ts): the same ids as list(), each once,
// in pages no larger than LIST_PAGE, from a local folder, over TCP, and from a node that lists only whole.

import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import type { DataNode } from '../../src/datanode/DataNode.js'
import { LIST_PAGE, listPages } from '../../src/datanode/listPages.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { chunkFilePath } from '../../src/datanode/identity.js'
import { TestServers } from './tcpHelpers.js'

async function paged(node: Pick<DataNode, 'list' | 'listPages'>): Promise<string[][]> {
  const pages: string[][] = []
  for await (const page of listPages(node)) pages.push(page)
  return pages
}

describe('listPages', () => {
  const servers = new TestServers()
  afterEach(() => servers.cleanup())

  it('pages a node folder\'s ids (more in one subfolder than a page holds), leaving temp files out', async () => {
    const dir = await servers.temp.make('dfs-pages-')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    try {
      // Chunk files made directly: LIST_PAGE + 10 in subfolder "ab" (more than a page), a few elsewhere.
      const ids = [
        ...Array.from({ length: LIST_PAGE + 10 }, () => `ab${newChunkId().slice(2)}`),
        ...Array.from({ length: 50 }, () => newChunkId()),
      ]
      await Promise.all(ids.map(async (id) => {
        const path = chunkFilePath(dir, id)
        await mkdir(join(path, '..'), { recursive: true })
        await writeFile(path, 'x')
      }))
      await writeFile(`${chunkFilePath(dir, ids[0]!)}.tmp-abc1`, 'partial')
      const pages = await paged(node)
      for (const page of pages) expect(page.length).toBeLessThanOrEqual(LIST_PAGE)
      expect(pages.flat().sort()).toEqual([...ids].sort())
      expect((await node.list()).sort()).toEqual([...ids].sort())
    } finally {
      await node.close()
    }
  })

  it('stops a listing under way once the node is closed', async () => {
    const dir = await servers.temp.make('dfs-pages-')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    const id = `00${newChunkId().slice(2)}`
    await writeFile(chunkFilePath(dir, id), 'x')
    const pages = listPages(node)[Symbol.asyncIterator]()
    expect((await pages.next()).value).toEqual([id])
    await node.close()
    await expect(pages.next()).rejects.toMatchObject({ code: 'NODE_UNAVAILABLE' })
  })

  it('pages a TCP node\'s reply the same way', async () => {
    const { dir, url } = await servers.start()
    // Chunk files made directly (faster than thousands of puts).
    const ids = Array.from({ length: LIST_PAGE * 2 + 1 }, () => newChunkId())
    for (let at = 0; at < ids.length; at += 1000) await Promise.all(ids.slice(at, at + 1000).map((id) => writeFile(chunkFilePath(dir, id), 'x')))
    const node = await servers.connect(url)
    const pages = await paged(node)
    expect(pages.map((p) => p.length)).toEqual([LIST_PAGE, LIST_PAGE, 1])
    expect(pages.flat().sort()).toEqual([...ids].sort())
  })

  it('cuts up the whole list of a node that has no pages of its own', async () => {
    const ids = Array.from({ length: LIST_PAGE + 1 }, () => newChunkId())
    const pages = await paged({ list: async () => ids })
    expect(pages.map((p) => p.length)).toEqual([LIST_PAGE, 1])
    expect(pages.flat()).toEqual(ids)
  })
})
