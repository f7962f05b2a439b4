// A standby's metadata folder through the commands a user runs: every one that would write to it as
// its owner (dfs mount --meta, dfs namenode --meta, dfs fsck --repair, --release-orphans) is refused
// in one line naming the primary and both fixes, changing nothing; dfs fsck without --repair looks.

import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openCluster } from '../../src/cluster/openCluster.js'
import { writeStandbyMark } from '../../src/meta/standbyMark.js'
import { dfs } from '../helpers/cli.js'
import { isMounted } from '../helpers/mount.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { treeListing } from '../helpers/tree.js'

const PRIMARY = 'tcp://127.0.0.1:7000'

describe("a standby's metadata folder", () => {
  it('is refused by mount, namenode, fsck --repair and --release-orphans, changing nothing; fsck looks', { timeout: 300_000 }, async () => {
    const root = tempDirForTest('dfs-standby-cli-').path
    const nodes = ['n1', 'n2'].map((n) => join(root, n))
    for (const dir of nodes) await mkdir(dir)
    const meta = join(root, 'meta')
    await (await openCluster({ meta, nodes, replicas: 2, cacheBytes: 0, log: () => {} }, { create: true })).close()
    await writeStandbyMark(meta, PRIMARY)
    const mnt = join(root, 'mnt')
    await mkdir(mnt)
    const secretFile = join(root, 'secret')
    await writeFile(secretFile, 'a-secret-shared-by-all-roles-0123456789', { mode: 0o600 })
    const before = await treeListing([root])

    const refused = [
      ['mount', mnt, '--meta', meta],
      ['namenode', '--meta', meta, '--listen', '127.0.0.1:0', '--secret-file', secretFile],
      ['fsck', '--meta', meta, '--repair'],
      ['fsck', '--meta', meta, '--release-orphans'],
    ]
    for (const args of refused) {
      const r = await dfs(...args)
      expect(r.code, `dfs ${args.join(' ')}`).not.toBe(0)
      expect(r.stderr.trim().split('\n'), `dfs ${args.join(' ')}`).toEqual([
        `dfs: metadata folder ${meta} is a standby of ${PRIMARY}: it follows that NameNode and must not be opened as a primary; ` +
        `to keep following, dfs namenode --meta ${meta} --standby-of ${PRIMARY} --secret-file <f>; ` +
        `to take over from it, dfs namenode --meta ${meta} --promote --listen <host:port> --secret-file <f> [STANDBY_FOLDER]`,
      ])
      expect(isMounted(mnt)).toBe(false)
    }
    expect(await treeListing([root])).toEqual(before)

    const look = await dfs('fsck', '--meta', meta)
    expect(look.code, look.stderr).toBe(0)
    expect(look.stdout).toMatch(/healthy/)
  })

  it('--accept-loss without --promote is refused before anything is opened', async () => {
    const root = tempDirForTest('dfs-standby-cli-').path
    const secretFile = join(root, 'secret')
    await writeFile(secretFile, 'a-secret-shared-by-all-roles-0123456789', { mode: 0o600 })
    const r = await dfs('namenode', '--meta', join(root, 'meta'), '--listen', '127.0.0.1:0', '--secret-file', secretFile, '--accept-loss')
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim()).toBe('dfs: --accept-loss goes with --promote (a standby taking over); leave it out [BAD_ARGUMENT]')
    expect(existsSync(join(root, 'meta'))).toBe(false)
  })
})

