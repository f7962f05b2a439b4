// A reader of stored chunks copies each request's bytes out of the chunk store (ChunkIO.readInto): it
// never takes a chunk's buffer (read()), which would keep the chunk cache from reusing that memory
// once it evicts the chunk (test/chunks/ChunkStore.recycle.test.ts). Holes and short chunks read as zeros.

import { randomBytes } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { CHUNK, makeFs, readAll, writeFile } from './fakes.js'

describe('reading stored chunks', () => {
  it('copies every request out of the store with readInto, never read()', async () => {
    const { fs, chunks } = makeFs()
    const data = randomBytes(3 * CHUNK + 1000)
    await writeFile(fs, '/f', data)
    const read = vi.spyOn(chunks, 'read')
    const readInto = vi.spyOn(chunks, 'readInto')
    expect((await readAll(fs, '/f')).equals(data)).toBe(true)
    // readAll asks 100,000 bytes at a time: one readInto per chunk each request touches.
    expect(readInto.mock.calls.length).toBe(Math.ceil(data.length / 100_000) + 3)
    expect(readInto.mock.calls.every(([, , , , length]) => length <= 100_000)).toBe(true)
    // The fake's readInto reads through its own read(); the file system itself never calls it.
    expect(read.mock.calls.length).toBe(readInto.mock.calls.length)
  })

  it('reads a hole (a truncate that grew the file) as zeros', async () => {
    const { fs } = makeFs()
    const data = randomBytes(CHUNK)
    await writeFile(fs, '/f', data)
    await fs.truncate('/f', 3 * CHUNK)
    const back = await readAll(fs, '/f')
    expect(back.subarray(0, CHUNK).equals(data)).toBe(true)
    expect(back.subarray(CHUNK).every(b => b === 0)).toBe(true)
  })
})
