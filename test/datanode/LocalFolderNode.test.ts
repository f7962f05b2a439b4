import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { FolderWriter } from '../../src/datanode/folderWriter.js'
import { codeOf, describeDataNode, INVALID_IDS } from './describeDataNode.js'
import { TempDirs } from './tempDirs.js'
import { sha256Of } from '../helpers/sha256.js'

const CLUSTER = 'cluster-test'

describeDataNode('LocalFolderNode', async () => {
  const temp = new TempDirs()
  const dir = join(await temp.make(), 'node_1')
  await mkdir(dir)
  const node = await LocalFolderNode.open(dir, { clusterId: CLUSTER, create: true })
  return {
    node,
    destroy: () => rm(dir, { recursive: true, force: true }),
    cleanup: async () => {
      await node.close()
      await temp.cleanup()
    },
  }
})

describe('LocalFolderNode on disk', () => {
  const temp = new TempDirs()
  afterEach(() => temp.cleanup())

  async function openNew(): Promise<{ parent: string; dir: string; node: LocalFolderNode }> {
    const parent = await temp.make()
    const dir = join(parent, 'node_1')
    await mkdir(dir)
    return { parent, dir, node: await LocalFolderNode.open(dir, { clusterId: CLUSTER, create: true }) }
  }

  it('stores a chunk at chunks/<first two hex>/<id> and leaves no temp file', async () => {
    const { dir, node } = await openNew()
    const id = newChunkId()
    await node.put(id, Buffer.from('payload'), sha256Of(Buffer.from('payload')))
    expect(await readFile(join(dir, 'chunks', id.slice(0, 2), id), 'utf8')).toBe('payload')
    expect(await readdir(join(dir, 'chunks', id.slice(0, 2)))).toEqual([id])
  })

  it('never recreates a deleted node folder', async () => {
    const { dir, node } = await openNew()
    await rm(dir, { recursive: true })
    expect(await codeOf(node.put(newChunkId(), Buffer.from('x'), sha256Of(Buffer.from('x'))))).toBe('NODE_UNAVAILABLE')
    await node.list().catch(() => {})
    await node.sync([newChunkId()]).catch(() => {})
    expect(existsSync(dir)).toBe(false)
  })

  it('says which of a sync\'s paths failed: a chunk file as that chunk, a subfolder by its name', async () => {
    const { node } = await openNew()
    const [a, b] = ['aa', 'bb'].map((sub) => sub + newChunkId().slice(2))
    for (const id of [a, b]) await node.put(id, Buffer.from('x'), sha256Of(Buffer.from('x')))
    // The thread's paths: a, b, then the subfolders aa and bb. What fails is said as the thread says it.
    const failAt = (index: number, code: string) =>
      vi.spyOn(FolderWriter.prototype, 'sync').mockRejectedValueOnce(Object.assign(new Error(code), { code, syscall: 'open', index }))
    failAt(1, 'EIO')
    await expect(node.sync([a, b])).rejects.toMatchObject({ code: 'NODE_UNAVAILABLE', context: { chunk: b } })
    failAt(3, 'ENOENT')
    await expect(node.sync([a, b])).rejects.toMatchObject({ code: 'NODE_UNAVAILABLE', message: expect.stringContaining('chunks/bb is missing') })
    await expect(node.sync([a, b])).resolves.toBeUndefined()
    vi.restoreAllMocks()
  })

  it('reports a missing chunks/ folder as NODE_UNAVAILABLE, not CHUNK_MISSING', async () => {
    const { dir, node } = await openNew()
    const id = newChunkId()
    await node.put(id, Buffer.from('x'), sha256Of(Buffer.from('x')))
    await rm(join(dir, 'chunks'), { recursive: true })
    expect(await codeOf(node.get(id))).toBe('NODE_UNAVAILABLE')
    expect(await codeOf(node.ping())).toBe('NODE_UNAVAILABLE')
    expect(existsSync(join(dir, 'chunks'))).toBe(false)
  })

  it('fails ping when the folder was wiped and initialised again (a different node)', async () => {
    const { dir, node } = await openNew()
    await rm(dir, { recursive: true })
    await mkdir(dir)
    const other = await LocalFolderNode.open(dir, { clusterId: CLUSTER, create: true })
    expect(other.nodeId).not.toBe(node.nodeId)
    const err = await node.ping().catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NODE_UNAVAILABLE' })
    expect(String((err as Error).message)).toMatch(/wiped/)
    await other.ping()
  })

  it('writes nothing anywhere for an invalid id', async () => {
    const { parent, dir, node } = await openNew()
    const before = await readdir(parent, { recursive: true })
    for (const bad of INVALID_IDS) await node.put(bad as string, Buffer.from('x'), sha256Of(Buffer.from('x'))).catch(() => {})
    expect(await readdir(parent, { recursive: true })).toEqual(before)
    expect(existsSync(join(dir, 'x'))).toBe(false)
  })

  it('counts existing chunks when it opens', async () => {
    const { dir, node } = await openNew()
    await node.put(newChunkId(), Buffer.alloc(300), sha256Of(Buffer.alloc(300)))
    await node.put(newChunkId(), Buffer.alloc(200), sha256Of(Buffer.alloc(200)))
    await node.close()
    const reopened = await LocalFolderNode.open(dir, { clusterId: CLUSTER })
    expect(reopened.nodeId).toBe(node.nodeId)
    await reopened.counted // counted in the background: opening does not wait for it
    const usage = await reopened.usage()
    expect(usage).toMatchObject({ used: 500, chunks: 2 })
    expect(usage.counting).toBeUndefined()
  })

  it('counts nothing in a folder it made a node just now: its totals are whole at once', async () => {
    const { node } = await openNew()
    expect((await node.usage()).counting).toBeUndefined()
    await node.put(newChunkId(), Buffer.alloc(50), sha256Of(Buffer.alloc(50)), { fresh: true })
    expect(await node.usage()).toMatchObject({ used: 50, chunks: 1 })
    await node.close()
  })

  it('opens a folder of many chunks without waiting for their count, and keeps the totals exact through puts and deletes made meanwhile', async () => {
    const { dir, node } = await openNew()
    const ids = Array.from({ length: 600 }, newChunkId)
    for (const id of ids) await node.put(id, Buffer.alloc(100), sha256Of(Buffer.alloc(100)))
    await node.close()
    const reopened = await LocalFolderNode.open(dir, { clusterId: CLUSTER })
    // Changes in every kind of subfolder at once: not counted yet, being counted, counted.
    const added = Array.from({ length: 300 }, newChunkId)
    await Promise.all([
      ...added.map(id => reopened.put(id, Buffer.alloc(10), sha256Of(Buffer.alloc(10)), { fresh: true })),
      ...ids.slice(0, 200).map(id => reopened.delete(id)),
      ...ids.slice(200, 250).map(id => reopened.put(id, Buffer.alloc(30), sha256Of(Buffer.alloc(30)))), // replaced
    ])
    await reopened.counted
    const usage = await reopened.usage()
    expect(usage).toMatchObject({ chunks: 400 + 300, used: 350 * 100 + 50 * 30 + 300 * 10 })
    expect(usage.counting).toBeUndefined()
    await reopened.close()
  })

  it('skips temp and foreign files in list() and removes only stale temp files', async () => {
    const { dir, node } = await openNew()
    const id = newChunkId()
    await node.put(id, Buffer.from('x'), sha256Of(Buffer.from('x')))
    const sub = join(dir, 'chunks', id.slice(0, 2))
    const stale = join(sub, `${newChunkId()}.tmp-aaaaaa`)
    const fresh = join(sub, `${newChunkId()}.tmp-bbbbbb`)
    const foreign = join(sub, 'README')
    await writeFile(stale, 'half')
    await writeFile(fresh, 'half')
    await writeFile(foreign, 'not ours')
    const old = new Date(Date.now() - 10 * 60_000)
    await utimes(stale, old, old)

    expect(await node.list()).toEqual([id])
    expect(existsSync(stale)).toBe(false)
    expect(existsSync(fresh)).toBe(true)
    expect(existsSync(foreign)).toBe(true)
  })

  it('names the node by the address it was given', async () => {
    const parent = await temp.make()
    const dir = join(parent, 'node_9')
    await mkdir(dir)
    const node = await LocalFolderNode.open(dir, { clusterId: CLUSTER, create: true, address: 'node_9' })
    expect(node.address).toBe('node_9')
    expect(await node.get(newChunkId()).catch((e: unknown) => e)).toMatchObject({ context: { node: 'node_9' } })
  })
})
