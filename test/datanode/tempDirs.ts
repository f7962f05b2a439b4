// Temp folders a test owns, all removed by cleanup(): made by test/helpers/tmp.ts, so a removal
// never walks into a mount left inside one.

import { type TempDir, makeTempDir } from '../helpers/tmp.js'

export class TempDirs {
  readonly #dirs: TempDir[] = []

  async make(prefix = 'dfs-test-'): Promise<string> {
    const dir = makeTempDir(prefix)
    this.#dirs.push(dir)
    return dir.path
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.#dirs.splice(0).map((dir) => dir.cleanup()))
  }
}
