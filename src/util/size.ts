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

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
/** The longest duration: Node's timers fire at once past 2^31-1 ms (~24.8 days), so a round bound below. */
export const MAX_DURATION_MS = 24 * 24 * 3_600_000

/**
 * Durations as people type them: 500ms, 2s, 1.5s, 1m, 1h. A bare number is refused: `--heartbeat 5`
 * meant 5 ms to dfs and 5 s to the person who typed it. minMs is the shortest that makes sense.
 */
export function parseDuration(text: string, what = 'duration', opts: { minMs?: number } = {}): number {
  const bare = /^\s*(\d+(?:\.\d+)?)\s*$/.exec(text)
  if (bare) {
    throw dfsError('BAD_ARGUMENT', `${what} "${text}" needs a unit; write ${bare[1]}s or ${bare[1]}ms`, { what, text })
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/i.exec(text)
  const ms = match ? Math.round(Number(match[1]) * DURATION_UNITS[match[2].toLowerCase()]) : NaN
  if (!Number.isFinite(ms)) {
    throw dfsError('BAD_ARGUMENT', `${what} "${text}" is not a duration; write it like 500ms, 2s, 1m or 1h`, { what, text })
  }
  // A duration, but outside what the flag (or a timer) can take: say the range.
  const minMs = Math.max(1, opts.minMs ?? 1)
  if (ms < minMs) {
    throw dfsError('BAD_ARGUMENT', `${what} ${text.trim()} is too short; pass at least ${formatDuration(minMs)}`, { what, text, minMs })
  }
  if (ms > MAX_DURATION_MS) {
    throw dfsError('BAD_ARGUMENT', `${what} ${text.trim()} is too long; pass at most ${formatDuration(MAX_DURATION_MS)} (24 days)`, { what, text, maxMs: MAX_DURATION_MS })
  }
  return ms
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}
