// The embedded mount is its NameNode's one client: `dfs status --json` lists it (in-process, with
// its mount point) and its counters move with what is done through the mount; `dfs status` shows a
// Clients section.

import { hostname } from 'node:os'
import { afterAll, describe, expect, it } from 'vitest'
import type { ClientSummary } from '../../src/protocol/clientStats.js'
import { until } from '../helpers/cli.js'
import { DFS_BIN, REPO_ROOT, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run, sh } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

stopAllAfterAll()

const runtime = makeTempDir('dfs-clients-runtime-')
const env = { DFS_RUNTIME_DIR: runtime.path }
const c = makeCluster(2, 'dfs-clients-')
afterAll(async () => {
  await c.cleanup()
  runtime.cleanup()
})

const dfs = (...args: string[]) => run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, env, timeout: 90_000 })

async function clients(): Promise<ClientSummary[]> {
  const r = await dfs('status', c.mnt, '--json')
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout).clients as ClientSummary[]
}

describe('the embedded mount as a client', () => {
  it('dfs status lists one in-process client whose op and node I/O counters move after a write', async () => {
    const daemon = await c.start({ env })
    await until(async () => (await clients()).length === 1, 60_000)
    const [me] = await clients()
    expect(me).toMatchObject({ host: hostname(), mountpoint: c.mnt, pid: daemon.pid, inProcess: true, connected: true })

    expect((await sh(`head -c 300000 /dev/urandom > ${c.mnt}/f && sync ${c.mnt}/f && stat ${c.mnt}/f > /dev/null`)).code).toBe(0)
    const moved = (s: ClientSummary) => (s.counters.ops.getattr?.count ?? 0) > 0 && (s.counters.ops.write?.count ?? 0) > 0 &&
      Object.values(s.counters.nodes).some(io => io.writeBytes >= 300_000)
    await until(async () => moved((await clients())[0]!), 60_000)

    const text = await dfs('status', c.mnt)
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain('1 client (1 connected)')
    expect(text.stdout).toMatch(new RegExp(`${hostname()}:${c.mnt}\\s+${daemon.pid}\\s`))
  })
})
