// `dfs unmount` from a runtime folder that does not list the daemon (another DFS_RUNTIME_DIR, another
// user, sudo) must not take a live, busy mount for a stale one: it refuses and says why and how to go
// on; --force detaches it anyway, and the daemon serving it stops cleanly.

import { spawn } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { until } from '../helpers/cli.js'
import { DFS_BIN, REPO_ROOT, forceUnmount, isMounted, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

stopAllAfterAll()

const root = makeTempDir('dfs-cli-unlisted-').path
const mounter = { DFS_RUNTIME_DIR: join(root, 'runtime') }
const other = { DFS_RUNTIME_DIR: join(root, 'other') }
const dfs = (env: Record<string, string>, args: string[]) => run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, env, timeout: 120_000 })

describe('dfs unmount of a live mount its runtime folder does not list', () => {
  it('refuses naming the folder it looked in; --force detaches it and its daemon stops', async () => {
    const c = makeCluster(2, 'dfs-cli-unlisted-')
    let busy: ReturnType<typeof spawn> | undefined
    try {
      const m = await dfs(mounter, ['mount', c.mnt, '--nodes', c.nodes.join(','), '--meta', c.meta])
      expect(m.code, m.stderr).toBe(0)
      busy = spawn('sleep', ['1000'], { cwd: c.mnt, stdio: 'ignore' })
      await until(async () => busy!.pid !== undefined, 10_000)

      const r = await dfs(other, ['unmount', c.mnt])
      const shown = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`
      expect(r.code, shown).not.toBe(0)
      const lines = r.stderr.trimEnd().split('\n')
      expect(lines, shown).toHaveLength(1)
      expect(lines[0], shown).toContain(c.mnt)
      expect(lines[0], shown).toContain(other.DFS_RUNTIME_DIR)
      expect(lines[0], shown).toContain('DFS_RUNTIME_DIR')
      expect(lines[0], shown).toContain('--force')
      expect(lines[0], shown).toContain('sleep')
      expect(lines[0], shown).toMatch(/\[DAEMON_NOT_LISTED\]$/)
      expect(isMounted(c.mnt), 'nothing was detached').toBe(true)
      expect(busy.exitCode, 'the process using it was left alone').toBeNull()

      const f = await dfs(other, ['unmount', '--force', c.mnt])
      expect(f.code, f.stderr).toBe(0)
      expect(f.stdout).toContain('detached')
      expect(isMounted(c.mnt)).toBe(false)
      // The daemon saw its mount go and stopped: its own runtime folder no longer lists it.
      await until(async () => (await readdir(mounter.DFS_RUNTIME_DIR)).every(name => !name.endsWith('.json')), 60_000)
    } finally {
      busy?.kill()
      if (isMounted(c.mnt)) await forceUnmount(c.mnt)
      await c.cleanup()
    }
  }, 180_000)
})
