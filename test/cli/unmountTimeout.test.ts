// `dfs unmount` of a daemon that cannot stop (SIGSTOPped) says so at once in one line with how to go
// on, rather than waiting out --timeout; and the message for a daemon that agreed to stop but did not
// within --timeout names a log only if that log exists (a --foreground daemon has none).

import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { notStoppedInTime, stopWaitMs } from '../../src/cli/unmount.js'
import { mountLogFolder } from '../../src/log/where.js'
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

describe('dfs unmount of a daemon that cannot stop', () => {
  it.each(['background', 'foreground'])('a stopped daemon is named at once with how to go on, whatever the --timeout (%s)', async mode => {
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

      const r = await dfs(['unmount', c.mnt, '--timeout', '10m'])

      const shown = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`
      expect(r.code, shown).toBe(1)
      const lines = r.stderr.trimEnd().split('\n')
      expect(lines, shown).toHaveLength(1)
      expect(lines[0], shown).toContain(`${pid}`)
      expect(lines[0], shown).toContain(`kill -CONT ${pid}`)
      expect(lines[0], shown).toMatch(/\[DAEMON_NOT_ANSWERING\]$/)
      expect(isMounted(c.mnt), 'nothing was detached without --force').toBe(true)
    } finally {
      if (pid !== undefined && alive(pid)) {
        process.kill(pid, 'SIGCONT')
        process.kill(pid, 'SIGTERM') // it stores, unmounts, exits
        await until(async () => !alive(pid!), 30_000).catch(() => process.kill(pid!, 'SIGKILL'))
      }
      if (isMounted(c.mnt)) await forceUnmount(c.mnt)
      await c.cleanup()
    }
  }, 90_000)
})

describe('the message when a daemon does not stop within --timeout', () => {
  it('names the log only when it exists, and how to go on', async () => {
    const mnt = join(makeTempDir('dfs-cli-unmount-msg-').path, 'mnt')
    const before = await withEnv(env, () => notStoppedInTime(4242, mnt, '1s'))
    expect(before.code).toBe('EIO')
    expect(before.message).toMatch(/^the dfs daemon \(pid 4242\) did not stop within 1s; run dfs unmount again with a longer --timeout, or end it with kill -9 4242/)
    expect(before.message).not.toContain('its log is')

    const log = await withEnv(env, async () => join(mountLogFolder(mnt), 'current.log'))
    await mkdir(dirname(log), { recursive: true })
    await writeFile(log, 'a line\n')
    const after = await withEnv(env, () => notStoppedInTime(4242, mnt, '1s'))
    expect(after.message).toContain(`its log is ${log};`)
  })
})

describe('how long dfs unmount waits for the daemon to stop', () => {
  it('waits --timeout as given, and by default 60 s or as long as the daemon says its stop may take', () => {
    expect(stopWaitMs(undefined, undefined)).toBe(60_000)
    expect(stopWaitMs(undefined, { pid: 1 })).toBe(60_000)
    // A NameNode's client (--namenode-timeout 60s: its kernel requests may wait 120 s).
    expect(stopWaitMs(undefined, { pid: 1, stopMayTakeMs: 120_000 })).toBe(120_000)
    expect(stopWaitMs(undefined, { pid: 1, stopMayTakeMs: 5_000 })).toBe(60_000)
    // What the user asked for wins, shorter or longer.
    expect(stopWaitMs('10s', { pid: 1, stopMayTakeMs: 120_000 })).toBe(10_000)
    expect(stopWaitMs('5m', { pid: 1, stopMayTakeMs: 120_000 })).toBe(300_000)
    // A daemon's answer is not trusted to be a number.
    expect(stopWaitMs(undefined, { pid: 1, stopMayTakeMs: 'soon' as unknown as number })).toBe(60_000)
  })
})

async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map(k => [k, process.env[k]]))
  Object.assign(process.env, vars)
  try {
    return await fn()
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v
  }
}
