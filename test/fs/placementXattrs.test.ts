// user.dfs.placement and user.dfs.chunks in the file system core: computed on each read from the
// NameNode session's placement, never listed (so cp -a, rsync -X, tar --xattrs do not copy them),
// never set or removed (EPERM), and ordinary user.* xattrs are unaffected.

import { describe, expect, it } from 'vitest'
import { NodeRegistry } from '../../src/chunks/NodeRegistry.js'
import type { DataNode } from '../../src/datanode/DataNode.js'
import { FileSystem } from '../../src/fs/FileSystem.js'
import { NameNode } from '../../src/namenode/NameNode.js'
import { filePlacement } from '../../src/namenode/filePlacement.js'
import { InProcessSession } from '../../src/protocol/InProcessSession.js'
import { CHUNK, MemoryChunks, MemoryStore, writeFile } from './fakes.js'

function makePlacementFs() {
  const meta = new MemoryStore()
  const chunks = new MemoryChunks() // puts every chunk on n1 and n2
  const logs: string[] = []
  const registry = new NodeRegistry()
  for (const n of ['n1', 'n2']) registry.add({ nodeId: n, address: `/nodes/${n}` } as unknown as DataNode)
  const nameNode = new NameNode({ meta, replicas: 2, deleteChunks: ids => chunks.delete(ids), log: m => logs.push(m) })
  nameNode.start(0)
  const settings = { clusterId: 'test', chunkSize: CHUNK, replicas: 2 }
  const session = new InProcessSession(nameNode, settings, async () => ({ total: 1 << 30, available: 1 << 29 }),
    { placement: (ino, path) => filePlacement({ state: nameNode.state, registry, chunkSize: CHUNK, replicas: 2, graceMs: 10_000 }, ino, path) })
  const fs = new FileSystem({ meta: session, chunks, chunkSize: CHUNK, dirtyLimit: 64 * CHUNK, owner: { uid: 0, gid: 0 }, log: m => logs.push(m) })
  return { fs, registry, logs, nameNode }
}

describe('placement xattrs', () => {
  it('user.dfs.placement is the placement JSON; user.dfs.chunks one line per chunk', async () => {
    const { fs, registry } = makePlacementFs()
    await writeFile(fs, '/f', Buffer.alloc(2 * CHUNK + 10, 7))
    const placement = JSON.parse((await fs.getxattr('/f', 'user.dfs.placement')).toString())
    expect(placement).toMatchObject({ path: '/f', type: 'file', size: 2 * CHUNK + 10, chunkSize: CHUNK, replicas: 2 })
    expect(placement.chunks.map((c: any) => [c.index, c.length, c.intact])).toEqual([[0, CHUNK, 2], [1, CHUNK, 2], [2, 10, 2]])
    expect(placement).toEqual(await fs.placement('/f'))

    registry.markSuspect('n2', 'no heartbeat')
    const lines = (await fs.getxattr('/f', 'user.dfs.chunks')).toString().trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    const [index, id, length, sha, copies] = lines[2].split(' ')
    expect([index, length, copies]).toEqual(['2', '10', 'n1:ok,n2:unreachable'])
    expect(id).toBe(placement.chunks[2].id)
    expect(sha).toBe(placement.chunks[2].sha256)
  })

  it('are not listed, cannot be set or removed, and leave ordinary xattrs alone', async () => {
    const { fs, logs } = makePlacementFs()
    await writeFile(fs, '/f', Buffer.alloc(10, 1))
    await fs.setxattr('/f', 'user.mine', Buffer.from('v'), 0)
    expect(await fs.listxattr('/f')).toEqual(['user.mine'])
    await expect(fs.setxattr('/f', 'user.dfs.placement', Buffer.from('{}'), 0)).rejects.toMatchObject({ code: 'EPERM' })
    await expect(fs.removexattr('/f', 'user.dfs.chunks')).rejects.toMatchObject({ code: 'EPERM' })
    expect(logs.join('\n')).toMatch(/cannot set user\.dfs\.placement: dfs computes it/)
    expect(await fs.listxattr('/f')).toEqual(['user.mine'])
    expect((await fs.getxattr('/f', 'user.mine')).toString()).toBe('v')
  })

  it('a directory has its inode and no chunks; a missing path is ENOENT', async () => {
    const { fs } = makePlacementFs()
    await fs.mkdir('/d', 0o755)
    expect(JSON.parse((await fs.getxattr('/d', 'user.dfs.placement')).toString())).toMatchObject({ type: 'dir', chunks: [] })
    expect((await fs.getxattr('/d', 'user.dfs.chunks')).length).toBe(0)
    await expect(fs.getxattr('/nope', 'user.dfs.placement')).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('a placement over the 64 KiB an xattr can hold is E2BIG, naming dfs info', async () => {
    const { fs } = makePlacementFs()
    await writeFile(fs, '/big', Buffer.alloc(300 * CHUNK, 3), 16 * CHUNK)
    await expect(fs.getxattr('/big', 'user.dfs.placement')).rejects.toMatchObject({ code: 'E2BIG', message: expect.stringMatching(/use dfs info \/big/) })
    expect((await fs.getxattr('/big', 'user.dfs.chunks')).toString().split('\n')).toHaveLength(301)
  })
})
