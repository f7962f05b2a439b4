// A node folder's writer thread (folderWriter.ts): a new small chunk's put made there answers as the
// pool's calls did (the same errors, nothing left behind, the folder never recreated), and a message
// carries only the chunk's bytes.

import { existsSync } from 'node:fs'
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { compact, FolderWriter } from '../../src/datanode/folderWriter.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { sha256Of } from '../helpers/sha256.js'
import { TempDirs } from './tempDirs.js'
import { mountTinyDisk, unmountTinyDisks } from '../helpers/tinyDisk.js'

describe('a new small chunk put through the folder\'s writer thread', () => {
  const temp = new TempDirs()
  afterEach(async () => {
    unmountTinyDisks()
    await temp.cleanup()
  })

  it('never recreates a deleted node folder: NODE_UNAVAILABLE', async () => {
    const dir = await temp.make()
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    await rm(dir, { recursive: true })
    const data = Buffer.from('x')
    await expect(node.put(newChunkId(), data, sha256Of(data), { fresh: true })).rejects.toMatchObject({ code: 'NODE_UNAVAILABLE' })
    expect(existsSync(dir)).toBe(false)
    await node.close()
  })

  it('turns ENOSPC into NODE_FULL and leaves nothing of the chunks it could not write', async () => {
    const dir = await temp.make()
    mountTinyDisk(dir, '128k')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    const data = Buffer.alloc(100 * 1024, 1)
    const ids = [newChunkId(), newChunkId()]
    const results = await Promise.allSettled(ids.map((id) => node.put(id, data, sha256Of(data), { fresh: true })))
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(failed.length).toBeGreaterThan(0)
    for (const r of failed) expect(r.reason).toMatchObject({ code: 'NODE_FULL' })
    // Written in place (a fresh id): a put cut short by the full disk removes its partial file.
    const stored = ids.filter((_, i) => results[i]!.status === 'fulfilled')
    const names = (await readdir(join(dir, 'chunks'), { recursive: true })).map((name) => name.split('/').pop()!)
    expect(names.filter((name) => name.length > 2).sort()).toEqual(stored.sort())
    expect(await node.list()).toEqual(stored)
    await node.close()
  })

  it('fails puts after close', async () => {
    const dir = await temp.make()
    const writer = new FolderWriter()
    const data = Buffer.from('kept')
    await writer.write(join(dir, 'a'), data)
    writer.close()
    await expect(writer.write(join(dir, 'b'), data)).rejects.toThrow(/closed/)
    expect((await readdir(dir)).sort()).toEqual(['a'])
  })

  it('carries only the bytes: a view of a larger buffer, or shared memory, goes as a copy of its own size', () => {
    const whole = Buffer.from(new Uint8Array(4096))
    expect(compact(whole)).toBe(whole)
    const view = Buffer.alloc(4 << 20).subarray(8192, 8192 + 4096)
    view.fill(7)
    const sent = compact(view)
    expect(sent.buffer.byteLength).toBe(4096)
    expect(Buffer.from(sent).equals(view)).toBe(true)
    const shared = Buffer.from(new SharedArrayBuffer(4096))
    expect(compact(shared).buffer).toBeInstanceOf(ArrayBuffer)
  })
})
