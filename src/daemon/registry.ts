// Which daemon serves which mount point, so `dfs unmount <dir>` can ask that daemon to stop cleanly
// (store buffered chunks, checkpoint, release the metadata lock) rather than pull the mount from under it.
// One small JSON file per mount under the runtime folder; a file whose pid is gone is stale.

import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export interface DaemonRecord {
  pid: number
  mountpoint: string
  meta: string
  /** The daemon's control socket (dfs status). */
  control: string
  startedAt: string
}

const runtimeDir = () => process.env.DFS_RUNTIME_DIR ?? join(tmpdir(), `dfs-${process.getuid?.() ?? 'user'}`)

function recordPath(mountpoint: string): string {
  const key = createHash('sha256').update(resolve(mountpoint)).digest('hex').slice(0, 24)
  return join(runtimeDir(), `mount-${key}.json`)
}

/** Where the daemon serving this mount point listens for control commands. */
export async function controlSocketPath(mountpoint: string): Promise<string> {
  await mkdir(runtimeDir(), { recursive: true, mode: 0o700 })
  return recordPath(mountpoint).replace(/\.json$/, '.sock')
}

/** Where a background daemon for this mount point writes its log. */
export async function daemonLogPath(mountpoint: string): Promise<string> {
  await mkdir(runtimeDir(), { recursive: true, mode: 0o700 })
  return recordPath(mountpoint).replace(/\.json$/, '.log')
}

export async function registerDaemon(record: DaemonRecord): Promise<void> {
  await mkdir(runtimeDir(), { recursive: true, mode: 0o700 })
  await writeFile(recordPath(record.mountpoint), JSON.stringify(record))
}

export async function unregisterDaemon(mountpoint: string): Promise<void> {
  await rm(recordPath(mountpoint), { force: true })
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
