// The contract every DataNode transport must keep, as one suite any transport can run:
//
//   describeDataNode('LocalFolderNode', async () => ({ node, destroy, cleanup }))
//
// A TCP transport runs the same suite with a factory that starts a server; `destroy` is whatever
// makes the node's storage vanish underneath it (rm -rf of the server's folder).

import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { DataNode } from '../../src/datanode/DataNode.js'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { isDfsError, type ErrorCode } from '../../src/errors.js'
import { sha256Of } from '../helpers/sha256.js'

export interface DataNodeFixture {
  node: DataNode
  /** Make the node's storage disappear, as a user can (rm -rf its folder). */
  destroy(): Promise<void>
  /** Remove everything the fixture created (temp folders, servers). */
  cleanup(): Promise<void>
}

/** Ids that must be refused by every method, before anything touches the disk. */
export const INVALID_IDS: readonly unknown[] = [
  '../x',
  '../../../../etc/passwd',
  '/etc/passwd',
  'A'.repeat(32),
  'abc',
  '',
  'a'.repeat(33),
  'g'.repeat(32),
  `${'a'.repeat(31)}/`,
  `${'a'.repeat(32)}\n`,
  `${'a'.repeat(32)}.tmp-1`,
  'a'.repeat(16) + '\0' + 'a'.repeat(15),
  null,
  undefined,
  42,
]

/** Await p and return the DfsError code it rejects with (fails the test if it resolves). */
export async function codeOf(p: Promise<unknown>): Promise<ErrorCode | string> {
  try {
    await p
  } catch (err) {
    if (isDfsError(err)) return err.code
    return `not a DfsError: ${String(err)}`
  }
  throw new Error('expected the call to fail, but it succeeded')
}

export function describeDataNode(name: string, factory: () => Promise<DataNodeFixture>): void {
  describe(`DataNode contract: ${name}`, () => {
    let fixture: DataNodeFixture
    let node: DataNode
    beforeEach(async () => {
      fixture = await factory()
      node = fixture.node
    })
    afterEach(async () => {
      await fixture.cleanup()
    })

    it('stores and returns a chunk', async () => {
      const id = newChunkId()
      const data = randomBytes(100_000)
      await node.put(id, data, sha256Of(data))
      expect(Buffer.compare(await node.get(id), data)).toBe(0)
      expect(await node.has(id)).toBe(true)
      expect(await node.list()).toEqual([id])
    })

    it('stores an empty chunk and a large one', async () => {
      const empty = newChunkId()
      const large = newChunkId()
      const data = randomBytes(4 * 1024 * 1024 + 1)
      await node.put(empty, Buffer.alloc(0), sha256Of(Buffer.alloc(0)))
      await node.put(large, data, sha256Of(data))
      expect((await node.get(empty)).length).toBe(0)
      expect(Buffer.compare(await node.get(large), data)).toBe(0)
    })

    it('refuses a put whose bytes do not have the SHA-256 it carries, and stores nothing', async () => {
      for (const size of [10, 4 * 1024 * 1024]) {
        const id = newChunkId()
        const hashed = randomBytes(size)
        const sent = Buffer.from(hashed)
        sent[size - 1] ^= 1 // one bit changed after hashing, as a writer racing its own seal did
        expect(await codeOf(node.put(id, sent, sha256Of(hashed))), `${size} bytes`).toBe('CHUNK_HASH_MISMATCH')
        expect(await node.has(id)).toBe(false)
      }
      expect(await node.list()).toEqual([])
      expect((await node.usage()).chunks).toBe(0)
      // The node is fine afterwards: the same id with matching bytes is stored.
      const id = newChunkId()
      await node.put(id, Buffer.from('right'), sha256Of(Buffer.from('right')))
      expect((await node.get(id)).toString()).toBe('right')
    })

    it('reports a chunk it does not have as CHUNK_MISSING, and has() as false', async () => {
      const id = newChunkId()
      expect(await codeOf(node.get(id))).toBe('CHUNK_MISSING')
      expect(await node.has(id)).toBe(false)
    })

    it('puts the node and chunk into error context', async () => {
      const id = newChunkId()
      const err = await node.get(id).catch((e: unknown) => e)
      expect(isDfsError(err, 'CHUNK_MISSING')).toBe(true)
      expect((err as { context: Record<string, unknown> }).context).toMatchObject({ node: node.address, chunk: id })
    })

    it('deletes a chunk, and deleting a missing one is not an error', async () => {
      const id = newChunkId()
      await node.put(id, Buffer.from('hello'), sha256Of(Buffer.from('hello')))
      await node.delete(id)
      expect(await node.has(id)).toBe(false)
      expect(await node.list()).toEqual([])
      await node.delete(id)
      await node.delete(newChunkId())
    })

    it('replaces a chunk put twice (a repair over a bad copy) without double counting', async () => {
      const id = newChunkId()
      await node.put(id, Buffer.from('bad copy!'), sha256Of(Buffer.from('bad copy!')))
      await node.put(id, Buffer.from('good'), sha256Of(Buffer.from('good')))
      expect((await node.get(id)).toString()).toBe('good')
      const usage = await node.usage()
      expect(usage.chunks).toBe(1)
      expect(usage.used).toBe(4)
    })

    it('lists every chunk across subfolders', async () => {
      const ids = Array.from({ length: 60 }, newChunkId)
      await Promise.all(ids.map((id, i) => node.put(id, Buffer.from(`chunk ${i}`), sha256Of(Buffer.from(`chunk ${i}`)))))
      expect((await node.list()).sort()).toEqual([...ids].sort())
    })

    it('counts usage as chunks come and go', async () => {
      const before = await node.usage()
      expect(before).toMatchObject({ used: 0, chunks: 0 })
      expect(before.capacity).toBeGreaterThan(0)
      expect(before.available).toBeGreaterThan(0)
      expect(before.available).toBeLessThanOrEqual(before.capacity)
      expect(before.device, 'names the filesystem, so capacity counts each disk once').toMatch(/^.+:\d+$/)
      const a = newChunkId()
      const b = newChunkId()
      await node.put(a, Buffer.alloc(1000), sha256Of(Buffer.alloc(1000)))
      await node.put(b, Buffer.alloc(24), sha256Of(Buffer.alloc(24)))
      expect(await node.usage()).toMatchObject({ used: 1024, chunks: 2 })
      await node.delete(a)
      await node.delete(a)
      expect(await node.usage()).toMatchObject({ used: 24, chunks: 1 })
    })

    it('syncs chunks it has, and refuses to sync one it does not', async () => {
      const ids = Array.from({ length: 5 }, newChunkId)
      for (const id of ids) await node.put(id, Buffer.from(id), sha256Of(Buffer.from(id)))
      await node.sync(ids)
      await node.sync([...ids, ...ids])
      await node.sync([])
      expect(await codeOf(node.sync([newChunkId()]))).toBe('CHUNK_MISSING')
    })

    it('answers ping while it is there', async () => {
      await node.ping()
    })

    it('refuses invalid chunk ids in every method', async () => {
      for (const bad of INVALID_IDS) {
        const id = bad as string
        expect(await codeOf(node.put(id, Buffer.from('x'), sha256Of(Buffer.from('x')))), String(bad)).toBe('CHUNK_ID_INVALID')
        expect(await codeOf(node.get(id)), String(bad)).toBe('CHUNK_ID_INVALID')
        expect(await codeOf(node.has(id)), String(bad)).toBe('CHUNK_ID_INVALID')
        expect(await codeOf(node.delete(id)), String(bad)).toBe('CHUNK_ID_INVALID')
        expect(await codeOf(node.sync([newChunkId(), id])), String(bad)).toBe('CHUNK_ID_INVALID')
      }
      expect(await node.list()).toEqual([])
    })

    it('checks ids before touching storage: an invalid id is refused even when the storage is gone', async () => {
      await fixture.destroy()
      expect(await codeOf(node.put('../x', Buffer.from('x'), sha256Of(Buffer.from('x'))))).toBe('CHUNK_ID_INVALID')
      expect(await codeOf(node.get('../x'))).toBe('CHUNK_ID_INVALID')
      expect(await codeOf(node.delete('ABC'))).toBe('CHUNK_ID_INVALID')
    })

    it('fails every call with NODE_UNAVAILABLE once its storage is gone', async () => {
      const id = newChunkId()
      await node.put(id, Buffer.from('before'), sha256Of(Buffer.from('before')))
      await fixture.destroy()
      expect(await codeOf(node.put(newChunkId(), Buffer.from('after'), sha256Of(Buffer.from('after'))))).toBe('NODE_UNAVAILABLE')
      expect(await codeOf(node.get(id))).toBe('NODE_UNAVAILABLE')
      expect(await codeOf(node.has(id))).toBe('NODE_UNAVAILABLE')
      expect(await codeOf(node.delete(id))).toBe('NODE_UNAVAILABLE')
      expect(await codeOf(node.list())).toBe('NODE_UNAVAILABLE')
      expect(await codeOf(node.usage())).toBe('NODE_UNAVAILABLE')
      expect(await codeOf(node.sync([id]))).toBe('NODE_UNAVAILABLE')
      expect(await codeOf(node.ping())).toBe('NODE_UNAVAILABLE')
    })

    it('fails calls with NODE_UNAVAILABLE after close', async () => {
      await node.close()
      expect(await codeOf(node.get(newChunkId()))).toBe('NODE_UNAVAILABLE')
      expect(await codeOf(node.ping())).toBe('NODE_UNAVAILABLE')
    })
  })
}
