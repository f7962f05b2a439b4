// dfs mount <mountpoint> --nodes a,b,c --meta m: serve a cluster as a folder. By default the daemon
// runs in the background (its log in the runtime folder); --foreground keeps it attached.

import { spawn } from 'node:child_process'
import { open, readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Command, Option } from 'commander'
import { checkChunkSize, checkMinCopies, checkReplicas } from '../cluster/settings.js'
import { Daemon } from '../daemon/Daemon.js'
import { daemonLogPath } from '../daemon/registry.js'
import { checkMountpoint } from '../fuse/mountpoint.js'
import { dfsError, type ErrorCode } from '../errors.js'
import { parseDuration, parseSize } from '../util/size.js'

export interface MountFlags {
  nodes?: string
  secretFile?: string
  meta: string
  replicas?: string
  chunkSize?: string
  cache: string
  dirty: string
  heartbeat: string
  suspectAfter: string
  deadAfter: string
  healGrace: string
  healBandwidth: string
  orphanGrace: string
  minCopies: string
  scrubRate: string
  foreground?: boolean
}

/**
 * The shortest durations that make sense: a faster heartbeat costs CPU for nothing (`--heartbeat 5ms`
 * kept an idle daemon at 19 % CPU), and a node must be allowed a few heartbeats before it is suspect.
 */
const MIN_MS = { heartbeat: 100, suspectAfter: 500, deadAfter: 1000, healGrace: 1000 }

/** Defaults of the tunable flags (the demo uses them too). */
export const MOUNT_DEFAULTS = {
  cache: '128M', dirty: '128M', heartbeat: '500ms', suspectAfter: '2s', deadAfter: '10s',
  healGrace: '10s', healBandwidth: '256M', scrubRate: '8M', orphanGrace: '30s', minCopies: '1',
}

export function mountCommand(): Command {
  return new Command('mount')
    .description('mount a dfs cluster as a folder (creates the cluster on first use)')
    .argument('<mountpoint>', 'an empty folder to mount on')
    .requiredOption('--meta <dir>', 'metadata folder (namespace journal and checkpoints)')
    .option('--nodes <nodes>', 'comma-separated DataNode folders and tcp://host:port servers; required the first time')
    .option('--secret-file <file>', 'the cluster secret the DataNode servers share (needed for tcp:// nodes)')
    .option('--replicas <n>', 'copies of every chunk (first mount only; default 2)')
    .option('--chunk-size <size>', 'chunk size, a power of two such as 4M (first mount only; default 4M)')
    .addOption(new Option('--cache <size>', 'memory for verified chunks read recently (0 turns the cache off)').default(MOUNT_DEFAULTS.cache))
    .addOption(new Option('--dirty <size>', 'memory for written chunks not yet stored').default(MOUNT_DEFAULTS.dirty))
    .addOption(new Option('--heartbeat <duration>', 'how often every DataNode is pinged').default(MOUNT_DEFAULTS.heartbeat))
    .addOption(new Option('--suspect-after <duration>', 'a node silent this long leaves the write pool').default(MOUNT_DEFAULTS.suspectAfter))
    .addOption(new Option('--dead-after <duration>', 'a node silent this long is dead: its chunks are re-replicated').default(MOUNT_DEFAULTS.deadAfter))
    .addOption(new Option('--heal-grace <duration>', 'a dead node\'s chunks are re-replicated after this').default(MOUNT_DEFAULTS.healGrace))
    .addOption(new Option('--heal-bandwidth <size>', 'bytes per second the healer may copy (0: no limit)').default(MOUNT_DEFAULTS.healBandwidth))
    .addOption(new Option('--orphan-grace <duration>', 'a chunk file no file references is deleted this long after it is first seen').default(MOUNT_DEFAULTS.orphanGrace))
    .addOption(new Option('--min-copies <n>', 'fsync fails when a chunk gets fewer copies than this (1 to the replica count)').default(MOUNT_DEFAULTS.minCopies))
    .addOption(new Option('--scrub-rate <size>', 'bytes per second the scrubber re-verifies in the background (0: off)').default(MOUNT_DEFAULTS.scrubRate))
    .option('--foreground', 'stay attached: log to stderr, unmount on Ctrl-C')
    .action(async (mountpoint: string, flags: MountFlags) => {
      const options = daemonOptions(mountpoint, flags)
      if (flags.foreground) await runForeground(options)
      else await runInBackground(mountpoint)
    })
}

export function daemonOptions(mountpoint: string, flags: MountFlags) {
  return {
    mountpoint,
    meta: flags.meta,
    nodes: flags.nodes?.split(',').map(s => s.trim()).filter(Boolean),
    secretFile: flags.secretFile,
    replicas: flags.replicas === undefined ? undefined : checkReplicas(flags.replicas),
    chunkSize: flags.chunkSize === undefined ? undefined : checkChunkSize(parseSize(flags.chunkSize, '--chunk-size')),
    cacheBytes: parseSize(flags.cache, '--cache', { allowZero: true }),
    minCopies: checkMinCopies(flags.minCopies),
    dirtyBytes: parseSize(flags.dirty, '--dirty'),
    liveness: livenessOptions(flags),
    healing: {
      graceMs: parseDuration(flags.healGrace, '--heal-grace', { minMs: MIN_MS.healGrace }),
      bandwidthBytesPerSec: parseSize(flags.healBandwidth, '--heal-bandwidth', { allowZero: true }),
      orphanGraceMs: parseDuration(flags.orphanGrace, '--orphan-grace'),
    },
    scrub: { bytesPerSec: parseSize(flags.scrubRate, '--scrub-rate', { allowZero: true }) },
  }
}

function livenessOptions(flags: MountFlags) {
  const liveness = {
    intervalMs: parseDuration(flags.heartbeat, '--heartbeat', { minMs: MIN_MS.heartbeat }),
    suspectAfterMs: parseDuration(flags.suspectAfter, '--suspect-after', { minMs: MIN_MS.suspectAfter }),
    deadAfterMs: parseDuration(flags.deadAfter, '--dead-after', { minMs: MIN_MS.deadAfter }),
  }
  if (!(liveness.intervalMs < liveness.suspectAfterMs && liveness.suspectAfterMs < liveness.deadAfterMs)) {
    throw dfsError('BAD_ARGUMENT', '--heartbeat, --suspect-after and --dead-after must grow in that order (e.g. 500ms, 2s, 10s)', liveness)
  }
  return liveness
}

export async function runForeground(options: ReturnType<typeof daemonOptions>, banner?: (mountpoint: string) => void): Promise<void> {
  const log = (message: string) => process.stderr.write(`${new Date().toISOString()} ${message}\n`)
  let summary = ''
  const daemon = await Daemon.start({ ...options, log, onMounted: s => { summary = s } })
  // Handlers first, then the line that tells the world (and `dfs mount` in the background) we are
  // mounted: a SIGTERM sent as soon as that line appears must unmount cleanly, not kill us outright.
  const stopped = daemon.stopOnSignals()
  console.log(`dfs: mounted ${options.mountpoint} (${summary})`)
  banner?.(options.mountpoint)
  await stopped
  console.log(`dfs: unmounted ${options.mountpoint}`)
}

/** Start this same command with --foreground as a detached daemon; return once it has mounted. */
async function runInBackground(mountpoint: string): Promise<void> {
  // Before opening the log: the log of a daemon already serving this mount point has the same name.
  await checkMountpoint(resolve(mountpoint))
  const logPath = await daemonLogPath(mountpoint)
  const log = await open(logPath, 'w')
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1), '--foreground'], {
    detached: true,
    stdio: ['ignore', log.fd, log.fd],
  })
  await log.close()
  const exited = new Promise<number>(resolve => child.once('exit', code => resolve(code ?? 1)))
  for (;;) {
    const text = await readFile(logPath, 'utf8')
    const mounted = text.split('\n').find(line => line.startsWith('dfs: mounted'))
    if (mounted) {
      console.log(`${mounted}; log: ${logPath}`)
      child.unref()
      return
    }
    const code = await Promise.race([exited, new Promise<null>(resolve => setTimeout(resolve, 100, null))])
    if (code !== null) {
      const why = (await readFile(logPath, 'utf8')).trim().split('\n').filter(line => line.startsWith('dfs:')).pop()
      // The daemon's own error line, `dfs: <message> [CODE]`, passed on as it is.
      const tagged = why && /^dfs: (.*) \[([A-Z0-9_]+)\]$/.exec(why)
      if (tagged) throw dfsError(tagged[2] as ErrorCode, tagged[1], { mountpoint })
      throw dfsError('MOUNTPOINT_INVALID', why?.replace(/^dfs: /, '') ?? `the daemon exited (code ${code}); see ${logPath}`, { mountpoint })
    }
  }
}
