import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { isDfsError } from '../../src/errors.js'
import { acquireLock } from '../../src/meta/lock.js'
import { pathExists } from '../../src/util/files.js'
import { REPO_ROOT } from '../helpers/mount.js'
import { openKv, tempDir } from './kv.js'
import { listSegments } from '../../src/meta/journalFormat.js'
import { stat } from 'node:fs/promises'

function lockFileOf(dir: string) {
  return join(dir, 'lock')
}

async function writeLock(dir: string, owner: { pid: number; hostname?: string; token?: string }) {
  const content = { pid: owner.pid, hostname: owner.hostname ?? hostname(), startedAt: '2024-01-01T00:00:00.000Z', token: owner.token }
  await writeFile(lockFileOf(dir), JSON.stringify(content))
}

/** A pid that was just in use and is now gone. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', ''])
  return child.pid!
}

/** Another process that takes the lock on dir (through dist/, built by test/setup) and keeps it until killed. */
async function holdInChild(dir: string): Promise<ChildProcess> {
  const script = [
    `const { acquireLock } = await import(${JSON.stringify(join(REPO_ROOT, 'dist', 'meta', 'lock.js'))})`,
    `await acquireLock(${JSON.stringify(dir)})`,
    "console.log('held')",
    'setInterval(() => {}, 60000)',
  ].join('\n')
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  onTestFinished(() => {
    child.kill('SIGKILL')
  })
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve())
    child.once('exit', (code) => reject(new Error(`lock holder exited first (${code})`)))
  })
  return child
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())))
}

describe('metadata folder lock', () => {
  it('records its owner and refuses a second holder while held', async () => {
    const dir = await tempDir()
    const lock = await acquireLock(dir)
    const recorded = JSON.parse(await readFile(lockFileOf(dir), 'utf8'))
    expect(recorded).toEqual({ pid: process.pid, hostname: hostname(), startedAt: lock.owner.startedAt, token: lock.owner.token })

    const refused = await acquireLock(dir).catch((err: unknown) => err)
    expect(isDfsError(refused, 'META_LOCKED')).toBe(true)
    expect((refused as Error).message).toContain(`in use by process ${process.pid}`)
    expect((refused as Error).message).toContain('dfs unmount')

    await lock.release()
    expect(await pathExists(lockFileOf(dir))).toBe(false)
    const again = await acquireLock(dir)
    await again.release()
    await again.release() // twice is fine
  })

  it('does not refuse a new folder that got the inode of a removed folder whose lock is still held', async () => {
    const parent = await tempDir()
    // Processes that go on holding their locks after their folders are gone.
    const held: { release(): Promise<void> }[] = []
    try {
      // The file system hands a freed inode number out again at once (ext4 and tmpfs do), unless
      // another process on a busy machine takes it first: then try again with another folder.
      let reused: string | undefined
      for (let round = 0; round < 20 && !reused; round++) {
        const old = join(parent, `old-${round}`)
        await mkdir(old)
        held.push(await acquireLock(old))
        const { ino } = await stat(old)
        await rm(old, { recursive: true })
        for (let i = 0; i < 200 && !reused; i++) {
          const candidate = join(parent, `new-${round}-${i}`)
          await mkdir(candidate)
          if ((await stat(candidate)).ino === ino) reused = candidate
        }
      }
      expect(reused, 'no new folder got a freed inode number in 20 rounds').toBeDefined()
      const lock = await acquireLock(reused!)
      await lock.release()
    } finally {
      for (const lock of held) await lock.release()
    }
  })

  it('refuses a lock another live process holds, even after its lock file is deleted, and takes it once that process dies', async () => {
    const dir = await tempDir()
    const child = await holdInChild(dir)
    await unlink(lockFileOf(dir))

    const refused = await acquireLock(dir).catch((err: unknown) => err)
    expect(isDfsError(refused, 'META_LOCKED')).toBe(true)
    expect((refused as { context: { pid: number } }).context.pid).toBe(child.pid)
    expect((refused as Error).message).toContain(`in use by process ${child.pid}`)
    expect((refused as Error).message).not.toMatch(/delete|remove/)

    child.kill('SIGKILL')
    await exitOf(child)
    const lock = await acquireLock(dir)
    await lock.release()
  })

  it('names a stopped holder from its lock file, and still refuses', async () => {
    const dir = await tempDir()
    const child = await holdInChild(dir)
    process.kill(child.pid!, 'SIGSTOP')
    onTestFinished(() => {
      process.kill(child.pid!, 'SIGCONT')
    })
    const refused = await acquireLock(dir).catch((err: unknown) => err)
    expect(isDfsError(refused, 'META_LOCKED')).toBe(true)
    expect((refused as Error).message).toContain(`in use by process ${child.pid}, which does not answer`)
  })

  it('lets exactly one of many simultaneous takers win', async () => {
    const dir = await tempDir()
    await writeLock(dir, { pid: deadPid() })
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => acquireLock(dir)))
    const won = results.filter((r) => r.status === 'fulfilled')
    expect(won).toHaveLength(1)
    for (const r of results) if (r.status === 'rejected') expect(isDfsError(r.reason, 'META_LOCKED')).toBe(true)
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release()
  })

  it('takes over a stale lock whose process is gone', async () => {
    const dir = await tempDir()
    const pid = deadPid()
    await writeLock(dir, { pid })
    const logged: string[] = []
    const lock = await acquireLock(dir, (msg) => logged.push(msg))
    expect(JSON.parse(await readFile(lockFileOf(dir), 'utf8')).pid).toBe(process.pid)
    expect(logged.join('\n')).toContain(`stale lock left by process ${pid}`)
    await lock.release()
  })

  it('takes over a lock file naming a live process that does not hold the lock (its pid was reused)', async () => {
    const dir = await tempDir()
    await writeLock(dir, { pid: process.ppid })
    const lock = await acquireLock(dir)
    expect(lock.owner.pid).toBe(process.pid)
    await lock.release()
  })

  it('takes over a lock naming our own pid that this process does not hold (a restarted container)', async () => {
    const dir = await tempDir()
    await writeLock(dir, { pid: process.pid })
    const lock = await acquireLock(dir)
    expect(lock.owner.pid).toBe(process.pid)
    await lock.release()
  })

  it('refuses a lock taken on another host, whose process it cannot check', async () => {
    const dir = await tempDir()
    await writeLock(dir, { pid: deadPid(), hostname: 'elsewhere.example' })
    const refused = await acquireLock(dir).catch((err: unknown) => err)
    expect(isDfsError(refused, 'META_LOCKED')).toBe(true)
    expect((refused as Error).message).toContain('on host elsewhere.example')
  })

  it('verify() writes a deleted lock file again, and fails once another process has replaced it', async () => {
    const dir = await tempDir()
    const logged: string[] = []
    const lock = await acquireLock(dir, (msg) => logged.push(msg))
    await unlink(lockFileOf(dir))
    await lock.verify()
    expect(JSON.parse(await readFile(lockFileOf(dir), 'utf8')).token).toBe(lock.owner.token)
    expect(logged.join('\n')).toContain('was deleted')

    await writeLock(dir, { pid: 4242, token: 'someone else' })
    const lost = await lock.verify().catch((err: unknown) => err)
    expect(isDfsError(lost, 'META_LOCKED')).toBe(true)
    expect((lost as Error).message).toContain('taken over by process 4242')
    await lock.release()
    expect(await pathExists(lockFileOf(dir))).toBe(true) // not ours to remove
  })

  it('releases only a lock that is still its own', async () => {
    const dir = await tempDir()
    const lock = await acquireLock(dir)
    await writeLock(dir, { pid: deadPid() }) // someone took it over meanwhile
    await lock.release()
    expect(await pathExists(lockFileOf(dir))).toBe(true)
  })

  it('a store whose lock was taken over refuses to write its journal: sync fails and the file is untouched', async () => {
    const dir = await tempDir()
    const store = await openKv(dir)
    store.commit({ op: 'set', key: 'a', value: 1 })
    await store.sync()
    const [segment] = await listSegments(dir)
    const before = (await stat(segment!.file)).size

    await writeLock(dir, { pid: 4242, token: 'a second daemon' })
    store.commit({ op: 'set', key: 'b', value: 2 })
    const failed = await store.sync().catch((err: unknown) => err)
    expect((failed as Error).message).toContain('taken over by process 4242')
    expect((await stat(segment!.file)).size).toBe(before)
    expect(() => store.commit({ op: 'set', key: 'c', value: 3 })).toThrow(/taken over/)
  })
})
