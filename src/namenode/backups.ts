// `dfs namenode --backup-dir <dir> [--backup-every 1h] [--backup-keep 24]`: the NameNode writes a
// namespace dump (meta/dump.ts) to <dir>/ns-<time>.json soon after it starts and then every period,
// and keeps the newest N. Each is written to a temp file, fsync'd, renamed into place and the folder
// fsync'd, so a backup that is there is whole. A backup that fails is logged and tried again the next
// period; it never stops the NameNode. The metadata folder records where its backups go
// (<meta>/backups.json), so `dfs fsck --meta <dir> --repair` finds them.
//
// Timers and the clock are injected: the test drives the schedule itself, never racing the clock.

import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { dfsError } from '../errors.js'
import { levelled, type Log } from '../log/Log.js'
import { type CapturedDump, type DumpSink, writeDump } from '../meta/dump.js'
import { BACKUP_PREFIX, BACKUP_SUFFIX, listBackups, writeBackupsRecord } from '../meta/backupsRecord.js'
import { fsyncPath } from '../util/files.js'

const TEMP_PREFIX = '.ns-'
/** The first backup comes this long after start: soon, but not in the way of the first mounts. */
export const FIRST_BACKUP_MS = 10_000

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

export interface BackupOptions {
  /** The metadata folder (it records the backup folder). */
  metaDir: string
  /** Where the backups go. */
  dir: string
  everyMs: number
  keep: number
  /** The namespace as of now (captureStore of the NameNode's store). */
  capture: () => Promise<CapturedDump>
  log: ((message: string) => void) | Log
  firstAfterMs?: number
  timers?: Timers
  now?: () => Date
}

/**
 * --backup-dir, checked before the NameNode opens anything (a refusal then changes nothing): a folder,
 * or a path one can be made at, and not the metadata folder or inside it, whose disk the backups
 * are there to outlive.
 */
export async function checkBackupDir(dir: string, metaDir: string): Promise<void> {
  const target = resolve(dir)
  const meta = resolve(metaDir)
  const within = relative(meta, target)
  if (within === '' || (!within.startsWith('..') && !isAbsolute(within))) {
    throw dfsError('BAD_ARGUMENT', `--backup-dir ${dir} is ${within === '' ? 'the metadata folder' : `inside the metadata folder ${metaDir}`}; backups are for when that disk fails: put them in a folder on another disk`, { dir })
  }
  // The path itself, or the nearest part of it that exists, must be a folder.
  for (let at = target; ; at = dirname(at)) {
    const found = await stat(at).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined // look further up
      throw dfsError('BAD_ARGUMENT', `--backup-dir ${dir} cannot be used (${err.code ?? err.message}); pass a folder on another disk than the metadata folder`, { dir }, err)
    })
    if (found?.isDirectory()) return
    if (found) {
      throw dfsError('BAD_ARGUMENT', `--backup-dir ${dir}: ${at} is a file, not a folder; pass a folder on another disk than the metadata folder`, { dir })
    }
    if (dirname(at) === at) return
  }
}

export class BackupScheduler {
  private readonly log: Log
  private readonly timers: Timers
  private readonly now: () => Date
  private timer: unknown
  private running: Promise<void> | undefined
  private stopped = false
  readonly dir: string

  private constructor(private readonly options: BackupOptions) {
    this.log = levelled(options.log)
    this.timers = options.timers ?? realTimers
    this.now = options.now ?? (() => new Date())
    this.dir = resolve(options.dir)
  }

  /** Make the folder, record it in the metadata folder, clear leftovers, and schedule the first backup. */
  static async start(options: BackupOptions): Promise<BackupScheduler> {
    if (!Number.isSafeInteger(options.keep) || options.keep < 1) {
      throw dfsError('BAD_ARGUMENT', `--backup-keep ${options.keep} is not a number of backups; pass 1 or more`, { keep: options.keep })
    }
    const scheduler = new BackupScheduler(options)
    await mkdir(scheduler.dir, { recursive: true })
    for (const name of await readdir(scheduler.dir)) {
      if (name.startsWith(TEMP_PREFIX)) await rm(join(scheduler.dir, name), { force: true }) // a backup a crash cut short
    }
    await writeBackupsRecord(options.metaDir, { dir: scheduler.dir, everyMs: options.everyMs, keep: options.keep })
    scheduler.schedule(options.firstAfterMs ?? FIRST_BACKUP_MS)
    return scheduler
  }

  /** Write one backup now (the timer calls this); resolves with its path. Rejects on failure; the schedule goes on regardless. */
  async backupNow(): Promise<string> {
    const { header, pieces } = await this.options.capture()
    const stamp = this.now().toISOString().replace(/:/g, '-')
    const name = `${BACKUP_PREFIX}${stamp}${BACKUP_SUFFIX}`
    const tmp = join(this.dir, `${TEMP_PREFIX}${stamp}.tmp`)
    const file = join(this.dir, name)
    const fh = await open(tmp, 'w')
    try {
      const sink: DumpSink = async (text) => { await fh.write(text) }
      await writeDump(header, pieces, sink)
      await fh.sync()
    } catch (err) {
      await fh.close().catch(() => {})
      await rm(tmp, { force: true })
      throw err
    }
    await fh.close()
    await rename(tmp, file)
    await fsyncPath(this.dir)
    await this.prune()
    return file
  }

  /** Resolves when no backup is being written (tests: after firing the timer). */
  async idle(): Promise<void> {
    await this.running
  }

  /** Stop the schedule; a backup being written finishes first. */
  async stop(): Promise<void> {
    this.stopped = true
    this.timers.clearTimeout(this.timer)
    await this.running
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    this.timer = this.timers.setTimeout(() => {
      this.running = this.backupNow().then(
        (file) => this.log.info(`backup written: ${file}`),
        (err: unknown) => this.log.warn(`backup to ${this.dir} failed (${(err as Error).message}); the next try is in ${Math.round(this.options.everyMs / 1000)} s`),
      ).finally(() => {
        this.running = undefined
        this.schedule(this.options.everyMs)
      })
    }, ms)
  }

  private async prune(): Promise<void> {
    const all = await listBackups(this.dir)
    for (const old of all.slice(this.options.keep)) await rm(old, { force: true })
    if (all.length > this.options.keep) await fsyncPath(this.dir)
  }
}
