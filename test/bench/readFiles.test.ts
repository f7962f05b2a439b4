// The bench's read-all figure (src/bench/readFiles.ts, run through measure.ts as the bench runs it):
// it reads every file back and refuses a folder that does not hold what was written, so a short read
// cannot pass for a fast one. No timing is asserted.

import { writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { readFiles } from '../../src/bench/measure.js'
import { tempDirForTest } from '../helpers/tmp.js'

const SCRIPT = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'dist', 'bench', 'readFiles.js')

async function folderOf(files: number, size: number): Promise<string> {
  const dir = tempDirForTest('read-all-').path
  for (let i = 0; i < files; i++) await writeFile(join(dir, `f${i}`), Buffer.alloc(size, i))
  return dir
}

describe('read-all of the small files', () => {
  it('reads every file and reports a rate', async () => {
    const r = await readFiles(SCRIPT, await folderOf(5, 4096), 5, 4096)
    expect(r.loopMs).toBeGreaterThan(0)
    expect(r.perSecond).toBeCloseTo(5 / (r.loopMs / 1000))
  })

  it('fails when a file is missing or short', async () => {
    await expect(readFiles(SCRIPT, await folderOf(4, 4096), 5, 4096)).rejects.toThrow(/4 files/)
    const dir = await folderOf(5, 4096)
    await writeFile(join(dir, 'f0'), Buffer.alloc(100))
    await expect(readFiles(SCRIPT, dir, 5, 4096)).rejects.toThrow(/expected 5 files of 4096 bytes/)
  })
})
