// The chunk reader threads (src/datanode/chunkReaders.ts) when a disk hangs: a read that never
// returns must not stop the reads of healthy nodes behind it. A FIFO with no writer stands in for a
// hung disk: opening it for reading blocks the reader thread until someone opens it for writing.

import { execFileSync } from 'node:child_process'
import { open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readChunkFile, readerCount } from '../../src/datanode/chunkReaders.js'
import { sha256Of } from '../helpers/sha256.js'
import { cleanupTempDirsAfterAll, makeTempDir } from '../helpers/tmp.js'

cleanupTempDirsAfterAll()

/** A generous deadline for something that must happen (not a measure of how fast it did). */
function eventually<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} never completed`)), 60_000) })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

describe('chunk reader threads', () => {
  it('add a reader when every one is stuck, so a healthy read behind hung ones still completes', async () => {
    const dir = makeTempDir('dfs-readers-').path
    // More hung reads than the pool has readers (2 to 4, by cores).
    const fifos = [0, 1, 2, 3].map((i) => join(dir, `hung-${i}`))
    for (const fifo of fifos) execFileSync('mkfifo', [fifo])
    const hung = fifos.map((fifo) => readChunkFile(fifo, new SharedArrayBuffer(64 * 1024), false))
    // The disks come back in the end, pass or fail: each hung read ends (an empty file, not the size asked for).
    const unhang = () => Promise.all(fifos.map(async (fifo) => (await open(fifo, 'w')).close()))
    try {
      const data = Buffer.alloc(1024 * 1024, 3)
      const healthy = join(dir, 'healthy')
      await writeFile(healthy, data)
      const read = await eventually(readChunkFile(healthy, new SharedArrayBuffer(data.length), false), 'the healthy read')
      expect(read).toMatchObject({ size: data.length, hex: sha256Of(data) })
      expect(readerCount()).toBeGreaterThanOrEqual(fifos.length) // each hung read holds a reader of its own
    } finally {
      await unhang()
    }
    for (const result of await Promise.all(hung)) expect(result.size).toBe(0)
  }, 120_000)

  it('keep the reader added for a hung disk while the hung ones still hang: the next healthy read does not wait out another stall', async () => {
    const dir = makeTempDir('dfs-readers-').path
    const fifos = [0, 1, 2, 3].map((i) => join(dir, `hung-${i}`))
    for (const fifo of fifos) execFileSync('mkfifo', [fifo])
    const hung = fifos.map((fifo) => readChunkFile(fifo, new SharedArrayBuffer(64 * 1024), false))
    const unhang = () => Promise.all(fifos.map(async (fifo) => (await open(fifo, 'w')).close()))
    try {
      const data = Buffer.alloc(1024 * 1024, 5)
      const healthy = join(dir, 'healthy')
      await writeFile(healthy, data)
      await eventually(readChunkFile(healthy, new SharedArrayBuffer(data.length), false), 'the first healthy read')
      // Retiring it (as an extra beyond the pool's size) left only hung readers: every later read,
      // once the queue had drained, waited STALL_MS for a reader of its own.
      expect(readerCount()).toBeGreaterThan(fifos.length)
      const again = await eventually(readChunkFile(healthy, new SharedArrayBuffer(data.length), false), 'the second healthy read')
      expect(again).toMatchObject({ size: data.length, hex: sha256Of(data) })
      expect(readerCount()).toBeGreaterThan(fifos.length)
    } finally {
      await unhang()
    }
    await Promise.all(hung)
  }, 120_000)
})
