// A large chunk is read with O_DIRECT (datanode/readWhole.ts says why): its bytes go from the disk
// into the reader's buffer, and none of the file enters the page cache. Checked against the kernel
// itself with fincore(1), which reports how many bytes of a file are cached. A memory file system
// (tmpfs) cannot drop pages nor read directly, so the node folder lives on a disk-backed one.

import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { readCounts } from '../../src/datanode/readWhole.js'
import { verifyChunk } from '../../src/chunks/verify.js'
import { hashCounts } from '../../src/util/sha256.js'
import { open } from 'node:fs/promises'
import { sha256Of } from '../helpers/sha256.js'
import { cachedBytes, diskFolder } from '../helpers/pageCache.js'
import { chunkPath } from '../helpers/nodeFolders.js'


/** Write the file's dirty pages and drop its cached ones (GNU dd: nocache with count=0 advises DONTNEED for the whole file). */
function evict(path: string): void {
  execFileSync('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none'])
  execFileSync('dd', [`of=${path}`, 'oflag=nocache', 'conv=notrunc,fdatasync', 'count=0', 'status=none'])
}

function pattern(size: number): Buffer {
  const data = Buffer.alloc(size)
  for (let i = 0; i + 4 <= size; i += 4096) data.writeUInt32LE(i, i)
  return data
}

describe('reading chunks around the page cache', () => {
  it('reads a large chunk with O_DIRECT: whole, and none of it enters the page cache', async () => {
    const dir = diskFolder('dfs-direct-')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    try {
      const data = pattern(4 * 1024 * 1024)
      const id = newChunkId()
      await node.put(id, data, sha256Of(data), { fresh: true })
      await node.sync([id])
      evict(chunkPath(dir, id))
      expect(cachedBytes(chunkPath(dir, id))).toBe(0)

      const before = { ...readCounts }
      const got = await node.get(id)
      expect(got.equals(data)).toBe(true)
      expect(readCounts.direct - before.direct).toBe(1)
      expect(readCounts.buffered - before.buffered).toBe(0)
      expect(cachedBytes(chunkPath(dir, id))).toBe(0)
    } finally {
      await node.close()
    }
  })

  it('reads a chunk written but not yet synced, whole (the kernel writes its dirty pages first)', async () => {
    const dir = diskFolder('dfs-direct-')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    try {
      const data = pattern(2 * 1024 * 1024)
      data.fill(7, 5000, 9000)
      const id = newChunkId()
      await node.put(id, data, sha256Of(data), { fresh: true })
      const before = readCounts.direct
      expect((await node.get(id)).equals(data)).toBe(true)
      expect(readCounts.direct - before).toBe(1)
    } finally {
      await node.close()
    }
  })

  it('reads small chunks and chunks of an unaligned length through the page cache, whole', async () => {
    const dir = diskFolder('dfs-direct-')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    try {
      for (const size of [0, 4096, 100_000, 4 * 1024 * 1024 + 100]) {
        const data = pattern(size)
        const id = newChunkId()
        await node.put(id, data, sha256Of(data), { fresh: true })
        const before = { ...readCounts }
        expect((await node.get(id)).equals(data)).toBe(true)
        expect(readCounts.buffered - before.buffered).toBe(1)
        expect(readCounts.direct - before.direct).toBe(0)
      }
    } finally {
      await node.close()
    }
  })

  it('reads a chunk of the length its ref records on a reader thread that hashes it as it reads: one hash, none after, and the page cache untouched', async () => {
    const dir = diskFolder('dfs-direct-')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    try {
      const data = pattern(4 * 1024 * 1024)
      const id = newChunkId()
      const ref = { id, len: data.length, sha256: sha256Of(data) }
      await node.put(id, data, ref.sha256, { fresh: true })
      await node.sync([id])
      evict(chunkPath(dir, id))

      const reads = { ...readCounts }
      const hashes = { ...hashCounts }
      const got = await node.get(id, { len: ref.len })
      await verifyChunk(ref, got)
      expect(got.equals(data)).toBe(true)
      expect(readCounts.direct - reads.direct).toBe(1)
      expect(hashCounts.whileRead - hashes.whileRead).toBe(1)
      expect(hashCounts.shared - hashes.shared + hashCounts.copied - hashes.copied + hashCounts.inline - hashes.inline).toBe(0)
      expect(cachedBytes(chunkPath(dir, id))).toBe(0)
    } finally {
      await node.close()
    }
  })

  it('still refuses a copy whose bytes changed on disk, and one of another length, read on a reader thread', async () => {
    const dir = diskFolder('dfs-direct-')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    try {
      const data = pattern(2 * 1024 * 1024)
      const id = newChunkId()
      const ref = { id, len: data.length, sha256: sha256Of(data) }
      await node.put(id, data, ref.sha256, { fresh: true })
      const file = await open(chunkPath(dir, id), 'r+')
      await file.write(Buffer.from([0xff]), 0, 1, 1_000_000)
      await file.close()
      await expect(verifyChunk(ref, await node.get(id, { len: ref.len }))).rejects.toMatchObject({ code: 'CHUNK_CORRUPT' })

      const longer = { ...ref, len: ref.len + 64 * 1024 }
      const got = await node.get(id, { len: longer.len })
      expect(got.length).toBe(data.length)
      await expect(verifyChunk(longer, got)).rejects.toMatchObject({ code: 'CHUNK_CORRUPT' })
      await expect(node.get(newChunkId(), { len: ref.len })).rejects.toMatchObject({ code: 'CHUNK_MISSING' })
    } finally {
      await node.close()
    }
  })

  it('reads a small chunk of the length its ref records with two awaited file calls (open, readv), and still sees a longer or shorter file', async () => {
    const dir = diskFolder('dfs-direct-')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    try {
      const data = pattern(4096)
      data.fill(9, 100, 200)
      const id = newChunkId()
      const ref = { id, len: data.length, sha256: sha256Of(data) }
      await node.put(id, data, ref.sha256, { fresh: true })

      const before = readCounts.calls
      const got = await node.get(id, { len: ref.len })
      expect(readCounts.calls - before).toBe(2)
      expect(got.equals(data)).toBe(true)
      await verifyChunk(ref, got)

      const longer = await node.get(id, { len: ref.len - 1 })
      expect(longer.length).toBe(data.length)
      await expect(verifyChunk({ ...ref, len: ref.len - 1 }, longer)).rejects.toMatchObject({ code: 'CHUNK_CORRUPT' })
      const shorter = await node.get(id, { len: ref.len + 10 })
      expect(shorter.equals(data)).toBe(true)
      await expect(verifyChunk({ ...ref, len: ref.len + 10 }, shorter)).rejects.toMatchObject({ code: 'CHUNK_CORRUPT' })
      await expect(node.get(newChunkId(), { len: 10 })).rejects.toMatchObject({ code: 'CHUNK_MISSING' })
    } finally {
      await node.close()
    }
  })
})
