// Where the benchmark runs and on what: the work folder (on the project's disk, never tmpfs), the
// machine description printed above the table, and dropping the kernel's caches.

import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { run } from './proc.js'

export interface DiskInfo {
  /** The device or source df reports (e.g. /dev/vda). */
  source: string
  fstype: string
  sizeBytes: number
  availBytes: number
  mountedOn: string
}

/** `df -PT -B1 <path>`: the file system a folder lives on. */
export async function diskOf(path: string): Promise<DiskInfo> {
  const r = await run('df', ['-PT', '-B1', path])
  const line = r.stdout.trim().split('\n').pop() ?? ''
  // Filesystem Type 1-blocks Used Available Capacity Mounted-on (the source may contain spaces: take fields from the right)
  const f = line.split(/\s+/)
  if (f.length < 7) throw new Error(`cannot read df output for ${path}: ${line}`)
  const mountedOn = f.slice(6).join(' ')
  return { source: f[0], fstype: f[1], sizeBytes: Number(f[2]), availBytes: Number(f[4]), mountedOn }
}

const MEMORY_FILESYSTEMS = new Set(['tmpfs', 'ramfs', 'devtmpfs', 'overlay-tmpfs'])

export interface WorkDir {
  path: string
  disk: DiskInfo
  why: string
}

/**
 * A fresh folder on the same disk as the project: under `dir` if given, else `<repo>/.bench/`
 * (gitignored), else os.tmpdir() when that is the same device as the repo. Never a memory file system.
 */
export async function makeWorkDir(repoRoot: string, dir: string | undefined): Promise<WorkDir> {
  const repoDev = (await stat(repoRoot)).dev
  const candidates: { base: string; why: string; sameDeviceRequired: boolean }[] = dir
    ? [{ base: dir, why: 'given with --dir', sameDeviceRequired: false }]
    : [
        { base: join(repoRoot, '.bench'), why: "the repo's .bench/ (gitignored)", sameDeviceRequired: true },
        { base: os.tmpdir(), why: 'os.tmpdir(), same device as the repo', sameDeviceRequired: true },
      ]
  const refused: string[] = []
  for (const { base, why, sameDeviceRequired } of candidates) {
    // mkdir returns the first folder it made: remove that again if the place is refused.
    let made: string | undefined
    const refuse = async (why: string) => {
      refused.push(why)
      if (made) await rm(made, { recursive: true, force: true }).catch(() => {})
    }
    try {
      made = await mkdir(base, { recursive: true })
      const disk = await diskOf(base)
      if (MEMORY_FILESYSTEMS.has(disk.fstype)) {
        await refuse(`${base} is on ${disk.fstype} (memory, not a disk)`)
        continue
      }
      if (sameDeviceRequired && (await stat(base)).dev !== repoDev) {
        await refuse(`${base} is not on the repo's device`)
        continue
      }
      const path = await mkdtemp(join(base, `run-${new Date().toISOString().replace(/[:.]/g, '-')}-`))
      return { path, disk, why }
    } catch (err) {
      refused.push(`${base}: ${(err as Error).message}`)
    }
  }
  throw new Error(`no usable work folder on a disk: ${refused.join('; ')}. Pass --dir <folder on a real disk>.`)
}

export interface Machine {
  cpus: number
  cpuModel: string
  kernel: string
  distro: string
  memBytes: number
  node: string
}

export async function describeMachine(): Promise<Machine> {
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '')
  const distro = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? os.type()
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model?.trim() ?? 'unknown',
    kernel: os.release(),
    distro,
    memBytes: os.totalmem(),
    node: process.version,
  }
}

export const isRoot = (): boolean => process.getuid?.() === 0

/**
 * `sync; echo 3 > /proc/sys/vm/drop_caches`. Returns false when the caches could not be dropped
 * (not root, or a container that forbids it): the read that follows is then warm.
 */
export async function dropCaches(): Promise<boolean> {
  await run('sync', [])
  if (!isRoot()) return false
  try {
    await writeFile('/proc/sys/vm/drop_caches', '3\n')
    return true
  } catch {
    return false
  }
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`
}

export function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`
}

/** The machine's CPU time so far (all CPUs, in ticks): busy = everything but idle and iowait. */
export async function machineCpu(): Promise<{ busy: number; total: number } | null> {
  const text = await readFile('/proc/stat', 'utf8').catch(() => '')
  const line = text.split('\n').find(l => l.startsWith('cpu '))
  if (!line) return null
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0)
  const idle = (v[3] ?? 0) + (v[4] ?? 0)
  return { busy: total - idle, total }
}

/** Share of all CPUs busy between two machineCpu() readings, in percent. */
export function busyPercent(a: { busy: number; total: number } | null, b: { busy: number; total: number } | null): number {
  if (!a || !b || b.total === a.total) return NaN
  return (100 * (b.busy - a.busy)) / (b.total - a.total)
}
