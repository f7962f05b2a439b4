// dfs status [mountpoint] [--json]: the running daemon's view of its cluster, over its control socket;
// dfs status --namenode tcp://… --secret-file <f>: the same, from a NameNode (controlTarget.ts).

import { formatOverhead } from '../cluster/storageOverhead.js'
import type { StandbyStatus } from '../namenode/standbyLink.js'
import { Command } from 'commander'
import { type DaemonRecord, daemonFor, daemonNotAnswering, isStopped, runningDaemons } from '../daemon/registry.js'
import type { RebalanceStatus } from '../cluster/rebalance/Rebalancer.js'
import type { ClusterStatus } from '../namenode/status.js'
import { nodeState } from '../cluster/nodeState.js'
import { dfsError } from '../errors.js'
import { canonicalMountpoint, dfsMountContaining, isInside } from '../fuse/mountpoint.js'
import { formatSize } from '../util/size.js'
import { oneLine } from '../util/oneLine.js'
import { describeHold } from '../meta/orphanHold.js'
import { NAMENODE_OPTION, SECRET_OPTION, type TargetFlags, withTarget } from './controlTarget.js'
import type { ClientSummary } from '../protocol/clientStats.js'

export function statusCommand(): Command {
  return new Command('status')
    .description('show the nodes of a mounted cluster: health, heartbeat age, capacity, usage, chunks; replication and healing')
    .argument('[mountpoint]', 'which mount (needed only when several are running)')
    .option('--json', 'print the status as JSON')
    .option(...NAMENODE_OPTION)
    .option(...SECRET_OPTION)
    .action(async (mountpoint: string | undefined, flags: { json?: boolean } & TargetFlags) => {
      const status = await withTarget(mountpoint, flags, target => target.call('status')) as ClusterStatus
      if (flags.json) console.log(JSON.stringify(status, null, 2))
      else console.log(formatStatus(status))
    })
}

/**
 * The daemon a command is about: the one serving the mount that holds `path` (the mount point or any
 * folder in it); without a path, the only one running, else the one whose mount holds the current
 * folder, else the only one mounted below it (the README's `dfs status` in the project folder with the
 * demo mounted at ./demo/mnt).
 */
export async function findDaemon(path: string | undefined): Promise<DaemonRecord> {
  const daemon = await whichDaemon(path)
  // A stopped daemon would leave the command waiting for the control socket's timeout.
  if (await isStopped(daemon.pid)) throw await daemonNotAnswering(daemon.mountpoint, daemon.pid)
  return daemon
}

async function whichDaemon(path: string | undefined): Promise<DaemonRecord> {
  if (path) {
    const mount = await dfsMountContaining(path)
    const daemon = await daemonFor(mount?.mountpoint ?? await canonicalMountpoint(path))
    if (!daemon) throw dfsError('NOT_MOUNTED', `no dfs daemon serves ${path}; mount it first (dfs mount ${path} ...)`, { mountpoint: path })
    return daemon
  }
  const running = await runningDaemons()
  if (running.length === 1) return running[0]
  if (running.length === 0) throw dfsError('NOT_MOUNTED', 'no dfs daemon is running; mount a cluster first (dfs mount or npm run demo)')
  let cwd = '/'
  try {
    cwd = process.cwd()
  } catch {
    // the current folder was removed: nothing to go by
  }
  const here = await dfsMountContaining(cwd)
  const serving = here && running.find(d => d.mountpoint === here.mountpoint)
  if (serving) return serving
  const below = running.filter(d => isInside(d.mountpoint, cwd))
  if (below.length === 1) return below[0]
  throw dfsError('BAD_ARGUMENT', `${running.length} dfs mounts are running (${running.map(d => d.mountpoint).join(', ')}); name one (e.g. dfs status <mountpoint>) or run the command from a folder inside it`)
}

export function formatStatus(s: ClusterStatus): string {
  const remote = s as ClusterStatus & { namenode?: string; clientIo?: ClusterStatus['io'] }
  const lines = [
    // A client mount's status is its NameNode's: the pid and uptime are that process's, not the mount's.
    `dfs on ${s.mountpoint} (${remote.namenode ? `NameNode ${remote.namenode}, ` : ''}pid ${s.pid}, up ${duration(s.uptimeMs)}): ${s.replicas} replicas, ${formatSize(s.chunkSize)} chunks, metadata in ${s.meta}`,
    ...(s.dashboard ? [`dashboard: ${s.dashboard}`] : []),
    ...(s.standby ? [formatStandby(s.standby)] : []),
    `heartbeat every ${duration(s.liveness.heartbeatMs)}; suspect after ${duration(s.liveness.suspectAfterMs)}, dead after ${duration(s.liveness.deadAfterMs)}`,
    '',
  ]
  const rows = [['NODE', 'STATE', 'HEARTBEAT', 'CAPACITY', 'USED', 'FREE', 'CHUNKS', 'ADDRESS']]
  for (const n of s.nodes) {
    // From the fields, not n.state: a daemon started before an upgrade sends none.
    rows.push([
      n.nodeId, nodeState(n), `${duration(n.heartbeatAgeMs)} ago`, size(n.capacity), size(n.used), size(n.available),
      n.chunks === undefined ? '-' : n.counting ? `${n.chunks}+ (counting)` : String(n.chunks), n.address + (n.reason ? `  (${n.reason})` : ''),
    ])
  }
  rows.push(['total', `${s.totals.alive}/${s.totals.nodes} alive`, '', size(s.totals.capacity), size(s.totals.used), size(s.totals.available), '', ''])
  lines.push(...table(rows))
  const t = s.totals
  lines.push(`capacity counts each disk once (${t.devices} device${t.devices === 1 ? '' : 's'}); with ${s.replicas} copies of each chunk, files can take ${size(t.usableCapacity)}, ${size(t.usableAvailable)} free (as df shows)`, '')
  const c = s.chunks
  const waiting = c.waitingForGrace ? ` (${c.waitingForGrace} waiting for nodes that may come back)` : ''
  lines.push(`${c.files} ${c.files === 1 ? 'file' : 'files'}, ${c.referenced} chunks: ${c.underReplicated} under-replicated, ${c.unavailable} unavailable (no intact copy on a live node)${waiting}`)
  // Erasure-coded chunks by shards not live (the census's byMissingShards; absent when there are none).
  const stripes = (c as { byMissingShards?: number[] }).byMissingShards
  if (stripes?.length) lines.push(`stripes: ${formatMissingShards(stripes)}`)
  // Measured per layout in use: what each policy really costs on the nodes (absent from an older daemon).
  if (s.overhead?.length) {
    lines.push('storage overhead (bytes on nodes ÷ bytes of file data):')
    for (const o of s.overhead) lines.push(`  ${formatOverhead(o)}`)
  }
  const h = s.healer
  if (h) {
    const repairing = h.currentlyRepairing ? `; repairing ${h.currentlyRepairing.chunk} (${h.currentlyRepairing.goodCopies} good copies)` : ''
    lines.push(
      `healer: ${h.state}, ${h.queued} queued, ${h.underReplicated} under-replicated, ${h.unavailable} unavailable` +
      `${h.waitingForGrace ? ` (${h.waitingForGrace} waiting out the ${duration(h.graceMs)} grace period)` : ''}, ${h.overReplicated} over-replicated, ${h.lost} lost; ` +
      `copied ${h.copiedChunks} chunks (${formatSize(h.copiedBytes)}) at ${formatSize(h.bytesPerSec)}/s, ${h.failed} failed; ` +
      `${h.orphansRemoved} orphan files removed, ${h.orphansPending} pending` +
      `${h.orphanHold ? ` (${h.orphansHeld} ${describeHold(h.orphanHold)})` : ''}${repairing}`,
    )
  }
  const sc = s.scrubber
  if (sc) {
    lines.push(`scrubber: ${sc.state}, ${sc.scannedChunks} copies verified (${formatSize(sc.scannedBytes)}), ${sc.corruptFound} corrupt, ${sc.missingFound} missing, ${sc.passes} ${sc.passes === 1 ? 'pass' : 'passes'}`)
  }
  const r = s.rebalance
  if (r) lines.push(formatRebalance(r))
  if (typeof s.conversion === 'string') lines.push(oneLine(s.conversion))
  // A client mount shows its own chunk I/O; the NameNode's (s.io) is that process's alone, 0 when only clients write.
  const io = remote.clientIo ?? s.io
  const whose = remote.clientIo ? 'this mount' : remote.namenode === undefined && !(Array.isArray(s.clients) && s.clients.some(c => c.inProcess)) ? 'the NameNode' : ''
  lines.push(`io${whose ? ` (${whose})` : ''}: ${io.writes} chunk writes (${io.underReplicatedWrites} under-replicated), ${io.reads} reads (${io.cacheHits} from cache, ${io.failovers} failovers), ${io.badReplicas} bad copies seen`)
  // An older NameNode sent a count here, not the list.
  if (Array.isArray(s.clients)) lines.push('', ...formatClients(s.clients, Date.now()))
  return lines.join('\n')
}

/** The Clients section: every mount of the cluster, its uptime and what it does now. */
/** "5 whole, 1 missing 1 shard, 2 missing 2 shards": counts by shards not live, the empty ones left out (whole always said). */
export function formatMissingShards(byMissing: readonly number[]): string {
  return byMissing
    .flatMap((count, missing) => (missing === 0 ? [`${count} whole`] : count > 0 ? [`${count} missing ${missing} shard${missing === 1 ? '' : 's'}`] : []))
    .join(', ')
}

export function formatClients(clients: ClientSummary[], now: number): string[] {
  const connected = clients.filter(c => c.connected).length
  const head = `${clients.length} client${clients.length === 1 ? '' : 's'} (${connected} connected)`
  if (clients.length === 0) return [head]
  const rows = [['CLIENT', 'PID', 'UP', 'OPS/S', 'READ/S', 'WRITE/S', 'STATE']]
  for (const c of clients) {
    rows.push([
      `${c.host}:${c.mountpoint}`, String(c.pid), duration(Math.max(0, now - c.startedAt)), c.opsPerSec.toFixed(1),
      formatSize(Math.round(c.readBytesPerSec)), formatSize(Math.round(c.writeBytesPerSec)),
      (c.connected ? 'connected' : 'disconnected') + (c.inProcess ? ' (in this process)' : ''),
    ])
  }
  return [head, ...table(rows)]
}

/** One line: whether the metadata lives on a second machine too. */
export function formatStandby(s: StandbyStatus): string {
  const since = s.since ? ` since ${s.since}` : ''
  switch (s.state) {
    case 'none': return 'standby: none; this NameNode alone holds the metadata (start one with dfs namenode --standby-of on another host)'
    case 'catching-up': return `standby: ${s.peer} catching up from a snapshot${since}; until it has, this NameNode alone holds the metadata`
    case 'following': return `standby: ${s.peer} following, at seq ${s.ackedSeq} of ${s.lastSeq}; fsyncs wait for it`
    case 'lost': return `standby: LOST${since} (${s.why}); it had seq ${s.ackedSeq ?? 0}, ${s.behind ?? 0} record${s.behind === 1 ? '' : 's'} behind: those are on this NameNode only`
  }
}

/** One line: what a balance or drain is doing, or how the last one ended. */
export function formatRebalance(r: RebalanceStatus): string {
  const what = r.kind === 'drain' ? `drain of ${r.node?.address ?? '?'}` : 'balance'
  const moved = `${r.movedChunks} of ${r.plannedChunks} chunks (${formatSize(r.movedBytes)} of ${formatSize(r.plannedBytes)})`
  const extra = [r.skippedChunks ? `${r.skippedChunks} skipped` : '', r.failedChunks ? `${r.failedChunks} failed` : ''].filter(Boolean).join(', ')
  if (r.state === 'running') {
    const remaining = r.remainingChunks !== undefined ? `, ${r.remainingChunks} chunks left on the node` : ''
    return `${what}: running, moved ${moved} at ${formatSize(r.bytesPerSec)}/s${remaining}${extra ? `, ${extra}` : ''}`
  }
  const ended = `${r.state} ${duration(Date.now() - (r.finishedAt ?? Date.now()))} ago`
  return `last ${what}: ${ended}, moved ${moved} in ${duration(r.elapsedMs)}${extra ? `, ${extra}` : ''}${r.error ? ` (${r.error})` : ''}`
}

/** Rows of cells, columns aligned; a cell is shown on one line whatever it holds (a client's mount point). */
function table(cells: string[][]): string[] {
  const rows = cells.map(r => r.map(oneLine))
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  return rows.map(r => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd())
}

const size = (bytes: number | undefined) => (bytes === undefined ? '-' : formatSize(bytes))
const duration = (ms: number) => (ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`)
