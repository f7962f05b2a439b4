// Temp folders a test owns: made under os.tmpdir(), all removed by cleanup().

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export class TempDirs {
  readonly #dirs: string[] = []

  async make(prefix = 'dfs-test-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    this.#dirs.push(dir)
    return dir
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.#dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
  }
}
