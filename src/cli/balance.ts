// dfs balance [mountpoint | --namenode tcp://… --secret-file <f>] [--json] [--cancel]: ask the mount daemon (or the NameNode) to move chunks from the most-used
// nodes to the least-used until usage is even, and show its progress until it is done. The work
// happens in the daemon; this command only starts it (or cancels it) and polls its progress
// (balance-status, every 250 ms). Also the follow loop `dfs drain` shares.

import { Command } from 'commander'
import type { RebalanceStatus } from '../cluster/rebalance/Rebalancer.js'
import { dfsError } from '../errors.js'
import { formatSize } from '../util/size.js'
import { type ControlTarget, NAMENODE_OPTION, SECRET_OPTION, type TargetFlags, withTarget } from './controlTarget.js'
import { Progress, type ProgressState } from './progress.js'

const POLL_MS = 250
/** Cancelling waits for the moves in flight to end. */
const CANCEL_TIMEOUT_MS = 120_000

export function balanceCommand(): Command {
  return new Command('balance')
    .description('move chunks from the most-used nodes to the least-used until usage is even (e.g. after adding a node)')
    .argument('[mountpoint]', 'which mount (needed only when several are running)')
    .option('--json', 'print the final result as JSON (and no progress bar)')
    .option('--cancel', 'stop the balance running: the moves in flight finish, every chunk keeps its copies')
    .option(...NAMENODE_OPTION)
    .option(...SECRET_OPTION)
    .action(async (mountpoint: string | undefined, flags: { json?: boolean; cancel?: boolean } & TargetFlags) => {
      const result = await withTarget(mountpoint, flags, async target => {
        if (flags.cancel) return cancelJob(target, 'balance', flags)
        const started = (await target.call('balance')) as RebalanceStatus
        const result = await followJob(target, started, flags)
        if (flags.json) console.log(JSON.stringify(result, null, 2))
        else console.log(formatBalanceResult(target, result))
        return result
      })
      if (result) failIfFailed(result)
    })
}

/**
 * Poll the daemon until the job ends, with a progress bar on stderr (none with --json). Ctrl-C stops
 * watching, not the job, and says so and how to cancel it.
 */
export async function followJob(target: ControlTarget, started: RebalanceStatus, flags: { json?: boolean } = {}): Promise<RebalanceStatus> {
  const what = started.kind === 'drain' ? `drain ${started.node?.address ?? ''}` : 'balance'
  const progress = new Progress({ label: what, quiet: flags.json })
  const onInterrupt = () => {
    progress.interrupt()
    process.stderr.write(`dfs: stopped watching; the ${started.kind} goes on in ${target.namenode ? 'the NameNode' : 'the daemon'} (dfs status ${target.cli} shows it; ` +
      `dfs ${started.kind} --cancel ${target.cli} stops it)\n`)
    process.exit(130)
  }
  process.once('SIGINT', onInterrupt)
  try {
    let s = started
    while (s.state === 'running') {
      progress.update(progressState(s))
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      const now = (await target.call('balance-status')) as RebalanceStatus | null
      if (!now || now.id !== started.id) {
        progress.interrupt()
        throw dfsError('EIO', `${target.what} no longer knows this ${started.kind} (was it restarted?)`, { target: target.cli })
      }
      s = now
    }
    progress.finish(progressState(s))
    return s
  } finally {
    process.off('SIGINT', onInterrupt)
  }
}

/** The bar follows bytes moved of bytes planned; the detail: `12/36 chunks  3.0 MiB/9.0 MiB  25 MiB/s`. */
export function progressState(s: RebalanceStatus): ProgressState {
  const parts = [
    `${s.movedChunks}/${s.plannedChunks} chunks`,
    `${formatSize(s.movedBytes)}/${formatSize(s.plannedBytes)}`,
    `${formatSize(s.bytesPerSec)}/s`,
  ]
  if (s.failedChunks) parts.push(`${s.failedChunks} failed`)
  if (s.state !== 'running') parts.push(s.state)
  // Nothing to move: a finished job is all done.
  const nothing = s.plannedBytes === 0 && s.state !== 'running'
  return { value: nothing ? 1 : s.movedBytes, total: nothing ? 1 : s.plannedBytes, detail: parts.join('  ') }
}

/** `dfs balance --cancel`, `dfs drain --cancel`: stop the job; it ends once its moves in flight have. */
export async function cancelJob(target: ControlTarget, kind: RebalanceStatus['kind'], flags: { json?: boolean }): Promise<void> {
  const s = (await target.call('cancel', { kind }, CANCEL_TIMEOUT_MS)) as RebalanceStatus
  if (flags.json) return console.log(JSON.stringify(s, null, 2))
  const what = kind === 'drain' ? `drain of ${s.node?.address}` : 'balance'
  const lines = [`dfs: ${what} cancelled: moved ${s.movedChunks} of ${s.plannedChunks} chunks (${formatSize(s.movedBytes)}); every chunk keeps its copies (moves are copy-then-delete)`]
  if (kind === 'drain') {
    lines.push(`${s.node?.address} still takes no new chunks: dfs drain ${s.node?.address} ${target.cli} moves the rest, dfs drain --undo ${s.node?.address} ${target.cli} takes it back`)
  }
  console.log(lines.join('\n'))
}

export function failIfFailed(s: RebalanceStatus): void {
  if (s.state === 'failed') throw dfsError('EIO', `${s.kind} failed: ${s.error ?? 'see the daemon log'}`, { kind: s.kind })
  if (s.state === 'stopped') throw dfsError('EIO', `${s.kind} stopped: the daemon is shutting down; run it again after the next mount`, { kind: s.kind })
  // Not a failure (exit status 3, see errorOutput.ts): someone stopped it on purpose.
  if (s.state === 'cancelled') {
    throw dfsError('JOB_CANCELLED', `${s.kind} cancelled (dfs ${s.kind} --cancel) after moving ${s.movedChunks} of ${s.plannedChunks} chunks; every chunk keeps its copies, run it again to finish`, { kind: s.kind })
  }
}

function formatBalanceResult(target: ControlTarget, s: RebalanceStatus): string {
  const name = target.namenode ?? target.daemon?.mountpoint
  const head = s.balanced
    ? `dfs: ${name} is balanced: every node within ${formatSize(s.toleranceBytes ?? 0)} of the mean`
    : `dfs: balance of ${name} ended, but usage is not within ${formatSize(s.toleranceBytes ?? 0)} of the mean (too few nodes can take copies?)`
  const lines = [
    head,
    `moved ${s.movedChunks} chunks (${formatSize(s.movedBytes)}) in ${(s.elapsedMs / 1000).toFixed(1)} s` +
      (s.skippedChunks ? `, ${s.skippedChunks} skipped (files changed meanwhile)` : '') + (s.failedChunks ? `, ${s.failedChunks} failed` : ''),
  ]
  const width = Math.max(0, ...s.nodes.map((n) => n.address.length))
  for (const n of s.nodes) lines.push(`  ${n.address.padEnd(width)}  ${formatSize(n.before).padStart(9)} -> ${formatSize(n.now)}`)
  return lines.join('\n')
}
