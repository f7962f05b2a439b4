// dfs fsck --meta <dir>: check the metadata (fsckMeta.ts), then verify every copy of every chunk;
// --repair recovers damaged metadata, restores R copies and removes orphans.
// dfs fsck --namenode tcp://… --secret-file <f>: the same check, run online by the NameNode against
// its live namespace (namenode/onlineFsck.ts); read-only.

import { problemLine } from './fsckLines.js'
import { resolve } from 'node:path'
import { Command } from 'commander'
import { fsck, isHealthy, type FsckProgress, type FsckReport } from '../cluster/fsck.js'
import { openCluster } from '../cluster/openCluster.js'
import { callControl } from '../daemon/control.js'
import { runningDaemons } from '../daemon/registry.js'
import { checkMetaFolder, releaseOrphans } from './fsckMeta.js'
import { checkNotStandby } from '../meta/standbyGuard.js'
import { dfsError } from '../errors.js'
import type { ClusterStatus } from '../namenode/status.js'
import { formatSize } from '../util/size.js'
import { describeHold, releaseHint } from '../meta/orphanHold.js'
import { Progress } from './progress.js'
import type { FsckJob } from '../namenode/onlineFsck.js'
import { type ControlTarget, withTarget } from './controlTarget.js'

const POLL_MS = 250

export function fsckCommand(): Command {
  return new Command('fsck')
    .description('check the metadata journal and checkpoint, then every chunk copy against its SHA-256 (with the running daemon\'s healer view when mounted); --repair recovers damaged metadata (backing up what it changes), restores R copies and removes orphans (unmount first)')
    .option('--meta <dir>', 'the metadata folder of the cluster (checked here, offline)')
    .option('--namenode <address>', 'instead of --meta: have the NameNode at tcp://host:port check its cluster online (read-only)')
    .option('--nodes <nodes>', 'comma-separated node folders and tcp:// servers (default: the ones the cluster recorded)')
    .option('--secret-file <file>', 'the cluster secret (needed for tcp:// nodes and --namenode)')
    .option('--repair', 'cut a damaged journal at its last good record (or fall back to the previous checkpoint), re-replicate under-replicated chunks, replace bad copies, remove orphans')
    .option('--release-orphans', 'end the hold a metadata repair put on orphan chunk files (they may be the data its backup refers to); do it once that backup is no longer needed')
    .option('--json', 'print the report as JSON')
    .action(async (flags: { meta?: string; namenode?: string; nodes?: string; secretFile?: string; repair?: boolean; releaseOrphans?: boolean; json?: boolean }) => {
      if (flags.namenode !== undefined) {
        const other = flags.meta !== undefined ? '--meta' : flags.nodes !== undefined ? '--nodes' : flags.releaseOrphans ? '--release-orphans' : undefined
        if (other) throw dfsError('BAD_ARGUMENT', `--namenode checks the cluster online at its NameNode; ${other} is for the offline check (dfs fsck --meta <dir>): give one or the other`, { flag: other })
        return withTarget(undefined, flags, target => onlineCheck(target, flags))
      }
      if (flags.meta === undefined) throw dfsError('BAD_ARGUMENT', 'say which cluster to check: --meta <dir> (offline, here) or --namenode tcp://host:port --secret-file <f> (online, by its NameNode)')
      const meta = flags.meta
      // Looking is for any folder; changing one is not for a standby's (it follows its primary's journal).
      if (flags.repair || flags.releaseOrphans) await checkNotStandby(resolve(meta), meta)
      if (flags.releaseOrphans) {
        if (flags.repair) throw dfsError('BAD_ARGUMENT', '--release-orphans and --repair are separate steps: release the hold first, then run dfs fsck --meta <dir> --repair to remove the orphans')
        const released = await releaseOrphans(meta)
        if (flags.json) console.log(JSON.stringify({ released: released.released ?? null }, null, 2))
        else for (const line of released.lines) console.log(line)
        return
      }
      const log = (message: string) => { if (!flags.json) console.error(`dfs fsck: ${message}`) }
      // The metadata first: it needs no node, and a damaged journal must be explained, not repeated.
      const metaCheck = await checkMetaFolder(meta, { repair: Boolean(flags.repair), json: Boolean(flags.json) })
      const tell = () => { for (const line of metaCheck.lines.splice(0)) console.log(line) }
      // A refused command prints only its error: an intact folder is reported once the nodes check out.
      if (!metaCheck.usable || metaCheck.repaired) tell()
      if (!metaCheck.usable) {
        if (flags.json) console.log(JSON.stringify({ metadata: metaCheck.report }, null, 2))
        process.exitCode = 1
        return
      }
      const cluster = await openCluster({
        meta,
        nodes: flags.nodes?.split(',').map(s => s.trim()).filter(Boolean),
        secretFile: flags.secretFile,
        cacheBytes: 0,
        log,
      }, { readOnly: !flags.repair, skipUnavailable: true })
      tell()
      let report: FsckReport
      // Every copy of every chunk is read: chunks and bytes checked so far (none with --json).
      const progress = new Progress({ label: 'fsck', quiet: flags.json })
      const bar = (p: FsckProgress) => ({
        value: p.checkedBytes, total: p.bytes,
        detail: `${p.checkedChunks}/${p.chunks} chunks  ${formatSize(p.checkedBytes)}/${formatSize(p.bytes)} checked`,
      })
      let last: FsckProgress | undefined
      try {
        report = await fsck(cluster, {
          repair: Boolean(flags.repair), log,
          onProgress: p => { last = p; progress.update(bar(p)) },
        })
        if (last) progress.finish(bar(last))
      } finally {
        progress.interrupt()
        await cluster.close()
      }
      // While mounted, the daemon's own view (heartbeats, healer) is part of the answer: what fsck
      // finds under-replicated may already be queued for repair.
      const live = await daemonView(cluster.metaDir)
      if (flags.json) console.log(JSON.stringify({ ...report, metadata: metaCheck.report, ...(live ? { daemon: live } : {}) }, (key, value) => (key === 'ref' ? undefined : value), 2))
      else printReport(report, live, cluster.metaDir, metaCheck.repaired)
      // Like fsck(8): 0 when healthy (or fully repaired), 1 when problems remain.
      const remaining = report.repaired ? report.lost.length + report.repaired.failed.length : isHealthy(report) ? 0 : 1
      process.exitCode = remaining > 0 ? 1 : 0
    })
}

/**
 * `dfs fsck --namenode`: the NameNode checks (a job, like balance: started, then followed with the
 * same progress bar), this prints its report as the offline check does, with the NameNode's view in
 * place of the mount daemon's. --repair is the NameNode's to refuse (onlineFsck.ts says why).
 */
async function onlineCheck(target: ControlTarget, flags: { repair?: boolean; json?: boolean }): Promise<void> {
  let job = (await target.call('fsck', flags.repair ? { repair: true } : {})) as FsckJob
  const progress = new Progress({ label: 'fsck', quiet: flags.json })
  const bar = (p: FsckProgress) => ({
    value: p.checkedBytes, total: p.bytes,
    detail: `${p.checkedChunks}/${p.chunks} chunks  ${formatSize(p.checkedBytes)}/${formatSize(p.bytes)} checked`,
  })
  try {
    while (job.state === 'running') {
      progress.update(bar(job.progress))
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
      const now = (await target.call('fsck-status', { id: job.id })) as FsckJob | null
      if (!now) throw dfsError('EIO', `${target.what} no longer knows this check (was it restarted?); run dfs fsck ${target.cli} again`, {})
      job = now
    }
    if (job.state === 'failed' || !job.report) throw dfsError('EIO', `the online check failed at ${target.what}: ${job.error ?? 'no report'}`, {})
    progress.finish(bar(job.progress))
  } finally {
    progress.interrupt()
  }
  const report = job.report
  const live = (await target.call('status')) as ClusterStatus
  if (flags.json) console.log(JSON.stringify({ ...report, namenode: target.namenode, daemon: live }, null, 2))
  else printReport(report, live, live.meta, false, target)
  process.exitCode = isHealthy(report) ? 0 : 1
}

/**
 * After a metadata repair, a file with no intact copy of a chunk is most often one a dropped record
 * had removed or rewritten: the daemon deleted its chunk files then, and the cut brought the file
 * back. Nothing can bring those bytes back; say so and what to do, rather than a bare LOST count.
 */
function lostAfterMetaRepair(r: FsckReport): string[] {
  const paths = [...new Set(r.lost.map(p => p.path))]
  if (paths.length === 0) return []
  return [
    `${paths.length} file(s) came back with the repaired metadata but their data is gone (most likely a dropped record had removed or rewritten them, and their chunk files were deleted then):`,
    ...paths.slice(0, 20).map(p => `  ${p}`),
    ...(paths.length > 20 ? [`  ... and ${paths.length - 20} more (--json lists them)`] : []),
    '  dfs cannot recover these bytes: mount, then remove each through the mount (rm <mountpoint><path>) or restore it from a copy of your own; reading them fails with EIO until then',
  ]
}

/** The status of the daemon serving this metadata folder, if one is running. */
async function daemonView(metaDir: string): Promise<ClusterStatus | undefined> {
  const daemon = (await runningDaemons()).find(d => d.meta === metaDir)
  if (!daemon) return undefined
  return (await callControl(daemon.control, 'status').catch(() => undefined)) as ClusterStatus | undefined
}

function printReport(r: FsckReport, live: ClusterStatus | undefined, metaDir: string, metaRepaired: boolean, online?: ControlTarget): void {
  console.log(`${r.files} files, ${r.chunks} chunks, ${r.replicas} replicas wanted`)
  for (const n of r.nodes) console.log(`  node ${n.nodeId} ${n.address}: ${n.reachable ? `${n.chunks} chunk files` : `UNREACHABLE (${n.error})`}`)
  const show = (title: string, list: FsckReport['lost']) => {
    if (list.length === 0) return
    console.log(`${title}: ${list.length}`)
    for (const p of list.slice(0, 20)) console.log(`  ${problemLine(p)}`)
    if (list.length > 20) console.log(`  ... and ${list.length - 20} more`)
  }
  show('LOST (no intact copy; a stripe: fewer than k intact shards)', r.lost)
  if (metaRepaired) for (const line of lostAfterMetaRepair(r)) console.log(line)
  show('under-replicated (a stripe: degraded, fewer than k + m intact shards)', r.underReplicated)
  show('bad or misplaced copies (or shards)', r.badReplicas)
  if (r.orphans.length) console.log(`orphan chunk files (referenced by nothing): ${r.orphans.length}${r.orphanHold ? `; ${describeHold(r.orphanHold)}` : ''}`)
  if (r.orphanHold && r.orphans.length) console.log(`  ${releaseHint(metaDir)}`)
  if (r.repaired) {
    console.log(`repaired: ${r.repaired.copied} copies made, ${r.repaired.mapsFixed} chunk maps fixed, ${r.repaired.orphansRemoved} orphans removed` +
      (r.repaired.orphansKept ? `, ${r.repaired.orphansKept} orphans kept (held)` : ''))
    for (const f of r.repaired.failed) console.log(`  could not repair ${f}`)
  }
  if (live && online) {
    const h = live.healer
    console.log(`checked online by ${online.what}; it sees ${live.totals.alive} of ${live.totals.nodes} nodes alive` +
      (h ? `, and its healer is ${h.state} (${h.queued} queued, ${h.underReplicated} under-replicated, ${h.lost} lost, ${h.copiedChunks} chunks copied so far)` : ''))
    console.log('  (orphans include chunks clients are writing right now; the NameNode removes the real ones after its --orphan-grace)')
  } else if (live) {
    const h = live.healer
    console.log(`mounted at ${live.mountpoint}; the daemon sees ${live.totals.alive} of ${live.totals.nodes} nodes alive` +
      (h ? `, and its healer is ${h.state} (${h.queued} queued, ${h.underReplicated} under-replicated, ${h.lost} lost, ${h.copiedChunks} chunks copied so far)` : ''))
    console.log('  (chunks written since the last journal flush may show as orphans here while mounted)')
  }
  const fix = online
    ? `problems found; the NameNode's healer restores copies as it finds them (dfs status ${online.cli}); to repair the rest, stop the NameNode and run dfs fsck --meta ${metaDir} --repair`
    : 'problems found; run with --repair (unmounted) to fix what can be fixed'
  console.log(isHealthy(r) ? `healthy${r.orphanHold && r.orphans.length ? ' (apart from the held orphans above)' : ''}` : r.repaired ? (r.lost.length || r.repaired.failed.length ? 'NOT fully repaired' : 'repaired') : fix)
}
