// dfs balance [mountpoint] [--json]: ask the mount daemon to move chunks from the most-used nodes to
// the least-used until usage is even, and show its progress until it is done. The work happens in
// the daemon; this command only starts it and polls its progress (balance-status, every 250 ms).
// Also the progress bar and the follow loop `dfs drain` shares.

import { Command } from 'commander'
import type { RebalanceStatus } from '../cluster/rebalance/Rebalancer.js'
import { callControl } from '../daemon/control.js'
import type { DaemonRecord } from '../daemon/registry.js'
import { dfsError } from '../errors.js'
import { formatSize } from '../util/size.js'
import { findDaemon } from './status.js'

const POLL_MS = 250
/** Without a terminal, a progress line at most this often (plus the last one). */
const LOG_EVERY_MS = 1000
const BAR_WIDTH = 30

export function balanceCommand(): Command {
  return new Command('balance')
    .description('move chunks from the most-used nodes to the least-used until usage is even (e.g. after adding a node)')
    .argument('[mountpoint]', 'which mount (needed only when several are running)')
    .option('--json', 'print the final result as JSON')
    .action(async (mountpoint: string | undefined, flags: { json?: boolean }) => {
      const daemon = await findDaemon(mountpoint)
      const started = (await callControl(daemon.control, 'balance')) as RebalanceStatus
      const result = await followJob(daemon, started)
      if (flags.json) console.log(JSON.stringify(result, null, 2))
      else console.log(formatBalanceResult(daemon, result))
      failIfFailed(result)
    })
}

/**
 * Poll the daemon until the job ends, drawing a progress bar on stderr (redrawn in place on a
 * terminal, a line a second otherwise). Ctrl-C stops watching, not the job.
 */
export async function followJob(daemon: DaemonRecord, started: RebalanceStatus): Promise<RebalanceStatus> {
  const tty = process.stderr.isTTY === true
  let lastLine = 0
  let drawn = false
  const draw = (s: RebalanceStatus, final: boolean) => {
    const line = progressLine(s)
    if (tty) {
      process.stderr.write(`\r${line}\x1b[K${final ? '\n' : ''}`)
      drawn = !final
    } else if (final || Date.now() - lastLine >= LOG_EVERY_MS) {
      process.stderr.write(`${line}\n`)
      lastLine = Date.now()
    }
  }
  const onInterrupt = () => {
    if (drawn) process.stderr.write('\n')
    const what = started.kind === 'drain' ? 'drain' : 'balance'
    process.stderr.write(`dfs: stopped watching; the ${what} goes on in the daemon (dfs status ${daemon.mountpoint} shows it)\n`)
    process.exit(130)
  }
  process.once('SIGINT', onInterrupt)
  try {
    let s = started
    while (s.state === 'running') {
      draw(s, false)
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      const now = (await callControl(daemon.control, 'balance-status')) as RebalanceStatus | null
      if (!now || now.id !== started.id) {
        throw dfsError('EIO', `the daemon serving ${daemon.mountpoint} no longer knows this ${started.kind} (was it restarted?)`, { mountpoint: daemon.mountpoint })
      }
      s = now
    }
    draw(s, true)
    return s
  } finally {
    process.off('SIGINT', onInterrupt)
  }
}

/** `balance [##########--------------------]  33%  12/36 chunks  3.0 MiB/9.0 MiB  25 MiB/s` */
export function progressLine(s: RebalanceStatus): string {
  const what = s.kind === 'drain' ? `drain ${s.node?.address ?? ''}` : 'balance'
  const fraction = s.plannedBytes > 0 ? Math.min(1, s.movedBytes / s.plannedBytes) : s.state === 'running' ? 0 : 1
  const filled = Math.round(fraction * BAR_WIDTH)
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4)
  const parts = [
    `${what} ${bar} ${percent}`,
    `${s.movedChunks}/${s.plannedChunks} chunks`,
    `${formatSize(s.movedBytes)}/${formatSize(s.plannedBytes)}`,
    `${formatSize(s.bytesPerSec)}/s`,
  ]
  if (s.failedChunks) parts.push(`${s.failedChunks} failed`)
  if (s.state !== 'running') parts.push(s.state)
  return parts.join('  ')
}

export function failIfFailed(s: RebalanceStatus): void {
  if (s.state === 'failed') throw dfsError('EIO', `${s.kind} failed: ${s.error ?? 'see the daemon log'}`, { kind: s.kind })
  if (s.state === 'stopped') throw dfsError('EIO', `${s.kind} stopped: the daemon is shutting down; run it again after the next mount`, { kind: s.kind })
}

function formatBalanceResult(daemon: DaemonRecord, s: RebalanceStatus): string {
  const head = s.balanced
    ? `dfs: ${daemon.mountpoint} is balanced: every node within ${formatSize(s.toleranceBytes ?? 0)} of the mean`
    : `dfs: balance of ${daemon.mountpoint} ended, but usage is not within ${formatSize(s.toleranceBytes ?? 0)} of the mean (too few nodes can take copies?)`
  const lines = [
    head,
    `moved ${s.movedChunks} chunks (${formatSize(s.movedBytes)}) in ${(s.elapsedMs / 1000).toFixed(1)} s` +
      (s.skippedChunks ? `, ${s.skippedChunks} skipped (files changed meanwhile)` : '') + (s.failedChunks ? `, ${s.failedChunks} failed` : ''),
  ]
  const width = Math.max(0, ...s.nodes.map((n) => n.address.length))
  for (const n of s.nodes) lines.push(`  ${n.address.padEnd(width)}  ${formatSize(n.before).padStart(9)} -> ${formatSize(n.now)}`)
  return lines.join('\n')
}
