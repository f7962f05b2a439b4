import { spawn, spawnSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { isDfsError } from '../../src/errors.js'
import { acquireLock } from '../../src/meta/lock.js'
import { pathExists } from '../../src/util/files.js'
import { tempDir } from './kv.js'

function lockFileOf(dir: string) {
  return join(dir, 'lock')
}

async function writeLock(dir: string, owner: { pid: number; hostname?: string }) {
  const content = { pid: owner.pid, hostname: owner.hostname ?? hostname(), startedAt: '2024-01-01T00:00:00.000Z' }
  await writeFile(lockFileOf(dir), JSON.stringify(content))
}

/** A pid that was just in use and is now gone. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', ''])
  return child.pid!
}

describe('metadata folder lock', () => {
  it('records its owner and refuses a second holder while held', async () => {
    const dir = await tempDir()
    const lock = await acquireLock(dir)
    const recorded = JSON.parse(await readFile(lockFileOf(dir), 'utf8'))
    expect(recorded).toEqual({ pid: process.pid, hostname: hostname(), startedAt: lock.owner.startedAt })

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

  it('refuses a lock held by another live process', async () => {
    const dir = await tempDir()
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })
    onTestFinished(() => {
      child.kill('SIGKILL')
    })
    await writeLock(dir, { pid: child.pid! })
    const refused = await acquireLock(dir).catch((err: unknown) => err)
    expect(isDfsError(refused, 'META_LOCKED')).toBe(true)
    expect((refused as { context: { pid: number } }).context.pid).toBe(child.pid)
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

  it('releases only a lock that is still its own', async () => {
    const dir = await tempDir()
    const lock = await acquireLock(dir)
    await writeLock(dir, { pid: deadPid() }) // someone took it over meanwhile
    await lock.release()
    expect(await pathExists(lockFileOf(dir))).toBe(true)
  })
})
