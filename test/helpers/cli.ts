// Driving the dfs command from tests: run it, read a mount's status, wait for a condition.

import { expect } from 'vitest'
import { callControl } from '../../src/daemon/control.js'
import { controlSocketPath } from '../../src/daemon/registry.js'
import { DFS_BIN, REPO_ROOT } from './mount.js'
import { run } from './run.js'

/** `node bin/dfs.js <args>` from the repository root; never throws on a non-zero exit. */
export function dfs(...args: string[]) {
  return run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, timeout: 60_000 })
}

/** `dfs status <mountpoint> --json`, parsed; fails the test if the command fails. */
export async function statusOf(mountpoint: string): Promise<any> {
  const r = await dfs('status', mountpoint, '--json')
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}

/**
 * What `dfs status <mountpoint> --json` prints, asked of the daemon's control socket from this
 * process: for conditions polled while waiting (a `dfs status` process costs ~0.4 s of CPU; the
 * command itself is tested in test/cli).
 */
export async function daemonStatus(mountpoint: string): Promise<any> {
  return callControl(await controlSocketPath(mountpoint), 'status')
}

/** Poll `what` until it is true; throws after `ms`. */
export async function until(what: () => Promise<boolean>, ms: number, everyMs = 200): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}
