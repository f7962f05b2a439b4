// Which processes use a mount, as `fuser -m` or `lsof` would say: open files, current or root folder,
// program or memory-mapped files inside it. Read from /proc by name only (readlink of /proc/<pid>/fd/*
// never touches the mounted file system, so it works while the mount hangs). Processes of other users
// are seen only as far as /proc lets this user look.

import { readdir, readFile, readlink } from 'node:fs/promises'
import { resolve } from 'node:path'
import { isInside } from './mountpoint.js'

export interface MountUser {
  pid: number
  /** The command name (/proc/<pid>/comm). */
  command: string
  /** How it uses the mount: 'cwd', 'root', 'exe', 'mmap' or an open file's path. */
  uses: string[]
}

export async function processesUsing(mountpoint: string): Promise<MountUser[]> {
  const mnt = resolve(mountpoint)
  const inside = (link: string) => isInside(link.replace(/ \(deleted\)$/, ''), mnt)
  const users: MountUser[] = []
  for (const name of await readdir('/proc')) {
    const pid = Number(name)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    const uses: string[] = []
    for (const link of ['cwd', 'root', 'exe']) {
      const target = await readlink(`/proc/${pid}/${link}`).catch(() => '')
      if (target && inside(target)) uses.push(link)
    }
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
      if (target.startsWith('/') && inside(target) && !uses.includes(target)) uses.push(target)
    }
    const maps = await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '')
    if (maps.split('\n').some(line => { const path = line.split(/\s+/).slice(5).join(' '); return path.startsWith('/') && inside(path) })) uses.push('mmap')
    if (uses.length === 0) continue
    const command = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim()
    users.push({ pid, command, uses })
  }
  return users
}

/** "pid 123 (bash: current folder), pid 456 (cat: /mnt/f)", at most `max` of them. */
export function describeUsers(users: MountUser[], max = 8): string {
  const label = (use: string) => ({ cwd: 'current folder', root: 'root folder', exe: 'program', mmap: 'memory map' })[use] ?? use
  const shown = users.slice(0, max).map(u => `pid ${u.pid} (${u.command}: ${u.uses.map(label).join(', ')})`)
  if (users.length > max) shown.push(`${users.length - max} more`)
  return shown.join(', ')
}
