// A sequential reader's fetches start before it waits for its own chunk (OpenFile.read): a cold
// reader's first request must not wait out the fetch of chunk 0 before anyone asks for chunk 1.

import { randomBytes } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { CHUNK, makeFs, writeFile } from './fakes.js'

describe('readahead of a sequential reader', () => {
  it('asks for the chunks ahead while its first request still waits for chunk 0, its own chunk first', async () => {
    const { fs, chunks } = makeFs()
    const data = randomBytes(8 * CHUNK)
    await writeFile(fs, '/f', data)
    const prefetch = vi.spyOn(chunks, 'prefetch')
    let release!: () => void
    chunks.readGate = new Promise<void>((resolve) => { release = resolve })

    const fh = await fs.open('/f')
    const out = Buffer.alloc(100_000)
    const reading = fs.read(fh, out, 0)
    await new Promise((resolve) => setImmediate(resolve))
    // Chunk 0 has not arrived: the request still waits, and chunks 0 (its own, first) to 4 are asked for.
    // Chunks 0 and 1 (the request spans both), then the 4 ahead of chunk 1, in file order.
    const asked = prefetch.mock.calls.map((call) => chunks.stored.get((call as unknown as [ChunkRef])[0].id))
    expect(asked.length).toBe(6)
    asked.forEach((bytes, i) => expect(bytes?.equals(data.subarray(i * CHUNK, (i + 1) * CHUNK))).toBe(true))

    release()
    chunks.readGate = null
    expect(await reading).toBe(out.length)
    expect(out.equals(data.subarray(0, out.length))).toBe(true)
    await fs.release(fh)
  })
})
