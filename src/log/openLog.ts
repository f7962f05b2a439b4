// Where a process's log goes, through pino: to stderr as one readable line per entry (a process in
// the foreground: the demo, `dfs datanode`, a service manager), or to a folder of JSON-lines files
// (the background mount daemon), appended and never truncated, rotated by size (pino-roll), the
// newest reached through `current.log`.
//
// Both are written synchronously, in the caller's thread: a line logged is in the kernel before the
// call returns, so the last lines before a kill -9 or a crash are in the file. dfs logs lifecycle
// events, failures and per-pass summaries, not per-request lines, so this costs nothing that counts.

import { join } from 'node:path'
import { createRequire } from 'node:module'
import pino from 'pino'
import type { Log, LogFn, LogLevel } from './Log.js'
import { ensureLogFolder } from './where.js'

const require = createRequire(import.meta.url)
// CommonJS modules without types of their own that fit NodeNext: loaded as such, and only when a
// log is opened (pino-roll pulls in date-fns: a third of the start-up of every `dfs` command).
const pinoRoll = () => require('pino-roll') as (options: Record<string, unknown>) => Promise<pino.DestinationStream & { end(): void }>
const pinoPretty = () => require('pino-pretty') as (options: Record<string, unknown>) => pino.DestinationStream

/** The log files in a folder: dfs.1.log, dfs.2.log, … (the highest is the newest), and current.log. */
export const CURRENT_LOG = 'current.log'
export const DEFAULT_LOG_FILE_SIZE = 10 * 1024 * 1024
/** Rotated files kept beside the one in use. */
export const LOG_FILES_KEPT = 5

export interface LogOptions {
  level: LogLevel
  /** Write into this folder (created if missing) instead of stderr. */
  folder?: string
  /** Start a new file once the current one reaches this many bytes; default 10 MiB. */
  fileSize?: number
  /** Fixed fields on every entry (e.g. { role: 'datanode' }). */
  base?: Record<string, unknown>
}

export interface OpenedLog {
  log: Log
  /** The file a reader should follow (folder/current.log), or undefined for stderr. */
  file?: string
  close(): void
}

export async function openLog(options: LogOptions): Promise<OpenedLog> {
  if (options.folder) await ensureLogFolder(options.folder)
  const destination = options.folder
    ? await pinoRoll()({
        file: join(options.folder, 'dfs'),
        extension: '.log',
        // pino-roll counts in whole KiB ('k'); a smaller limit means "rotate at every chance"
        size: `${Math.max(1, Math.ceil((options.fileSize ?? DEFAULT_LOG_FILE_SIZE) / 1024))}k`,
        // With removeOtherLogFiles, pino-roll's count is of all the files, the current one included.
        limit: { count: LOG_FILES_KEPT + 1, removeOtherLogFiles: true },
        symlink: true,
        mkdir: false, // ensureLogFolder made it (pino-roll's recursive mkdir can spin forever)
        sync: true,
      })
    : pinoPretty()({ destination: 2, sync: true, colorize: false, singleLine: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'pid,hostname' })
  const logger = pino({
    level: options.level,
    base: { pid: process.pid, ...options.base },
    // Files are read by people too: a time and a level name, not two numbers.
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: label => ({ level: label }) },
  }, destination)
  return {
    log: asLog(logger),
    file: options.folder ? join(options.folder, CURRENT_LOG) : undefined,
    close: () => (destination as { end?: () => void }).end?.(),
  }
}

/** dfs's log(message, context) shape over a pino logger. */
function asLog(logger: pino.Logger): Log {
  const at = (level: LogLevel): LogFn => (message, context) => (context ? logger[level](context, message) : logger[level](message))
  return Object.assign(at('info'), { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') })
}
