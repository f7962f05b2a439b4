// `dfs unmount` of a mount holding written bytes no node would store (a node folder deleted, fewer
// nodes left than --min-copies) must not say "unmounted" and exit 0 while those bytes are dropped:
// it names the files in one line and exits non-zero, and the daemon logs it at error level.

import { existsSync } from 'node:fs'
import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { recordStopLoss, takeStopLoss } from '../../src/daemon/registry.js'
import { stopLossError } from '../../src/daemon/unstored.js'
import { mountLogFolder } from '../../src/log/where.js'
import { DFS_BIN, REPO_ROOT, forceUnmount, isMounted, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

stopAllAfterAll()

const runtime = join(makeTempDir('dfs-cli-unstored-').path, 'runtime')
const env = { DFS_RUNTIME_DIR: runtime }
const dfs = (args: string[]) => run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, env, timeout: 120_000 })

describe('dfs unmount with bytes no node would store', () => {
  it('exits non-zero naming the files whose bytes were dropped, and the daemon logs it as an error', async () => {
    const c = makeCluster(2, 'dfs-cli-unstored-')
    try {
      const m = await dfs(['mount', c.mnt, '--nodes', c.nodes.join(','), '--meta', c.meta, '--replicas', '2', '--min-copies', '2'])
      expect(m.code, m.stderr).toBe(0)
      // The daemon may be writing into the folder meanwhile (a user's rm -rf races it the same way): retried.
      await rm(c.nodes[1], { recursive: true, force: true, maxRetries: 20 })
      const cp = await run('cp', ['/etc/services', join(c.mnt, 'svc')])
      expect(cp.code, 'the writer is told at close').not.toBe(0)

      const r = await dfs(['unmount', c.mnt])
      const shown = `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`
      expect(r.code, shown).not.toBe(0)
      expect(r.stdout, shown).not.toContain('dfs: unmounted')
      const lines = r.stderr.trimEnd().split('\n')
      expect(lines, shown).toHaveLength(1)
      expect(lines[0], shown).toContain(`${c.mnt}/svc`)
      expect(lines[0], shown).toContain('1 file')
      expect(lines[0], shown).toContain('dropped')
      expect(lines[0], shown).toMatch(/\[UNSTORED_DROPPED\]$/)
      expect(isMounted(c.mnt), 'it did unmount').toBe(false)

      const log = await logOf(c.mnt)
      const entries = log.split('\n').filter(Boolean).map(line => JSON.parse(line) as { level: number | string; msg: string })
      const dropped = entries.find(e => e.msg.includes('dropped'))
      expect(dropped, log).toBeDefined()
      expect(['error', 50]).toContain(dropped!.level)
      const storing = entries.find(e => e.msg.startsWith('storing chunk'))
      expect(storing, log).toBeDefined()
      expect(['warn', 40, 'error', 50]).toContain(storing!.level)

      // A second unmount finds nothing mounted; the report was read once.
      const again = await dfs(['unmount', c.mnt])
      expect(again.stderr).toMatch(/\[NOT_MOUNTED\]$/m)
    } finally {
      if (isMounted(c.mnt)) await forceUnmount(c.mnt)
      await c.cleanup()
    }
  }, 180_000)
})

describe('a daemon stopped by SIGTERM with bytes no node would store', () => {
  it('logs the files at error level and exits non-zero', async () => {
    const c = makeCluster(2, 'dfs-cli-unstored-term-')
    try {
      const daemon = await c.start({ replicas: 2, extraArgs: ['--min-copies', '2'], env })
      // The daemon may be writing into the folder meanwhile (a user's rm -rf races it the same way): retried.
      await rm(c.nodes[1], { recursive: true, force: true, maxRetries: 20 })
      const cp = await run('cp', ['/etc/services', join(c.mnt, 'svc')])
      expect(cp.code, 'the writer is told at close').not.toBe(0)
      process.kill(daemon.pid, 'SIGTERM')
      const status = await daemon.exited
      const shown = daemon.output()
      expect(status.code, shown).toBe(1)
      const line = daemon.stderr().trimEnd().split('\n').pop()
      expect(line, shown).toMatch(new RegExp(`^dfs: unmounting ${c.mnt} dropped .* 1 file .*: ${c.mnt}/svc; .* \\[UNSTORED_DROPPED\\]$`))
      expect(shown).toMatch(/ERROR.*unmounting .* dropped/)
      // Said once: a later dfs unmount finds nothing mounted, not the report again.
      const later = await dfs(['unmount', c.mnt])
      expect(later.stderr, `${later.stdout}${later.stderr}`).toMatch(/\[NOT_MOUNTED\]$/m)
    } finally {
      if (isMounted(c.mnt)) await forceUnmount(c.mnt)
      await c.cleanup()
    }
  }, 180_000)
})

describe('the report a stopping daemon leaves for dfs unmount', () => {
  it('is read once, carries an unsynced namespace, and reads the list of files an earlier dfs left', async () => {
    const mnt = join(makeTempDir('dfs-cli-stoploss-').path, 'mnt')
    await withRuntime(async () => {
      await recordStopLoss(mnt, { files: [], unsynced: 'metadata journal /m/journal.log cannot be written (ENOSPC)' })
      const loss = await takeStopLoss(mnt)
      expect(loss).toEqual({ files: [], unsynced: 'metadata journal /m/journal.log cannot be written (ENOSPC)' })
      expect(stopLossError(mnt, loss)?.message).toBe(`unmounting ${mnt} could not make the metadata durable (metadata journal /m/journal.log cannot be written (ENOSPC)); what changed since the last fsync that returned may be lost`)
      expect(stopLossError(mnt, loss)?.code).toBe('METADATA_UNSYNCED')
      expect(await takeStopLoss(mnt), 'read once').toEqual({ files: [] })

      // A daemon of an earlier dfs wrote the dropped files alone, as an array.
      await recordStopLoss(mnt, { files: [], unsynced: `marker ${mnt}` })
      const names = (await readdir(runtime)).filter(name => name.endsWith('.unstored'))
      const ours = []
      for (const name of names) if ((await readFile(join(runtime, name), 'utf8')).includes(`marker ${mnt}`)) ours.push(name)
      expect(ours).toHaveLength(1)
      const old = [{ ino: 9, path: '/old.txt', bytes: 100, reason: 'no node would take it' }]
      await writeFile(join(runtime, ours[0]!), JSON.stringify(old))
      const read = await takeStopLoss(mnt)
      expect(read).toEqual({ files: old })
      expect(stopLossError(mnt, read)?.code).toBe('UNSTORED_DROPPED')
      expect(stopLossError(mnt, { files: [] })).toBeUndefined()
    })
  })
})

async function withRuntime<T>(fn: () => Promise<T>): Promise<T> {
  const saved = process.env.DFS_RUNTIME_DIR
  process.env.DFS_RUNTIME_DIR = runtime
  try {
    return await fn()
  } finally {
    if (saved === undefined) delete process.env.DFS_RUNTIME_DIR
    else process.env.DFS_RUNTIME_DIR = saved
  }
}

/** The log as the test's runtime folder places it (DFS_RUNTIME_DIR keeps the logs beside it). */
async function logOf(mnt: string): Promise<string> {
  const saved = process.env.DFS_RUNTIME_DIR
  process.env.DFS_RUNTIME_DIR = runtime
  try {
    const path = join(mountLogFolder(mnt), 'current.log')
    return existsSync(path) ? await readFile(path, 'utf8') : ''
  } finally {
    if (saved === undefined) delete process.env.DFS_RUNTIME_DIR
    else process.env.DFS_RUNTIME_DIR = saved
  }
}
