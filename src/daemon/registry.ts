// Which daemon serves which mount point, so `dfs unmount <dir>` can ask that daemon to stop cleanly
// (store buffered chunks, checkpoint, release the metadata lock) rather than pull the mount from under it.
// One small JSON file per mount under the runtime folder; a file whose pid is gone is stale.

import { createHash } from 'node:crypto'
import { lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { dfsError } from '../errors.js'
import type { UnstoredFile } from '../fs/FileSystem.js'
import type { StopLoss } from './unstored.js'

export interface DaemonRecord {
  pid: number
  mountpoint: string
  meta: string
  /** The daemon's control socket (dfs status). */
  control: string
  startedAt: string
}

/**
 * The runtime folder: one fixed place per user, whatever the caller's TMPDIR, XDG_RUNTIME_DIR or
 * session, so `dfs unmount` and `dfs status` from another terminal, sudo, cron or ssh find a daemon
 * started elsewhere. /run/dfs for root; /tmp/dfs-<uid> for other users (not /run/user/<uid>, which
 * logind removes at logout while a background mount lives on). DFS_RUNTIME_DIR overrides it (tests).
 */
export function runtimeDir(): string {
  const override = process.env.DFS_RUNTIME_DIR
  if (override) return resolve(override)
  const uid = process.getuid?.() ?? 0
  return uid === 0 ? '/run/dfs' : `/tmp/dfs-${uid}`
}

/** Create the runtime folder (0700); in /tmp, refuse one that another user made or that is a link. */
async function ensureRuntimeDir(): Promise<string> {
  const dir = runtimeDir()
  await mkdir(dir, { recursive: true, mode: 0o700 })
  if (process.env.DFS_RUNTIME_DIR) return dir
  const info = await lstat(dir)
  const uid = process.getuid?.()
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid) || (info.mode & 0o077) !== 0) {
    throw dfsError('EACCES',
      `the runtime folder ${dir} is not a private folder of this user (owner ${info.uid}, mode ${(info.mode & 0o777).toString(8)}); remove it, or set DFS_RUNTIME_DIR to a folder only you can write`,
      { dir })
  }
  return dir
}

function recordPath(mountpoint: string): string {
  const key = createHash('sha256').update(resolve(mountpoint)).digest('hex').slice(0, 24)
  return join(runtimeDir(), `mount-${key}.json`)
}

/** Where the daemon serving this mount point listens for control commands. */
export async function controlSocketPath(mountpoint: string): Promise<string> {
  await ensureRuntimeDir()
  return recordPath(mountpoint).replace(/\.json$/, '.sock')
}

export async function registerDaemon(record: DaemonRecord): Promise<void> {
  await ensureRuntimeDir()
  await rm(unstoredPath(record.mountpoint), { force: true }) // a report of an earlier daemon nobody read
  await writeFile(recordPath(record.mountpoint), JSON.stringify(record))
}

export async function unregisterDaemon(mountpoint: string): Promise<void> {
  await rm(recordPath(mountpoint), { force: true })
}

function unstoredPath(mountpoint: string): string {
  return recordPath(mountpoint).replace(/\.json$/, '.unstored')
}

/** A stopping daemon leaves what it lost (unstored.ts) for `dfs unmount`, which waits for its exit. */
export async function recordStopLoss(mountpoint: string, loss: StopLoss): Promise<void> {
  await writeFile(unstoredPath(mountpoint), JSON.stringify(loss))
}

/** What the daemon that served the mount point lost as it stopped, read once (nothing: no file, or one that does not read). */
export async function takeStopLoss(mountpoint: string): Promise<StopLoss> {
  const path = unstoredPath(mountpoint)
  try {
    const read = JSON.parse(await readFile(path, 'utf8')) as StopLoss | UnstoredFile[]
    await rm(path, { force: true })
    // A daemon of an earlier dfs left the files alone, as an array.
    if (Array.isArray(read)) return { files: read }
    return { files: Array.isArray(read.files) ? read.files : [], ...(typeof read.unsynced === 'string' ? { unsynced: read.unsynced } : {}) }
  } catch {
    return { files: [] }
  }
}

/** The live daemon serving a mount point, if any. */
export async function daemonFor(mountpoint: string): Promise<DaemonRecord | undefined> {
  let record: DaemonRecord
  try {
    record = JSON.parse(await readFile(recordPath(mountpoint), 'utf8')) as DaemonRecord
  } catch {
    return undefined
  }
  return isAlive(record.pid) ? record : undefined
}

/** Every live daemon of this user. */
export async function runningDaemons(): Promise<DaemonRecord[]> {
  let names: string[]
  try {
    names = (await readdir(runtimeDir())).filter(name => name.startsWith('mount-') && name.endsWith('.json'))
  } catch {
    return []
  }
  const found: DaemonRecord[] = []
  for (const name of names) {
    try {
      const record = JSON.parse(await readFile(join(runtimeDir(), name), 'utf8')) as DaemonRecord
      if (isAlive(record.pid)) found.push(record)
      else await rm(join(runtimeDir(), name), { force: true }) // left by a daemon that was killed
    } catch {
      // a record being written or removed right now
    }
  }
  return found
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Is the process stopped (SIGSTOP, Ctrl-Z, a debugger)? It then answers nothing until continued. */
export async function isStopped(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  return state === 'T' || state === 't'
}

/** The error for a daemon that does not answer (stopped or hung), with the ways out. */
export async function daemonNotAnswering(mountpoint: string, pid: number | undefined) {
  const who = pid ? `the daemon pid ${pid} serving ${mountpoint}` : `the daemon serving ${mountpoint}`
  const why = pid && await isStopped(pid) ? 'it is stopped' : 'stopped or hung?'
  const cont = pid ? `continue it (kill -CONT ${pid}), kill it, or ` : ''
  return dfsError('DAEMON_NOT_ANSWERING', `${who} does not answer (${why}); ${cont}\`dfs unmount --force ${mountpoint}\``, { mountpoint, pid })
}
