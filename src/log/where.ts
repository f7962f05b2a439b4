// The documented place of a background mount daemon's log: one folder per mount point under
// $DFS_LOG_DIR, else $XDG_STATE_HOME/dfs, else ~/.local/state/dfs (the XDG base directory for
// state that outlives a reboot, such as logs; unlike the runtime folder, which may be a tmpfs).
// A DFS_RUNTIME_DIR given without DFS_LOG_DIR (tests, a sandbox) keeps the logs beside it, in logs/.

import { createHash } from 'node:crypto'
import { homedir } from 'node:os'
import { basename, join, resolve } from 'node:path'

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
