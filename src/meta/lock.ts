// Exclusive use of a metadata folder: one daemon at a time may journal into it. The lock is a file
// named `lock` holding {pid, hostname, startedAt}. A lock whose process is gone (kill -9, power
// loss) is stale and taken over; a lock whose process is alive, or that we cannot check because it
// was taken on another host, is refused.

import { randomUUID } from 'node:crypto'
import { link, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { dfsError } from '../errors.js'
import { readTextIfExists } from '../util/files.js'
import { isNotFound } from '../util/osError.js'

export const LOCK_FILE = 'lock'

export interface LockOwner {
  pid: number
  hostname: string
  startedAt: string
}

export interface MetaLock {
  readonly owner: LockOwner
  /** Remove the lock file, only if it is still ours. Safe to call twice. */
  release(): Promise<void>
}

// Lock files this process holds. A lock naming our own pid is ours only if it is in here; otherwise
// it was left by an earlier process that had the same pid (a restarted container, a reboot).
const heldHere = new Set<string>()

export async function acquireLock(dir: string, log: (msg: string) => void = () => {}): Promise<MetaLock> {
  const file = join(dir, LOCK_FILE)
  const owner: LockOwner = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() }
  // Two attempts: the second follows the removal of a stale lock. Losing that race to another
  // process that took the lock in between ends in EEXIST on the retry, reported as locked below.
  for (let attempt = 1; ; attempt++) {
    if (await createExclusive(file, `${JSON.stringify(owner)}\n`)) break
    const holder = await readOwner(file)
    if (holder === undefined) continue // released between our attempt and the read
    if (isHeld(file, holder) || attempt >= 2) throw lockedError(dir, holder)
    log(`metadata folder ${dir}: taking over a stale lock left by process ${holder.pid} (started ${holder.startedAt}), which is no longer running`)
    await unlink(file).catch((err) => {
      if (!isNotFound(err)) throw err
    })
  }
  heldHere.add(file)
  return { owner, release: () => releaseLock(file, owner) }
}

/**
 * Create `file` with `content` only if it does not exist. The content is written to a unique temp
 * file first and then hard-linked into place, which fails with EEXIST like O_EXCL does but never
 * shows another process an empty lock file.
 */
async function createExclusive(file: string, content: string): Promise<boolean> {
  const tmp = `${file}.${randomUUID()}.tmp`
  await writeFile(tmp, content, { flag: 'wx' })
  try {
    await link(tmp, file)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    await unlink(tmp)
  }
}

/** The lock's owner; undefined when there is no lock file. Unreadable content counts as a dead owner. */
async function readOwner(file: string): Promise<LockOwner | undefined> {
  const text = await readTextIfExists(file)
  if (text === undefined) return undefined
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>
    if (typeof parsed.pid === 'number' && typeof parsed.hostname === 'string' && typeof parsed.startedAt === 'string') {
      return { pid: parsed.pid, hostname: parsed.hostname, startedAt: parsed.startedAt }
    }
  } catch {
    // fall through: the lock is written whole (see createExclusive), so this is not a live dfs's
  }
  return { pid: 0, hostname: hostname(), startedAt: 'unknown' }
}

function isHeld(file: string, holder: LockOwner): boolean {
  if (holder.hostname !== hostname()) return true // we cannot see processes on another host
  if (holder.pid === process.pid) return heldHere.has(file)
  if (holder.pid <= 0) return false
  try {
    process.kill(holder.pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // alive, owned by another user
  }
}

function lockedError(dir: string, holder: LockOwner) {
  const context = { dir, pid: holder.pid, hostname: holder.hostname, startedAt: holder.startedAt }
  if (holder.hostname !== hostname()) {
    return dfsError(
      'META_LOCKED',
      `metadata folder ${dir} is in use by process ${holder.pid} on host ${holder.hostname}; unmount it there first, or delete ${join(dir, LOCK_FILE)} if that host is gone for good`,
      context,
    )
  }
  return dfsError(
    'META_LOCKED',
    `metadata folder ${dir} is in use by process ${holder.pid}; unmount it first (dfs unmount <mountpoint>) or stop that process`,
    context,
  )
}

async function releaseLock(file: string, owner: LockOwner): Promise<void> {
  if (!heldHere.has(file)) return
  heldHere.delete(file)
  const holder = await readOwner(file)
  if (holder?.pid !== owner.pid || holder.hostname !== owner.hostname || holder.startedAt !== owner.startedAt) return
  await unlink(file).catch((err) => {
    if (!isNotFound(err)) throw err
  })
}
