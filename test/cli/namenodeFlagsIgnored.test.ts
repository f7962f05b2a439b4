// A flag dfs namenode would ignore is refused instead: any flag but --meta, --standby-of,
// --secret-file and --log-level given to a standby (it serves nobody; its settings are its
// primary's), and --backup-every or --backup-keep without --backup-dir. Before, flags with a default
// (--standby-timeout, --backup-every, the healer's and liveness flags) were taken without a word
// and did nothing. One line, BAD_ARGUMENT, exit 1, and nothing is created.

import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { tempDirForTest } from '../helpers/tmp.js'

const dfs = (args: string[]) => run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, timeout: 60_000 })

describe('dfs namenode flags that would do nothing', () => {
  it('are refused, before anything is created', async () => {
    const base = tempDirForTest('namenode-flags-').path
    const secret = join(base, 'secret')
    await writeFile(secret, 'a cluster secret\n', { mode: 0o600 })
    const meta = join(base, 'meta')
    const standby = ['namenode', '--standby-of', 'tcp://127.0.0.1:9', '--meta', meta, '--secret-file', secret]
    const primary = ['namenode', '--meta', meta, '--listen', '127.0.0.1:0', '--secret-file', secret]
    for (const [args, problem] of [
      [[...standby, '--standby-timeout', '5s'], /--standby-timeout is not for a standby/],
      [[...standby, '--backup-every', '5m'], /--backup-every is not for a standby/],
      [[...standby, '--heartbeat', '1s'], /--heartbeat is not for a standby/],
      [[...standby, '--session-grace', '1m'], /--session-grace is not for a standby/],
      [[...primary, '--backup-every', '5m'], /--backup-every goes with --backup-dir/],
      [[...primary, '--backup-keep', '3'], /--backup-keep goes with --backup-dir/],
    ] as const) {
      const r = await dfs([...args])
      expect(r.code, args.join(' ')).toBe(1)
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1)
      expect(r.stderr).toMatch(problem)
      expect(r.stderr).toContain('[BAD_ARGUMENT]')
      expect((await readdir(base)).sort()).toEqual(['secret'])
    }
  })
})
