// The logging every part of dfs takes: `log(message)` (info) with one function per level beside it,
// `log.warn(message, context)`. Parts that were handed a plain `(message) => void` (tests, fsck's
// console) keep working: levelled() gives such a function the levels, error, warn and info going to
// it and debug (per-chunk detail it never asked for) nowhere.

import { dfsError } from '../errors.js'

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export type LogFn = (message: string, context?: Record<string, unknown>) => void

/** A log(message) function (info) that also has one function per level. */
export interface Log extends LogFn {
  error: LogFn
  warn: LogFn
  info: LogFn
  debug: LogFn
}

const isLog = (log: unknown): log is Log => typeof log === 'function' && LOG_LEVELS.every(level => typeof (log as unknown as Record<string, unknown>)[level] === 'function')

/** A Log from whatever the caller passed: a Log as it is; a plain function for error, warn and info; nothing: silent. */
export function levelled(log: ((message: string) => void) | Log | undefined): Log {
  if (isLog(log)) return log
  if (!log) return silentLog
  const line: LogFn = (message, context) => log(context ? `${message} ${JSON.stringify(context)}` : message)
  return Object.assign((message: string, context?: Record<string, unknown>) => line(message, context), { error: line, warn: line, info: line, debug: () => {} })
}

export const silentLog: Log = Object.assign(() => {}, { error() {}, warn() {}, info() {}, debug() {} })

/** --log-level's value, or a one-line error naming the choices. */
export function parseLogLevel(text: string, what = '--log-level'): LogLevel {
  const level = text.trim().toLowerCase()
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel
  throw dfsError('BAD_ARGUMENT', `${what} "${text}" is not a log level; use one of ${LOG_LEVELS.join(', ')}`, { what, text })
}
