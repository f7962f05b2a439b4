// A usage error in a subcommand (`dfs meta load` without --meta, an unknown flag to `dfs meta dump`)
// is one line naming the subcommand and its help, exit 2, as for every other command; it used to be
// commander's bare "error: required option …".

import { describe, expect, it } from 'vitest'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'

const dfs = (args: string[]) => run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, timeout: 60_000 })

describe('usage errors of subcommands', () => {
  it.each([
    [['meta', 'load'], /^dfs meta load: required option '--meta <dir>' not specified; see dfs meta load --help$/],
    [['meta', 'dump', '--bogus'], /^dfs meta dump: unknown option '--bogus'; see dfs meta dump --help$/],
  ])('dfs %j', async (args, line) => {
    const r = await dfs(args)
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr.trim()).toMatch(line)
  })
})
