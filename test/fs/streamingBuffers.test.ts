// Chunk buffers of a streaming writer (src/fs/OpenFile.ts): the first chunk grows by doubling (a small
// file never costs a whole chunk), every later chunk the writer reaches by filling the one before is
// allocated at its full size at once, with none of the copies of growing. All of it hashable memory.

import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { DirtyBudget } from '../../src/fs/DirtyBudget.js'
import { FileSystem } from '../../src/fs/FileSystem.js'
import { NameNode } from '../../src/namenode/NameNode.js'
import { InProcessSession } from '../../src/protocol/InProcessSession.js'
import { MemoryChunks, MemoryStore } from './fakes.js'

const MiB = 1024 * 1024
const CHUNK = MiB

function makeFs() {
  const meta = new MemoryStore()
  const chunks = new MemoryChunks()
  const nameNode = new NameNode({ meta, replicas: 2, deleteChunks: ids => chunks.delete(ids), log: () => {} })
  nameNode.start(0)
  const session = new InProcessSession(nameNode, { clusterId: 'test', chunkSize: CHUNK, replicas: 2 }, async () => ({ total: 1 << 30, available: 1 << 29 }))
  const fs = new FileSystem({ meta: session, chunks, chunkSize: CHUNK, dirtyLimit: 64 * CHUNK, owner: { uid: 0, gid: 0 }, log: () => {} })
  return { fs, chunks }
}

afterEach(() => vi.restoreAllMocks())

describe('chunk buffers of a streaming writer', () => {
  it('allocates each chunk past the first at its full size, once', async () => {
    const { fs, chunks } = makeFs()
    const taken: number[] = []
    const take = DirtyBudget.prototype.take
    vi.spyOn(DirtyBudget.prototype, 'take').mockImplementation(function (this: DirtyBudget, bytes: number) {
      taken.push(bytes)
      take.call(this, bytes)
    })
    const stored: Buffer[] = []
    const write = chunks.write.bind(chunks)
    chunks.write = (data: Buffer) => { stored.push(data); return write(data) }

    const data = randomBytes(3 * CHUNK)
    const fh = await fs.create('/stream', 0o644)
    for (let at = 0; at < data.length; at += 128 * 1024) await fs.write(fh, data.subarray(at, at + 128 * 1024), at)
    await fs.release(fh)

    // The first chunk: 128 KiB (the first write), doubled to 1 MiB (three copies); the next two: 1 MiB each, at once.
    expect(taken).toEqual([128 * 1024, 128 * 1024, 256 * 1024, 512 * 1024, CHUNK, CHUNK])
    expect(stored.map(b => b.buffer instanceof SharedArrayBuffer)).toEqual([true, true, true])
  })
})
