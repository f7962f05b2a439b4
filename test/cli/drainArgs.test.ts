// `dfs drain` with --cancel or --undo takes only a mount point; without them it needs the node. A
// mistake is one line naming the fix, exit 1, before any daemon is asked anything.

import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

const env = { DFS_RUNTIME_DIR: join(makeTempDir('dfs-drain-args-').path, 'runtime') }
const dfs = (...args: string[]) => run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, env })

describe('dfs drain arguments', () => {
  it.each([
    [[], 'dfs: name the node to drain (its id or address, as dfs status shows): dfs drain <node> [mountpoint]; or --cancel, or --undo <node> [BAD_ARGUMENT]'],
    [['--cancel', 'a', 'b'], 'dfs: --cancel takes only a mount point, not a and b: dfs drain --cancel [mountpoint] [BAD_ARGUMENT]'],
    [['--undo', 'x', 'a', 'b'], 'dfs: --undo x takes only a mount point, not a and b: dfs drain --undo <node> [mountpoint] [BAD_ARGUMENT]'],
    [['--cancel', '--undo', 'x'], 'dfs: give --cancel or --undo <node>, not both [BAD_ARGUMENT]'],
  ])('dfs drain %j', async (args, message) => {
    const r = await dfs('drain', ...args)
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`${message}\n`)
    expect(r.stdout).toBe('')
  })
})
