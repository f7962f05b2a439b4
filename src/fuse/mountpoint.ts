// Is a folder fit to mount on? And is something mounted there now? Read from /proc/self/mountinfo,
// asynchronously, because a stale FUSE mount answers stat with ENOTCONN (and a live one of ours must
// never be touched synchronously from the process serving it).

import { spawn } from 'node:child_process'
import { readFile, readdir, realpath, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { daemonFor, daemonNotAnswering } from '../daemon/registry.js'
import { dfsError } from '../errors.js'

export interface MountEntry {
  /** The kernel's mount id (first field of mountinfo): tells this mount from a later one at the same place. */
  id: number
  mountpoint: string
  fstype: string
  source: string
  /** major:minor of the mount's device (third field): names its backing_dev_info in /sys/class/bdi. */
  device?: string
}

/** Every mount this process sees, in mount order. */
export async function readMounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8')
  const found: MountEntry[] = []
  for (const line of text.split('\n')) {
    const fields = line.split(' ')
    const dash = fields.indexOf('-')
    if (dash < 0) continue
    found.push({ id: Number(fields[0]), mountpoint: unescapeMountField(fields[4]), fstype: fields[dash + 1], source: fields[dash + 2], device: fields[2] })
  }
  return found
}

export async function mountsAt(mountpoint: string): Promise<MountEntry[]> {
  const target = resolve(mountpoint)
  return (await readMounts()).filter(entry => entry.mountpoint === target)
}

/** The dfs mount a path lies in (the deepest, if one is mounted inside another), from its name alone. */
export async function dfsMountContaining(path: string): Promise<MountEntry | undefined> {
  const target = resolve(path)
  let best: MountEntry | undefined
  for (const entry of await readMounts()) {
    if (!isDfsMount(entry) || !isInside(target, entry.mountpoint)) continue
    if (!best || entry.mountpoint.length >= best.mountpoint.length) best = entry
  }
  return best
}

/**
 * A mount point as the mount table names it: absolute, its parent's symlinks resolved. The folder
 * itself is not looked up (it may be a hung or stale mount).
 */
export async function canonicalMountpoint(path: string): Promise<string> {
  const abs = resolve(path)
  if (abs === '/') return abs
  return join(await realpath(dirname(abs)).catch(() => dirname(abs)), basename(abs))
}

/** Is `path` the folder `dir` or below it? (Names only; nothing is looked up.) */
export function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`)
}

function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

export const isDfsMount = (entry: MountEntry) => entry.fstype === 'fuse.dfs'

/**
 * Checks a mount point before mounting: it must exist, be a directory and be empty, and nothing may
 * be mounted there. A stale dfs mount (its daemon died) is fine: mounting recovers it.
 */
export async function checkMountpoint(mountpoint: string): Promise<void> {
  const mounts = await mountsAt(mountpoint)
  if (mounts.length > 0) {
    if (mounts.every(isDfsMount)) {
      const answer = await probeMount(mountpoint)
      if (answer === 'ENOTCONN') return // stale: its daemon died
      if (answer === 'no answer') throw await daemonNotAnswering(mountpoint, (await daemonFor(mountpoint))?.pid)
    }
    const top = mounts[mounts.length - 1]
    // Only a dfs mount is dfs unmount's to undo; for anything else the user's own umount is the fix.
    const unmount = isDfsMount(top) ? `dfs unmount ${mountpoint}` : `umount ${mountpoint}, if nothing needs it`
    throw dfsError('MOUNTPOINT_INVALID',
      `${mountpoint} is already mounted (${top.fstype}); pick another folder, or unmount it first (${unmount})`,
      { mountpoint, fstype: top.fstype })
  }
  let info
  try {
    info = await stat(mountpoint)
  } catch {
    throw dfsError('MOUNTPOINT_INVALID', `mount point ${mountpoint} does not exist; create it with: mkdir -p ${mountpoint}`, { mountpoint })
  }
  if (!info.isDirectory()) {
    throw dfsError('MOUNTPOINT_INVALID', `mount point ${mountpoint} is not a directory; pass an empty folder`, { mountpoint })
  }
  if ((await readdir(mountpoint)).length > 0) {
    throw dfsError('MOUNTPOINT_INVALID', `mount point ${mountpoint} is not empty; pass an empty folder so nothing in it is hidden`, { mountpoint })
  }
}

/** How long a mount point may take to answer a stat before its daemon counts as hung. */
const PROBE_TIMEOUT_MS = 5000

/**
 * stat() the mount point in a child process: 'ok', an error code such as 'ENOTCONN' (a stale mount),
 * or 'no answer' when its daemon is stopped or hung. A stat of such a mount blocks until the daemon
 * answers, so it must never be done in this process (it would take a libuv thread for good).
 */
export function probeMount(mountpoint: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<string> {
  return new Promise(done => {
    const script = "require('fs').stat(process.argv[1], err => process.stdout.write(err ? String(err.code) : 'ok'))"
    const child = spawn(process.execPath, ['-e', script, mountpoint], { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL') // a process waiting on a FUSE request dies of SIGKILL
      child.unref()
      done('no answer')
    }, timeoutMs)
    child.stdout.setEncoding('utf8').on('data', (text: string) => { out += text })
    child.once('error', () => { clearTimeout(timer); done('EIO') })
    child.once('exit', () => { clearTimeout(timer); done(out || 'EIO') })
  })
}
