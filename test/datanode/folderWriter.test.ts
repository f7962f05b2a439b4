// A node folder's writer thread (folderWriter.ts): a new small chunk's put made there answers as the
// pool's calls did (the same errors, nothing left behind, the folder never recreated), and a message
// carries only the chunk's bytes. Its replace is whole or nothing, and its syncs are group commits
// that fail only the callers whose paths failed.

import { existsSync } from 'node:fs'
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { compact, FolderWriter, folderWriterCounts } from '../../src/datanode/folderWriter.js'
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

describe('a folder writer thread\'s replace and sync', () => {
  const temp = new TempDirs()
  afterEach(() => temp.cleanup())

  it('replaces a file whole and says how large the old one was; a replace that fails leaves no temp file', async () => {
    const dir = await temp.make()
    const writer = new FolderWriter()
    try {
      expect(await writer.replace(join(dir, 't1'), join(dir, 'a'), Buffer.from('first'))).toBeUndefined()
      expect(await writer.replace(join(dir, 't2'), join(dir, 'a'), Buffer.from('second!'))).toBe(5)
      expect(await readFile(join(dir, 'a'), 'utf8')).toBe('second!')
      // The name's folder is gone: written beside it, the rename fails, and the temp file goes.
      await expect(writer.replace(join(dir, 't3'), join(dir, 'missing', 'b'), Buffer.from('x'))).rejects.toMatchObject({ code: 'ENOENT', syscall: 'rename' })
      expect((await readdir(dir)).sort()).toEqual(['a'])
    } finally {
      writer.close()
    }
  })

  it('makes the syncs asked for while one is under way together, each path once (a group commit); a path in the group under way waits for the next', async () => {
    const dir = await temp.make()
    const writer = new FolderWriter()
    const posted = vi.spyOn(Worker.prototype, 'postMessage')
    try {
      for (const name of ['a', 'b', 'c']) await writer.write(join(dir, name), Buffer.from(name))
      const before = folderWriterCounts.synced
      posted.mockClear()
      // The first goes at once; the two asked for while it runs go together, the folder once, and
      // `a` again: its bytes may have changed after the fsync under way began.
      const first = writer.sync([join(dir, 'a'), dir])
      const second = writer.sync([join(dir, 'b'), dir, join(dir, 'a')])
      const third = writer.sync([join(dir, 'c'), dir, join(dir, 'c')])
      await Promise.all([first, second, third])
      expect(folderWriterCounts.synced - before).toBe(2)
      const groups = posted.mock.calls.map(([message]) => (message as { syncPaths?: string[] }).syncPaths)
      expect(groups).toEqual([[join(dir, 'a'), dir], [join(dir, 'b'), dir, join(dir, 'a'), join(dir, 'c')]])
      await writer.sync([])
      expect(folderWriterCounts.synced - before).toBe(2)
    } finally {
      posted.mockRestore()
      writer.close()
    }
  })

  it('fails only the callers whose paths failed, saying which of their own paths', async () => {
    const dir = await temp.make()
    const writer = new FolderWriter()
    try {
      await writer.write(join(dir, 'a'), Buffer.from('a'))
      const held = writer.sync([dir]) // under way: the next two go in one group, [dir, a, gone]
      const fine = writer.sync([dir, join(dir, 'a')])
      const failing = writer.sync([join(dir, 'a'), join(dir, 'gone'), dir])
      await held
      await expect(failing).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open', index: 1 })
      await expect(fine).resolves.toBeUndefined()
    } finally {
      writer.close()
    }
  })

  it('sends a large group in slices its thread holds: 25,000 paths', async () => {
    const dir = await temp.make()
    const writer = new FolderWriter()
    const posted = vi.spyOn(Worker.prototype, 'postMessage')
    try {
      await writer.write(join(dir, 'a'), Buffer.from('a'))
      const held = writer.sync([dir])
      posted.mockClear()
      const missing = Array.from({ length: 25_000 }, (_, i) => join(dir, `missing-${i}`))
      const failing = writer.sync(missing)
      const fine = writer.sync([join(dir, 'a')])
      await held
      await expect(failing).rejects.toMatchObject({ code: 'ENOENT', index: 0 })
      await expect(fine).resolves.toBeUndefined()
      const slices = posted.mock.calls.map(([message]) => (message as { syncPaths?: string[] }).syncPaths?.length)
      expect(slices.length).toBeGreaterThan(1)
      expect(slices.reduce((n, k) => n! + k!, 0)).toBe(25_001)
    } finally {
      posted.mockRestore()
      writer.close()
    }
  })

  it('fails the syncs still waiting for their group when it closes', async () => {
    const dir = await temp.make()
    const writer = new FolderWriter()
    const held = writer.sync([dir])
    const waiting = writer.sync([dir])
    writer.close()
    await expect(held).rejects.toThrow(/closed/)
    await expect(waiting).rejects.toThrow(/closed/)
  })
})
