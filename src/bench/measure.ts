// How the bench takes its file-system figures, the same on every mount it compares (native, the ceiling,
// the embedded dfs mount, a client of a NameNode over TCP): each one a real tool as its own process.

import { describe, run, sleep } from './proc.js'

/** Tools print the same way whatever the user's locale (and ls sorts the same on every side). */
export const TOOL_ENV = { ...process.env, LC_ALL: 'C' }

/** Bytes dd says it copied ("1073741824 bytes (1.1 GB, 1.0 GiB) copied, ..."). */
function ddBytes(stderr: string): number {
  return Number(/^(\d+) bytes/m.exec(stderr)?.[1] ?? NaN)
}

/** `dd <args> bs=1M`, checked to copy `expectBytes`: MB/s (10^6 bytes/s) over dd's wall time. */
export async function dd(args: string[], expectBytes: number): Promise<number> {
  const r = await run('dd', [...args, 'bs=1M'], { env: TOOL_ENV })
  const copied = ddBytes(r.stderr)
  if (copied !== expectBytes) throw new Error(`${describe('dd', [...args, 'bs=1M'])} copied ${copied} bytes, not ${expectBytes}:\n${r.stderr.trim()}`)
  return expectBytes / (r.ms / 1000) / 1e6 // MB/s, 10^6 bytes
}

/**
 * ext4 without a journal (this project's VM) makes every new inode skip the inodes deleted in its
 * block group lately, reading their inode-table blocks as it goes (`recently_deleted` in
 * fs/ext4/ialloc.c: 60 s, 300 s while that block is dirty): creates right after a bulk delete cost
 * dfs (two chunk files per file) up to twice the CPU, native less, the ceiling nothing (docs/bench.md,
 * "Creating files right after deleting many"). So the bench keeps what it writes until the end (each
 * run's big file, its folders of small files, the stall figures' scratch). Only the NameNode section's
 * fsync'd creates follow deletes (the big file of its measurement before): they rest this much
 * first, short of the kernel's window, which would cost minutes each; a create that waits for an
 * fsync is bound by that more than by ext4.
 */
const RECENTLY_DELETED_MS = 33_000
let lastDeleteAt = 0

/** The bench deleted many files just now (a big file's chunks). */
export function deletedMany(): void {
  lastDeleteAt = Date.now()
}

/** Resolves once RECENTLY_DELETED_MS have passed since the bench last deleted many files: call it before the clock starts. */
export async function restAfterDeletes(): Promise<void> {
  const wait = lastDeleteAt + RECENTLY_DELETED_MS - Date.now()
  if (wait > 0) await sleep(wait)
}

/** `node createFiles.js <dir> <files> <size> [fsync]`: files/s timed around its loop, and the whole process's time. */
export async function createFiles(script: string, dir: string, files: number, fileSize: number, fsync = false): Promise<{ perSecond: number; loopMs: number; processMs: number }> {
  const r = await run(process.execPath, [script, dir, String(files), String(fileSize), ...(fsync ? ['fsync'] : [])])
  const { ms } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { ms?: number }
  if (typeof ms !== 'number') throw new Error(`createFiles.js printed no time: ${r.stdout}`)
  return { perSecond: files / (ms / 1000), loopMs: ms, processMs: r.ms }
}

/** `node readFiles.js <dir> <files> <size>`: files/s read back, timed around its listing and reads, and the whole process's time. */
export async function readFiles(script: string, dir: string, files: number, fileSize: number): Promise<{ perSecond: number; loopMs: number; processMs: number }> {
  const r = await run(process.execPath, [script, dir, String(files), String(fileSize)])
  const { ms } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { ms?: number }
  if (typeof ms !== 'number') throw new Error(`readFiles.js printed no time: ${r.stdout}`)
  return { perSecond: files / (ms / 1000), loopMs: ms, processMs: r.ms }
}

/** One untimed `ls -l` (warms caches, checks the count), then the timed one: its wall time in ms. */
export async function listFiles(dir: string, count: number): Promise<number> {
  const warm = await run('ls', ['-l', dir], { env: TOOL_ENV })
  const entries = warm.stdout.split('\n').filter(line => /^-/.test(line)).length
  if (entries !== count) throw new Error(`ls -l ${dir} shows ${entries} files, not ${count}`)
  const timed = await run('sh', ['-c', 'exec ls -l "$1" > /dev/null', 'sh', dir], { env: TOOL_ENV })
  return timed.ms
}
