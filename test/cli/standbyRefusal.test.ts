// dfs namenode --standby-of refusing a folder it cannot follow with: another cluster's, or a copy
// of the primary's own (not superseded, so it may hold the newest namespace). One line on stderr
// with a code, exit 1, and the folder byte-for-byte the same (the refusal used to be said twice: the
// standby's log line, then the command's).

import { cp, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { NameNodeHost } from '../../src/namenode/openNameNode.js'
import { NameNodeServer } from '../../src/namenode/server.js'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { treeListing } from '../helpers/tree.js'
import { openNamespace } from '../meta/namespaceFolder.js'

const quiet = () => {}
const stops: Array<() => Promise<void>> = []
afterAll(async () => { for (const stop of stops.splice(0)) await stop() })

describe('dfs namenode --standby-of on a folder it cannot follow with', () => {
  it('refuses in one line with a code and changes nothing', { timeout: 180_000 }, async () => {
    const base = tempDirForTest('standby-refusal-').path
    const secretFile = join(base, 'secret')
    await writeFile(secretFile, 'the cluster secret\n', { mode: 0o600 })
    for (const n of ['n1', 'n2']) await mkdir(join(base, n))
    const host = await NameNodeHost.open({
      meta: join(base, 'meta'), nodes: [join(base, 'n1'), join(base, 'n2')], replicas: 2, cacheBytes: 0, log: quiet, reopenGraceMs: 60_000,
      liveness: { intervalMs: 500, suspectAfterMs: 2000, deadAfterMs: 10_000 },
      healing: { graceMs: 10_000, bandwidthBytesPerSec: 0, orphanGraceMs: 60_000 },
      scrub: { bytesPerSec: 0 },
    })
    const server = await NameNodeServer.start({ host, listen: '127.0.0.1:0', secret: Buffer.from('the cluster secret'), log: quiet, sessionGraceMs: 60_000 })
    stops.push(async () => { await server.close(); await host.close() })

    const foreign = join(base, 'foreign')
    await (await openNamespace(foreign)).close()
    const copy = join(base, 'copy')
    await cp(join(base, 'meta'), copy, { recursive: true })
    await rm(join(copy, 'lock'), { force: true })

    for (const [folder, problem] of [[foreign, /holds cluster .* serves cluster/], [copy, /has not superseded/]] as const) {
      const before = await treeListing([folder])
      const r = await run(process.execPath, [DFS_BIN, 'namenode', '--standby-of', `tcp://127.0.0.1:${server.port}`, '--meta', folder, '--secret-file', secretFile], { cwd: REPO_ROOT, timeout: 120_000 })
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1)
      expect(r.stderr).toMatch(problem)
      expect(r.stderr).toContain('[META_FOREIGN]')
      expect(await treeListing([folder])).toEqual(before)
    }
  })
})
