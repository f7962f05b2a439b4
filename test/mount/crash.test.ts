// The daemon killed with SIGKILL in the middle of a large copy, and two daemons on one metadata
// folder. What the design promises and these tests hold it to:
//  - a byte that fsync acknowledged survives kill -9 of the daemon at any moment;
//  - `dfs mount` on the same mount point afterwards just works, whether the crash left the mount
//    stale (daemon and its auto-unmount helper both killed) or the helper cleared it (daemon alone);
//  - `dfs fsck` afterwards finds nothing lost or under-replicated; orphan chunks (stored, never
//    journaled) are allowed, and `--repair` removes them;
//  - only one daemon at a time uses a metadata folder; the second is told who holds it.
// Nothing is asserted about data that was never fsync'd beyond what the design allows (absent,
// empty or whole for a one-chunk file; no longer than written for the big one).
//
// The mount is reached only from child processes (python3, cp, cmp, stat).

import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type Cluster, type DfsDaemon, DFS_BIN, REPO_ROOT, findMount, isMounted, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run, sh } from '../helpers/run.js'

stopAllAfterAll()

const CHUNK = 64 * 1024
const MIB = 1 << 20
const DAEMON_FLAGS = { replicas: 2, chunkSize: '64k', extraArgs: ['--cache', '1M'] }

// ---- helpers -------------------------------------------------------------------------------------

function dfsCli(args: string[], env?: NodeJS.ProcessEnv) {
  return run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, timeout: 120_000, env })
}

async function fsckJson(meta: string) {
  const r = await dfsCli(['fsck', '--meta', meta, '--json'])
  let report
  try {
    report = JSON.parse(r.stdout) as {
      lost: unknown[]; underReplicated: unknown[]; badReplicas: unknown[]; orphans: unknown[]
      nodes: { reachable: boolean }[]
    }
  } catch {
    throw new Error(`dfs fsck --json printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
  }
  return { code: r.code, report }
}

async function dropCaches(): Promise<void> {
  expect((await sh('echo 3 > /proc/sys/vm/drop_caches')).code).toBe(0)
}

/** Write a local file onto the mount with write + fsync + close (python), and check that all three succeeded. */
async function putSynced(from: string, to: string): Promise<void> {
  const script = 'import os,sys\nf=open(sys.argv[2],"wb")\nf.write(open(sys.argv[1],"rb").read())\nf.flush()\nos.fsync(f.fileno())\nf.close()'
  const r = await run('python3', ['-c', script, from, to])
  expect(r.code, `fsync'd write of ${to}: ${r.stderr}`).toBe(0)
}

async function local(c: Cluster, name: string, size: number): Promise<string> {
  await mkdir(join(c.root, 'src'), { recursive: true })
  const path = join(c.root, 'src', name)
  await writeFile(path, randomBytes(size))
  return path
}

// A copy of `from` to `to` in 1 MiB writes that prints `at <MiB>` after each, so the test can kill
// the daemon at a known point while the copy is still going. Exits 3 when a write fails.
const COPIER = `
import sys
src, dst = sys.argv[1], sys.argv[2]
done = 0
try:
    with open(src, 'rb') as s, open(dst, 'wb', buffering=0) as f:
        while True:
            block = s.read(1 << 20)
            if not block:
                break
            view = memoryview(block)
            while view:
                view = view[f.write(view):]
            done += 1
            print('at', done, flush=True)
except OSError as e:
    print('failed', e.errno, e.strerror, flush=True)
    sys.exit(3)
`

interface Copier {
  child: ChildProcess
  /** Resolves when the copy has written `mib` MiB. */
  reached(mib: number): Promise<void>
  exited: Promise<number | null>
  output(): string
}

const copiers: ChildProcess[] = []
afterEach(() => {
  // A copier still running after its test (a failed assertion) is ended by its pid.
  for (const child of copiers.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

function startCopier(from: string, to: string): Copier {
  const child = spawn('python3', ['-c', COPIER, from, to], { stdio: ['ignore', 'pipe', 'pipe'] })
  copiers.push(child)
  let out = ''
  let at = 0
  const waiting: { mib: number; resolve: () => void; reject: (e: Error) => void }[] = []
  const exited = new Promise<number | null>(resolve => child.once('exit', code => {
    for (const w of waiting.splice(0)) w.reject(new Error(`the copy ended at ${at} MiB before reaching ${w.mib} MiB:\n${out}`))
    resolve(code)
  }))
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (text: string) => {
    out += text
    for (const m of text.matchAll(/^at (\d+)$/gm)) at = Math.max(at, Number(m[1]))
    for (const w of [...waiting]) if (at >= w.mib) { waiting.splice(waiting.indexOf(w), 1); w.resolve() }
  })
  child.stderr.on('data', (text: Buffer) => { out += text.toString() })
  return {
    child,
    exited,
    output: () => out,
    reached: mib => new Promise<void>((resolve, reject) => {
      if (at >= mib) resolve()
      else waiting.push({ mib, resolve, reject })
    }),
  }
}

/** The auto-unmount helper libfuse started for this daemon (fusermount, a child of the daemon). */
async function childrenOf(pid: number): Promise<number[]> {
  const r = await run('pgrep', ['-P', String(pid)])
  return r.stdout.split('\n').filter(Boolean).map(Number)
}

/** Gone, or a zombie waiting to be reaped: either way it will do nothing more. */
async function waitUntilDead(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    let state: string | undefined
    try {
      state = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '')[0]
    } catch {
      return
    }
    if (state === 'Z' || state === 'X') return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`process ${pid} is still running`)
}

/** How many mounts /proc/self/mountinfo lists at exactly `mnt` (stacked mounts count each). */
async function mountCount(mnt: string): Promise<number> {
  const text = await readFile('/proc/self/mountinfo', 'utf8')
  return text.split('\n').filter(line => line.split(' ')[4] === mnt).length
}

/** The one-chunk file copied without fsync: the design allows it to be absent, empty or whole. */
async function expectAbsentEmptyOrWhole(localPath: string, onMount: string): Promise<void> {
  const stat = await run('stat', ['-c', '%s', onMount])
  if (stat.code !== 0) {
    expect(stat.stderr).toMatch(/No such file/)
    return
  }
  if (Number(stat.stdout.trim()) === 0) return
  const cmp = await run('cmp', [localPath, onMount])
  expect(cmp.code, `${onMount} is neither absent, empty nor whole: ${cmp.stdout}${cmp.stderr}`).toBe(0)
}

interface Written {
  synced: { local: string; name: string }[]
  unsynced: { local: string; name: string }
  big: string
}

/** fsync'd files, one file written without fsync, and a 100 MiB source for the copy. */
async function prepare(c: Cluster): Promise<Written> {
  const synced = []
  for (const [name, size] of [['one-byte', 1], ['chunk-plus-one', CHUNK + 1], ['many-chunks', MIB + 5], ['empty', 0]] as const) {
    const path = await local(c, name, size)
    await putSynced(path, join(c.mnt, name))
    synced.push({ local: path, name })
  }
  const unsynced = { local: await local(c, 'not-synced', 5000), name: 'not-synced' }
  const cp = await run('cp', [unsynced.local, join(c.mnt, unsynced.name)])
  expect(cp.code, cp.stderr).toBe(0)
  const big = join(c.root, 'src', 'big')
  expect((await sh(`head -c ${100 * MIB} /dev/urandom > ${big}`)).code).toBe(0)
  return { synced, unsynced, big }
}

/** Once the copy is 30 MiB in, one more file written and fsync'd while it goes on; the kill follows at once. */
async function syncedDuringCopy(c: Cluster, w: Written, copy: Copier): Promise<void> {
  await copy.reached(30)
  const path = await local(c, 'synced-during-copy', 2 * CHUNK + 77)
  await putSynced(path, join(c.mnt, 'synced-during-copy'))
  w.synced.push({ local: path, name: 'synced-during-copy' })
}

/** After recovery: fsync'd files byte-perfect, the rest within what the design allows, new writes work. */
async function checkAfterRecovery(c: Cluster, w: Written): Promise<void> {
  await dropCaches()
  for (const f of w.synced) {
    const cmp = await run('cmp', [f.local, join(c.mnt, f.name)])
    expect(cmp.code, `fsync'd file ${f.name}: ${cmp.stdout}${cmp.stderr}`).toBe(0)
  }
  await expectAbsentEmptyOrWhole(w.unsynced.local, join(c.mnt, w.unsynced.name))
  const big = await run('stat', ['-c', '%s', join(c.mnt, 'big')])
  if (big.code === 0) expect(Number(big.stdout.trim())).toBeLessThanOrEqual(100 * MIB)
  const after = await local(c, 'after-recovery', 3 * CHUNK + 11)
  expect((await run('cp', [after, join(c.mnt, 'after-recovery')])).code).toBe(0)
  await dropCaches()
  const cmp = await run('cmp', [after, join(c.mnt, 'after-recovery')])
  expect(cmp.code, cmp.stdout + cmp.stderr).toBe(0)
}

/** Unmounted: nothing lost or under-replicated; orphans allowed, and --repair leaves it healthy. */
async function checkFsck(c: Cluster): Promise<void> {
  const first = await fsckJson(c.meta)
  expect(first.report.lost).toEqual([])
  expect(first.report.underReplicated).toEqual([])
  expect(first.report.badReplicas).toEqual([])
  expect(first.report.nodes.every(n => n.reachable)).toBe(true)
  expect(first.code).toBe(first.report.orphans.length > 0 ? 1 : 0)
  const repair = await dfsCli(['fsck', '--meta', c.meta, '--repair'])
  expect(repair.code, repair.stdout + repair.stderr).toBe(0)
  const second = await fsckJson(c.meta)
  expect(second.report.orphans).toEqual([])
  expect(second.code).toBe(0)
}

// ---- tests ---------------------------------------------------------------------------------------

describe('kill -9 of the daemon during a 100 MiB copy', () => {
  it('with its auto-unmount helper: the stale mount is recovered by a plain dfs mount, fsync\'d data survives, fsck is clean', async () => {
    const c = makeCluster(3, 'dfs-crash-stale-')
    const dfs: DfsDaemon = await c.start(DAEMON_FLAGS)
    const w = await prepare(c)

    const copy = startCopier(w.big, join(c.mnt, 'big'))
    await syncedDuringCopy(c, w, copy)
    // Like the OOM killer or `kill -9 -<pgid>`: the daemon and its helper go at once, so nothing
    // unmounts and the mount is left stale.
    const helpers = await childrenOf(dfs.pid)
    for (const pid of helpers) process.kill(pid, 'SIGKILL')
    await dfs.kill9()
    for (const pid of helpers) await waitUntilDead(pid)
    expect(dfs.exitStatus()).toEqual({ code: null, signal: 'SIGKILL' })
    await copy.exited

    expect(isMounted(c.mnt), 'the crash leaves the mount behind').toBe(true)
    const stale = await run('stat', [c.mnt])
    expect(stale.code).not.toBe(0)
    expect(stale.stderr).toMatch(/Transport endpoint is not connected/)

    // No flag, no manual umount: mounting again on the same folder recovers it.
    const again = await c.start(DAEMON_FLAGS)
    expect(await mountCount(c.mnt), 'one mount, not one stacked on the stale one').toBe(1)
    expect(findMount(c.mnt)?.fstype).toBe('fuse.dfs')
    expect((await run('stat', [c.mnt])).code).toBe(0)
    await checkAfterRecovery(c, w)
    await again.stop()
    expect(again.exitStatus(), again.output()).toEqual({ code: 0, signal: null })
    expect(isMounted(c.mnt)).toBe(false)

    await checkFsck(c)
    await c.cleanup()
  })

  it('alone: its helper clears the mount, and dfs mount works again with fsync\'d data intact', async () => {
    const c = makeCluster(3, 'dfs-crash-alone-')
    const dfs = await c.start(DAEMON_FLAGS)
    const w = await prepare(c)

    const copy = startCopier(w.big, join(c.mnt, 'big'))
    await syncedDuringCopy(c, w, copy)
    const helpers = await childrenOf(dfs.pid)
    await dfs.kill9()
    // The helper unmounts once the daemon is gone; wait for it so it cannot race the next mount.
    for (const pid of helpers) await waitUntilDead(pid)
    await copy.exited

    // fsck straight after the crash (a stale lock, a journal never closed): nothing lost.
    const crashed = await fsckJson(c.meta)
    expect(crashed.report.lost).toEqual([])
    expect(crashed.report.underReplicated).toEqual([])
    expect(crashed.report.badReplicas).toEqual([])

    const again = await c.start(DAEMON_FLAGS)
    expect(await mountCount(c.mnt)).toBe(1)
    await checkAfterRecovery(c, w)
    await again.stop()
    await checkFsck(c)
    await c.cleanup()
  })
})

describe('one daemon per metadata folder', () => {
  it('refuses a second daemon on the same --meta, naming the process that holds it, in the foreground and in the background', async () => {
    const c = makeCluster(3, 'dfs-crash-lock-')
    const first = await c.start(DAEMON_FLAGS)
    const file = await local(c, 'file', 2 * CHUNK + 3)
    expect((await run('cp', [file, join(c.mnt, 'file')])).code).toBe(0)
    const mnt2 = join(c.root, 'mnt2')
    await mkdir(mnt2)
    const env = { DFS_RUNTIME_DIR: join(c.root, 'runtime') }

    for (const mode of [['--foreground'], []]) {
      const r = await dfsCli(['mount', mnt2, '--meta', c.meta, '--nodes', c.nodes.join(','), '--cache', '1M', ...mode], env)
      const why = `dfs mount ${mode.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`
      expect(r.code, why).toBe(1)
      expect(r.stdout, why).toBe('')
      const lines = r.stderr.trim().split('\n')
      expect(lines, why).toHaveLength(1)
      expect(lines[0]).toMatch(/^dfs/)
      expect(lines[0]).toContain(`metadata folder ${c.meta} is in use by process ${first.pid}`)
      expect(lines[0]).toMatch(/unmount it first|stop that process/)
      expect(isMounted(mnt2)).toBe(false)
    }

    // The first daemon never noticed.
    expect(first.exitStatus()).toBeNull()
    await dropCaches()
    const cmp = await run('cmp', [file, join(c.mnt, 'file')])
    expect(cmp.code, cmp.stdout + cmp.stderr).toBe(0)

    // Once it is unmounted, the folder is free again.
    await first.stop()
    const second = await c.start({ ...DAEMON_FLAGS, mountpoint: mnt2 })
    const cmp2 = await run('cmp', [file, join(mnt2, 'file')])
    expect(cmp2.code, cmp2.stdout + cmp2.stderr).toBe(0)
    await second.stop()
    await c.cleanup()
  })
})

describe('SIGTERM as soon as the daemon reports "dfs: mounted"', () => {
  it('is a clean stop every time: exit 0, unmounted, the metadata lock released, data kept', async () => {
    const c = makeCluster(3, 'dfs-crash-term-')
    const file = await local(c, 'file', CHUNK + 9)
    // The helper sends SIGTERM the moment it reads the line; a daemon that announced the mount
    // before it listened for signals died of that SIGTERM about every other time.
    for (let round = 1; round <= 4; round++) {
      const d = await c.start(DAEMON_FLAGS)
      if (round === 1) expect((await run('cp', [file, join(c.mnt, 'file')])).code).toBe(0)
      await d.stop()
      expect(d.exitStatus(), `round ${round}:\n${d.output()}`).toEqual({ code: 0, signal: null })
      expect(isMounted(c.mnt)).toBe(false)
      expect((await run('test', ['-e', join(c.meta, 'lock')])).code, 'lock file left behind').not.toBe(0)
    }
    const d = await c.start(DAEMON_FLAGS)
    const cmp = await run('cmp', [file, join(c.mnt, 'file')])
    expect(cmp.code, cmp.stdout + cmp.stderr).toBe(0)
    await d.stop()
    await c.cleanup()
  })
})
