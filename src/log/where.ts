// The documented place of a background mount daemon's log: one folder per mount point under
// $DFS_LOG_DIR, else $XDG_STATE_HOME/dfs, else ~/.local/state/dfs (the XDG base directory for
// state that outlives a reboot, such as logs; unlike the runtime folder, which may be a tmpfs).
// A DFS_RUNTIME_DIR given without DFS_LOG_DIR (tests, a sandbox) keeps the logs beside it, in logs/.

import { createHash } from 'node:crypto'
import { homedir } from 'node:os'
import { constants } from 'node:fs'
import { access, mkdir, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { dfsError } from '../errors.js'

export function logRoot(): string {
  if (process.env.DFS_LOG_DIR) return resolve(process.env.DFS_LOG_DIR)
  if (process.env.DFS_RUNTIME_DIR) return resolve(process.env.DFS_RUNTIME_DIR, 'logs')
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state')
  return join(state, 'dfs')
}

/** e.g. ~/.local/state/dfs/mount-mnt-3f2a9c1b7d0e: the mount point's name, and a hash of its full path. */
export function mountLogFolder(mountpoint: string): string {
  const full = resolve(mountpoint)
  const key = createHash('sha256').update(full).digest('hex').slice(0, 12)
  const name = basename(full).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'root'
  return join(logRoot(), `mount-${name}-${key}`)
}

/**
 * Make sure a log folder exists and is a folder, creating what is missing one level at a time.
 * Not mkdir({ recursive: true }): Node 20's spins forever at full CPU where a parent exists but
 * refuses children with ENOENT (`/proc/nope`). Any failure is a one-line BAD_ARGUMENT naming the
 * folder (`what` says which flag or variable gave it) and the fix.
 */
export async function ensureLogFolder(folder: string, what = '--log-dir'): Promise<void> {
  const full = resolve(folder)
  const fix = `pass a folder you can write (it is created if missing)`
  const missing: string[] = []
  for (let at = full; ; at = dirname(at)) {
    const info = await stat(at).catch((err: NodeJS.ErrnoException) => err)
    if (!(info instanceof Error)) {
      if (!info.isDirectory()) {
        const which = at === full ? full : `${at} (in ${full})`
        throw dfsError('BAD_ARGUMENT', `${what} ${which} is a file, not a folder; ${fix}`, { what, folder: full })
      }
      break
    }
    if ((info.code !== 'ENOENT' && info.code !== 'ENOTDIR') || dirname(at) === at) {
      throw dfsError('BAD_ARGUMENT', `${what} ${full} cannot be used (${info.code}: ${at}); ${fix}`, { what, folder: full })
    }
    missing.unshift(at)
  }
  for (const dir of missing) {
    await mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') return // made meanwhile (two mounts at once)
      throw dfsError('BAD_ARGUMENT', `${what} ${full} cannot be created (${err.code} at ${dir}); ${fix}`, { what, folder: full })
    })
  }
  await access(full, constants.W_OK | constants.X_OK).catch((err: NodeJS.ErrnoException) => {
    throw dfsError('BAD_ARGUMENT', `${what} ${full} is not writable (${err.code}); ${fix}`, { what, folder: full })
  })
}
