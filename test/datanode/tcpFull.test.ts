// A DataNode server whose disk is full: it says so (NODE_FULL, which is ENOSPC to a writer), its
// usage shows it, and chunk writes go to the nodes that have room.

import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ChunkStore } from '../../src/chunks/ChunkStore.js'
import { NodeRegistry } from '../../src/chunks/NodeRegistry.js'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { CLUSTER, TestServers } from './tcpHelpers.js'
import { sha256Of } from '../helpers/sha256.js'
import { mountTinyDisk, unmountTinyDisks } from '../helpers/tinyDisk.js'

const servers = new TestServers()
afterEach(async () => {
  // The tiny disk first (lazily: the server keeps what it holds open there until it closes), then
  // the folders: one with a disk still mounted in it cannot be removed, and was left in /tmp.
  unmountTinyDisks()
  await servers.cleanup()
})

async function fullServer() {
  const parent = await servers.temp.make('dfs-tcp-full-')
  const dir = join(parent, 'node_full')
  await mkdir(dir)
  mountTinyDisk(dir, '512k')
  return servers.start({ dir })
}

describe('a DataNode server with a full disk', () => {
  it('answers a put with NODE_FULL and reports little free space', async () => {
    const s = await fullServer()
    const node = await servers.connect(s.url)
    await expect(node.put(newChunkId(), Buffer.alloc(1024 * 1024, 7), sha256Of(Buffer.alloc(1024 * 1024, 7)))).rejects.toMatchObject({ code: 'NODE_FULL' })
    expect((await node.usage()).available).toBeLessThan(1024 * 1024)
    // Still serves what fits, and reads.
    const id = newChunkId()
    await node.put(id, Buffer.from('small'), sha256Of(Buffer.from('small')))
    expect((await node.get(id)).toString()).toBe('small')
  })

  it('makes chunk writes go to the nodes with room', async () => {
    const s = await fullServer()
    const full = await servers.connect(s.url)
    const registry = new NodeRegistry()
    registry.add(full)
    for (let i = 0; i < 2; i++) registry.add(servers.own(await LocalFolderNode.open(await servers.temp.make('dfs-tcp-room-'), { clusterId: CLUSTER, create: true })))
    const store = new ChunkStore({ registry, replicas: 2, cacheBytes: 0 })
    for (let i = 0; i < 6; i++) {
      const ref = await store.write(Buffer.alloc(1024 * 1024, i))
      expect(ref.nodes).toHaveLength(2)
      expect(ref.nodes).not.toContain(full.nodeId)
    }
    expect(registry.status(full.nodeId)?.full).toBe(true)
  })
})
