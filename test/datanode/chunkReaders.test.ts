// The chunk reader threads (src/datanode/chunkReaders.ts) when a disk hangs: a read that never
// returns must not stop the reads of healthy nodes behind it. A FIFO with no writer stands in for a
// hung disk: opening it for reading blocks the reader thread until someone opens it for writing.

import { execFileSync } from 'node:child_process'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
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

/**
 * Run `whileHung` while four reads hang (more than the pool has readers: 2 to 4, by cores), each on a
 * FIFO with no writer. The disks come back afterwards, pass or fail: each hung read then ends (an
 * empty file, not the size asked for), and its result is checked.
 */
async function withHungReads(whileHung: (dir: string) => Promise<void>): Promise<void> {
  const dir = makeTempDir('dfs-readers-').path
  const fifos = [0, 1, 2, 3].map((i) => join(dir, `hung-${i}`))
  for (const fifo of fifos) execFileSync('mkfifo', [fifo])
  const hung = fifos.map((fifo) => readChunkFile(fifo, new SharedArrayBuffer(64 * 1024), false))
  try {
    await whileHung(dir)
  } finally {
    await Promise.all(fifos.map(async (fifo) => (await open(fifo, 'w')).close()))
  }
  for (const result of await Promise.all(hung)) expect(result.size).toBe(0)
}

/** A healthy 1 MiB chunk file in dir, read on a reader thread within a generous deadline, and checked. */
async function readHealthy(dir: string, what: string): Promise<void> {
  const data = Buffer.alloc(1024 * 1024, 3)
  const healthy = join(dir, 'healthy')
  await writeFile(healthy, data)
  const read = await eventually(readChunkFile(healthy, new SharedArrayBuffer(data.length), false), what)
  expect(read).toMatchObject({ size: data.length, hex: sha256Of(data) })
}

describe('chunk reader threads', () => {
  it('add a reader when every one is stuck, so a healthy read behind hung ones still completes', async () => {
    await withHungReads(async (dir) => {
      await readHealthy(dir, 'the healthy read')
      expect(readerCount()).toBeGreaterThanOrEqual(4) // each hung read holds a reader of its own
    })
  }, 120_000)

  it('keep the reader added for a hung disk while the hung ones still hang: the next healthy read does not wait out another stall', async () => {
    await withHungReads(async (dir) => {
      await readHealthy(dir, 'the first healthy read')
      // Retiring it (as an extra beyond the pool's size) left only hung readers: every later read,
      // once the queue had drained, waited STALL_MS for a reader of its own.
      expect(readerCount()).toBeGreaterThan(4)
      await readHealthy(dir, 'the second healthy read')
      expect(readerCount()).toBeGreaterThan(4)
    })
  }, 120_000)

  it('let go of the memory of reads that failed: a node that lost its files must not pin every buffer sent to it', async () => {
    setFlagsFromString('--expose-gc')
    const collect = runInNewContext('gc') as () => void
    const settle = async () => {
      for (let i = 0; i < 3; i++) {
        collect()
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    await settle()
    const before = process.memoryUsage().rss
    const dir = makeTempDir('dfs-readers-').path
    for (let i = 0; i < 200; i++) {
      // Resident memory, as recycled chunk memory is; the file is missing, so nothing reads into it.
      const memory = new SharedArrayBuffer(4 * 1024 * 1024)
      new Uint8Array(memory).fill(1)
      await expect(readChunkFile(join(dir, `missing-${i}`), memory, false)).rejects.toMatchObject({ code: 'ENOENT' })
    }
    await settle()
    // 800 MiB went to the readers; each collects after 64 MiB handed to it. Unfixed (counting only
    // bytes read): all of it stayed resident until the reader happened to collect.
    expect((process.memoryUsage().rss - before) / 2 ** 20).toBeLessThan(400)
  }, 120_000)
})
