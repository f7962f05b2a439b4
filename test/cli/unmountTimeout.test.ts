// `dfs unmount` of a daemon that does not stop in time (here: SIGSTOPped, so it cannot) says so in
// one line that names a log only if that log exists (a --foreground daemon has none: its output went
// to its terminal) and how to go on. The daemon is resumed afterwards and handles the SIGTERM it got.

import { access, readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { until } from '../helpers/cli.js'
import { DFS_BIN, REPO_ROOT, forceUnmount, isMounted, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

stopAllAfterAll()

const runtime = join(makeTempDir('dfs-cli-unmount-').path, 'runtime')
const env = { DFS_RUNTIME_DIR: runtime }
const dfs = (args: string[]) => run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, env, timeout: 60_000 })

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The pid of the daemon the runtime folder records for mnt. */
async function daemonPid(mnt: string): Promise<number> {
  for (const name of await readdir(runtime)) {
    if (!name.endsWith('.json')) continue
    const record = JSON.parse(await readFile(join(runtime, name), 'utf8')) as { pid: number; mountpoint: string }
    if (record.mountpoint === mnt) return record.pid
  }
  throw new Error(`no daemon recorded for ${mnt}`)
}

const stopped: number[] = []
afterAll(async () => {
  // Whatever a failed test left: resume, then the helpers (and forceUnmount) stop and unmount.
  for (const pid of stopped) if (alive(pid)) process.kill(pid, 'SIGCONT')
}, 30_000)

describe('dfs unmount --timeout when the daemon does not stop', () => {
  it.each(['background', 'foreground'])('names a log only if it exists, and how to go on (%s)', async mode => {
    const c = makeCluster(3, `dfs-cli-unmount-${mode}-`)
    let pid: number | undefined
    try {
      if (mode === 'background') {
        const r = await dfs(['mount', c.mnt, '--nodes', c.nodes.join(','), '--meta', c.meta])
        expect(r.code, r.stderr).toBe(0)
      } else {
        await c.start({ env })
      }
      pid = await daemonPid(c.mnt)
      process.kill(pid, 'SIGSTOP')
      stopped.push(pid)

      const r = await dfs(['unmount', c.mnt, '--timeout', '1s'])

      const shown = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`
      expect(r.code, shown).toBe(1)
      const lines = r.stderr.trimEnd().split('\n')
      expect(lines, shown).toHaveLength(1)
      expect(lines[0], shown).toMatch(new RegExp(`^dfs: the dfs daemon \\(pid ${pid}\\) did not stop within 1s`))
      expect(lines[0], shown).toMatch(new RegExp(`dfs unmount again with a longer --timeout, or end it with kill -9 ${pid}`))
      expect(lines[0], shown).toMatch(/\[EIO\]$/)
      const log = /its log is (\S+);/.exec(lines[0])?.[1]
      if (mode === 'background') {
        expect(log, shown).toBeDefined()
        await access(log!) // the log it names is there
      } else {
        expect(log, shown).toBeUndefined()
      }
      expect(lines[0], shown).not.toContain(join(c.meta, 'daemon.log'))
    } finally {
      if (pid !== undefined && alive(pid)) {
        process.kill(pid, 'SIGCONT') // it handles the SIGTERM unmount sent: stores, unmounts, exits
        await until(async () => !alive(pid!), 30_000).catch(() => process.kill(pid!, 'SIGKILL'))
      }
      if (isMounted(c.mnt)) await forceUnmount(c.mnt)
      await c.cleanup()
    }
  }, 90_000)
})
