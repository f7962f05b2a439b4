// A read may return fewer bytes than asked without being at the end of the file (network and FUSE
// file systems do, a node folder may live on one): readWhole.ts reads on until the file ends, or a
// good copy would come back short and be reported corrupt.

import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { cleanupTempDirsAfterAll, makeTempDir } from '../helpers/tmp.js'

/** readv and read return at most this much per call, as a file system that answers in pieces. */
const PIECE = 4096

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>()
  /** The first PIECE bytes of buffers. */
  const clip = (buffers: NodeJS.ArrayBufferView[]) => {
    let left = PIECE
    return buffers.flatMap((b) => {
      const take = Math.min(left, b.byteLength)
      left -= take
      return take > 0 ? [new Uint8Array(b.buffer, b.byteOffset, take)] : []
    })
  }
  return {
    ...fs,
    readv: (fd: number, buffers: NodeJS.ArrayBufferView[], position: number, cb: (err: Error | null, n: number) => void) =>
      fs.readv(fd, clip(buffers), position, cb),
    read: (fd: number, buffer: Buffer, offset: number, length: number, position: number, cb: (err: Error | null, n: number) => void) =>
      fs.read(fd, buffer, offset, Math.min(length, PIECE), position, cb),
  }
})

const { readWholeFile } = await import('../../src/datanode/readWhole.js')

cleanupTempDirsAfterAll()

describe('a file system that answers reads in pieces', () => {
  it.each([1000, 100_000, 300_000])('reads a small chunk of a known length (%i bytes) whole', async (size) => {
    const path = join(makeTempDir('dfs-short-').path, 'chunk')
    const data = randomBytes(size)
    writeFileSync(path, data)
    const got = await readWholeFile(path, { refused: false }, size)
    expect(got.length).toBe(size)
    expect(got.equals(data)).toBe(true)
  })

  it.each([0, 99_999])('still sees a file longer than its ref (%i bytes)', async (len) => {
    const path = join(makeTempDir('dfs-short-').path, 'chunk')
    writeFileSync(path, randomBytes(100_000))
    const got = await readWholeFile(path, { refused: false }, len)
    expect(got.length).toBe(100_000)
  })

  it('returns a file shorter than its ref short', async () => {
    const path = join(makeTempDir('dfs-short-').path, 'chunk')
    const data = randomBytes(50_000)
    writeFileSync(path, data)
    const got = await readWholeFile(path, { refused: false }, 60_000)
    expect(got.equals(data)).toBe(true)
  })
})
