// dfs namenode --backup-dir that cannot hold backups is refused before the NameNode opens anything:
// a file (or a path below one), the metadata folder itself, or a folder inside it (backups are for
// when that disk fails). One line with a code, exit 1, and the metadata folder is byte-for-byte the
// same (before, a file was an "unexpected error" after the NameNode had already claimed a new epoch,
// and the metadata folder was taken as a backup folder without a word).

import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { treeListing } from '../helpers/tree.js'
import { openNamespace } from '../meta/namespaceFolder.js'

describe('dfs namenode --backup-dir', () => {
  it('refuses a folder that cannot hold backups, changing nothing', async () => {
    const base = tempDirForTest('backup-dir-args-').path
    const meta = join(base, 'meta')
    const store = await openNamespace(meta)
    await store.close()
    await mkdir(join(meta, 'inside'))
    const secret = join(base, 'secret')
    await writeFile(secret, 'a cluster secret of enough length\n', { mode: 0o600 })
    const file = join(base, 'a-file')
    await writeFile(file, 'not a folder')
    const before = await treeListing([base])
    for (const [dir, problem] of [
      [file, /a-file is a file, not a folder/],
      [join(file, 'below'), /a-file is a file, not a folder/],
      [meta, /is the metadata folder; .*another disk/],
      [join(meta, 'inside'), /inside the metadata folder .*another disk/],
      [join(meta, 'new'), /inside the metadata folder .*another disk/],
    ] as const) {
      const r = await run(process.execPath, [DFS_BIN, 'namenode', '--meta', meta, '--listen', '127.0.0.1:0', '--secret-file', secret, '--backup-dir', dir], { cwd: REPO_ROOT, timeout: 60_000 })
      expect(r.code, dir).toBe(1)
      expect(r.stderr.trim().split('\n'), dir).toHaveLength(1)
      expect(r.stderr, dir).toMatch(problem)
      expect(r.stderr, dir).toContain('[BAD_ARGUMENT]')
      expect(await treeListing([base]), dir).toEqual(before)
    }
  })
})
