// Sizes as people type them: 4M, 4MiB, 512k, 1G, 1048576. Binary units throughout (M = MiB).

import { dfsError } from '../errors.js'

const UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }

export function parseSize(text: string, what = 'size', opts: { allowZero?: boolean } = {}): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text)
  const bytes = match ? Number(match[1]) * UNITS[match[2].toLowerCase()] : NaN
  if (!Number.isSafeInteger(bytes) || bytes < 0 || (bytes === 0 && !opts.allowZero)) {
    throw dfsError('BAD_ARGUMENT', `${what} "${text}" is not a size; write it like 4M, 512K or 1G`, { what, text })
  }
  return bytes
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 }

/** Durations as people type them: 500ms, 2s, 1.5s, 1m. A bare number is milliseconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/i.exec(text)
  const ms = match ? Number(match[1]) * DURATION_UNITS[(match[2] ?? 'ms').toLowerCase()] : NaN
  if (!Number.isFinite(ms) || ms <= 0) {
    throw dfsError('BAD_ARGUMENT', `${what} "${text}" is not a duration; write it like 500ms, 2s or 1m`, { what, text })
  }
  return Math.round(ms)
}
