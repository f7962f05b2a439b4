// One writer per folder, with real processes: a second daemon on a metadata folder is refused even
// after meta/lock was deleted (and the first keeps every fsync'd file), and a second `dfs datanode`
// on a node folder, or a mount naming that folder directly, is refused at once naming the holder.

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it, onTestFinished } from 'vitest'
import { DFS_BIN, REPO_ROOT, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run, sh } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

stopAllAfterAll()

const root = makeTempDir('dfs-cli-locks-').path
const env = { DFS_RUNTIME_DIR: join(root, 'runtime') }

/** A refusal comes at once; the generous limit only stops a command that was wrongly let in from hanging the test. */
function dfs(args: string[]) {
  return run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, env, timeout: 30_000 })
}

const children: ChildProcess[] = []
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

/** `dfs datanode ...` in the background; resolves with its pid once it prints its banner. */
async function startDatanode(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [DFS_BIN, 'datanode', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('dfs datanode: serving')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`dfs datanode exited first (${code}): ${err}`)))
  })
  return child
}

describe('folder locks', () => {
  it('a second daemon is refused after meta/lock is deleted, and the first keeps what it fsyncs', async () => {
    const c = makeCluster(2, 'dfs-lock-meta-')
    try {
      const first = await c.start({ replicas: 2, env })
      await rm(join(c.meta, 'lock'))

      const mnt2 = join(c.root, 'mnt2')
      await mkdir(mnt2)
      const second = await dfs(['mount', mnt2, '--nodes', c.nodes.join(','), '--meta', c.meta, '--foreground'])
      expect(second.code, second.stderr).not.toBe(0)
      const lines = second.stderr.trim().split('\n')
      expect(lines, second.stderr).toHaveLength(1)
      expect(lines[0]).toContain(`metadata folder ${c.meta} is in use by process ${first.pid}`)
      expect(lines[0]).not.toMatch(/delete|remove/)

      // Looking is still allowed while it runs (read-only fsck takes no lock); repairing is not.
      const look = await dfs(['fsck', '--meta', c.meta, '--json'])
      const report = JSON.parse(look.stdout)
      expect(report.nodes.map((n: { reachable: boolean }) => n.reachable), look.stderr).toEqual([true, true])
      expect(report.metadata.intact).toBe(true)
      const repair = await dfs(['fsck', '--meta', c.meta, '--repair'])
      expect(repair.code).toBe(1)
      expect(repair.stderr).toContain(`in use by process ${first.pid}`)

      // The first daemon still owns the folder: a file fsync'd through it survives a remount.
      const w = await sh(`head -c 200000 /dev/urandom > ${root}/data && dd if=${root}/data of=${c.mnt}/kept bs=64k conv=fsync status=none`)
      expect(w.code, w.stderr).toBe(0)
      expect(JSON.parse(await readFile(join(c.meta, 'lock'), 'utf8')).pid).toBe(first.pid) // written again at its next journal write
      await first.stop()

      const again = await c.start({ env })
      const cmp = await run('cmp', [`${root}/data`, `${c.mnt}/kept`])
      expect(cmp.code, cmp.stderr + cmp.stdout).toBe(0)
      await again.stop()
    } finally {
      await c.cleanup()
    }
  }, 180_000)

  it('a second dfs datanode on one folder, or a mount naming the folder, is refused at once naming the holder', async () => {
    const dir = join(root, 'node_1')
    await mkdir(dir)
    const secret = join(root, 'secret')
    await writeFile(secret, 'a secret for the lock test\n', { mode: 0o600 })
    const first = await startDatanode(['--dir', dir, '--listen', '127.0.0.1:0', '--secret-file', secret])

    const second = await dfs(['datanode', '--dir', dir, '--listen', '127.0.0.1:0', '--secret-file', secret])
    expect(second.code).toBe(1)
    const lines = second.stderr.trim().split('\n')
    expect(lines, second.stderr).toHaveLength(1)
    expect(lines[0]).toContain(`node folder ${dir} is in use by process ${first.pid}`)
    expect(lines[0]).toContain('NODE_LOCKED')

    // A mount that would write the served folder directly is a second writer too; nothing is created.
    const meta = join(root, 'meta')
    const mnt = join(root, 'mnt')
    const other = join(root, 'node_2')
    await Promise.all([mkdir(meta), mkdir(mnt), mkdir(other)])
    const mount = await dfs(['mount', mnt, '--nodes', `${dir},${other}`, '--meta', meta, '--foreground'])
    expect(mount.code).not.toBe(0)
    expect(mount.stderr).toContain(`in use by process ${first.pid}`)
    expect(await sh(`ls -A ${meta} ${other} | grep -v : | grep . || true`).then((r) => r.stdout.trim())).toBe('')

    first.kill('SIGTERM')
    await new Promise((resolve) => first.once('exit', resolve))
    const third = await startDatanode(['--dir', dir, '--listen', '127.0.0.1:0', '--secret-file', secret])
    third.kill('SIGTERM')
    await new Promise((resolve) => third.once('exit', resolve))
  }, 180_000)
})
