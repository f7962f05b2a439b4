// The mount daemon's log: in the background it goes to a folder of its own (printed by `dfs mount`),
// appended, never truncated, so the log of a daemon killed with kill -9 is still there after the
// remount; rotated by size, the newest file reached through current.log; filtered by --log-level,
// whose bad value is a one-line error that changes nothing.

import { lstat, readdir, readFile, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openLog } from '../../src/log/openLog.js'
import { DFS_BIN, REPO_ROOT, isMounted, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

stopAllAfterAll()

const root = makeTempDir('dfs-cli-logs-').path
const env = { DFS_RUNTIME_DIR: join(root, 'runtime'), DFS_LOG_DIR: join(root, 'logs') }
const dfs = (...args: string[]) => run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, env, timeout: 60_000 })

/** Background daemons this file started: killed by pid if a test left one running. */
const started = new Map<number, string>()
afterAll(async () => {
  for (const [pid, mnt] of started) {
    if (isMounted(mnt)) await dfs('unmount', mnt)
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.includes(mnt)) process.kill(pid, 'SIGKILL')
  }
}, 60_000)

async function mountInBackground(c: ReturnType<typeof makeCluster>, ...extra: string[]): Promise<{ pid: number; log: string }> {
  const r = await dfs('mount', c.mnt, '--nodes', c.nodes.join(','), '--meta', c.meta, ...extra)
  expect(r.code, r.stderr).toBe(0)
  const log = /; log: (.*)$/m.exec(r.stdout)?.[1]
  expect(log, r.stdout).toBeDefined()
  const status = await dfs('status', c.mnt, '--json')
  expect(status.code, status.stdout + status.stderr).toBe(0)
  const pid = (JSON.parse(status.stdout) as { pid: number }).pid
  started.set(pid, c.mnt)
  return { pid, log: log as string }
}

const entries = (text: string) => text.trim().split('\n').filter(Boolean).map(line => JSON.parse(line) as { level: string; pid: number; msg: string })

describe('the background daemon\'s log', () => {
  it('survives a kill -9 and the remount: the first daemon\'s lines are still there', async () => {
    const c = makeCluster(2, 'dfs-logs-kill-')
    const first = await mountInBackground(c)
    expect(first.log).toBe(join(env.DFS_LOG_DIR, (await readdir(env.DFS_LOG_DIR))[0], 'current.log'))
    process.kill(first.pid, 'SIGKILL')
    // Gone, not a zombie: the metadata lock counts a pid that still exists as its holder, and here
    // the killed daemon's new parent (pid 1) reaps it only every few seconds.
    await expect.poll(async () => (await readFile(`/proc/${first.pid}/stat`, 'utf8').catch(() => 'gone')), { timeout: 30_000, interval: 200 }).toBe('gone')

    const second = await mountInBackground(c) // mounting again recovers the mount the crash left
    expect(second.log).toBe(first.log)
    const unmounted = await dfs('unmount', c.mnt)
    expect(unmounted.code, unmounted.stderr).toBe(0)

    const lines = entries(await readFile(first.log, 'utf8'))
    const said = (pid: number, what: string) => lines.some(l => l.pid === pid && l.msg.startsWith(what))
    // The last line the killed daemon wrote is there, and so is everything of the one after it.
    expect(said(first.pid, `mounted ${c.mnt}`), JSON.stringify(lines)).toBe(true)
    expect(said(second.pid, `mounting ${c.mnt}`)).toBe(true)
    expect(said(second.pid, `unmounted ${c.mnt}`)).toBe(true)
    expect(lines.findIndex(l => l.pid === first.pid)).toBeLessThan(lines.findIndex(l => l.pid === second.pid))
  })

  it('--log-level error leaves out the info lines (mounting, mounted, unmounted)', async () => {
    const c = makeCluster(2, 'dfs-logs-level-')
    const quiet = await mountInBackground(c, '--log-level', 'error')
    expect((await dfs('unmount', c.mnt)).code).toBe(0)
    const text = await readFile(quiet.log, 'utf8')
    expect(entries(text).filter(l => l.pid === quiet.pid)).toEqual([])
  })

  it('a bad --log-level is one line naming the choices, and nothing is created', async () => {
    const c = makeCluster(2, 'dfs-logs-bad-')
    for (const foreground of [[], ['--foreground']]) {
      const r = await dfs('mount', c.mnt, '--nodes', c.nodes.join(','), '--meta', join(c.root, 'new-meta'), '--log-level', 'loud', ...foreground)
      expect(r.code).toBe(1)
      expect(r.stdout).toBe('')
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^dfs: --log-level "loud" is not a log level; use one of error, warn, info, debug \[BAD_ARGUMENT\]$/)])
      await expect(lstat(join(c.root, 'new-meta'))).rejects.toMatchObject({ code: 'ENOENT' })
      for (const node of c.nodes) expect(await readdir(node)).toEqual([])
      expect(isMounted(c.mnt)).toBe(false)
    }
    const d = await dfs('datanode', '--dir', c.nodes[0], '--listen', '127.0.0.1:0', '--secret-file', join(root, 'no-secret'), '--log-level', 'verbose')
    expect(d.code).toBe(1)
    expect(d.stderr.trim().split('\n')).toEqual([expect.stringContaining('--log-level "verbose" is not a log level')])
  })
})

describe('log rotation', () => {
  it('starts a new file past the size limit, keeps 5 besides the current one, and current.log points at the newest', async () => {
    const folder = makeTempDir('dfs-logs-roll-').path
    const { log, close } = await openLog({ level: 'info', folder, fileSize: 1024 })
    const total = 400
    for (let i = 0; i < total; i++) {
      log(`line ${i} ${'x'.repeat(60)}`)
      await new Promise(resolve => setImmediate(resolve)) // a turn between lines, as a daemon's lines come
    }
    close()
    // pino-roll removes the oldest files in the background: wait for that, then look. (Any removal
    // still under way aims at files older than the newest six.)
    const logFiles = async () => (await readdir(folder)).filter(name => /^dfs\.\d+\.log$/.test(name))
    await expect.poll(async () => (await logFiles()).length, { timeout: 10_000 }).toBeLessThanOrEqual(6)
    const number = (name: string) => Number(/\d+/.exec(name)?.[0])
    const files = (await logFiles()).sort((a, b) => number(a) - number(b))
    expect(files).toHaveLength(6) // the one in use and the 5 before it
    expect(number(files[0])).toBeGreaterThan(1) // the oldest were removed
    expect(await readlink(join(folder, 'current.log'))).toBe(files[files.length - 1])
    // Every file but the newest stopped near the limit; the kept ones together hold the last lines in order.
    const kept: string[] = []
    for (const name of files) {
      const text = await readFile(join(folder, name), 'utf8')
      if (name !== files[files.length - 1]) expect(text.length).toBeLessThan(4 * 1024)
      kept.push(...entries(text).map(l => l.msg))
    }
    const first = Number(/^line (\d+)/.exec(kept[0])?.[1])
    expect(kept).toEqual(Array.from({ length: total - first }, (_, k) => `line ${first + k} ${'x'.repeat(60)}`))
  })

  it('a line logged in the same instant as a kill -9 is in the file (written synchronously)', async () => {
    const folder = makeTempDir('dfs-logs-last-').path
    const script = `
      const { openLog } = await import(${JSON.stringify(join(REPO_ROOT, 'dist', 'log', 'openLog.js'))})
      const { log } = await openLog({ level: 'info', folder: ${JSON.stringify(folder)} })
      log.warn('last words')
      process.kill(process.pid, 'SIGKILL')`
    const r = await run(process.execPath, ['--input-type=module', '-e', script])
    expect(r.signal).toBe('SIGKILL')
    expect(entries(await readFile(join(folder, 'current.log'), 'utf8'))).toMatchObject([{ level: 'warn', msg: 'last words' }])
  })

  it('a second process appends to the newest file rather than starting over', async () => {
    const folder = makeTempDir('dfs-logs-append-').path
    for (const n of [1, 2]) {
      const { log, close } = await openLog({ level: 'info', folder })
      log(`process ${n}`)
      close()
    }
    expect(entries(await readFile(join(folder, 'current.log'), 'utf8')).map(l => l.msg)).toEqual(['process 1', 'process 2'])
  })
})
