// dfs mount <mountpoint> --nodes a,b,c --meta m: serve a cluster as a folder. By default the daemon
// runs in the background and logs into a folder of its own (src/log/where.ts); --foreground keeps
// it attached, logging to stderr.

import { spawn } from 'node:child_process'
import { open, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Command, Option } from 'commander'
import { checkChunkSize, checkMinCopies, checkReplicas } from '../cluster/settings.js'
import { Daemon } from '../daemon/Daemon.js'
import type { MountBackend } from '../daemon/backend.js'
import { embeddedBackend } from '../daemon/embedded.js'
import { remoteBackend } from '../client/remoteMount.js'
import { readSecretFile } from '../datanode/tcp/secret.js'
import { parseTcpAddress } from '../datanode/tcp/protocol.js'
import { stopLossError } from '../daemon/unstored.js'
import { checkMountpoint } from '../fuse/mountpoint.js'
import { dfsError, type ErrorCode } from '../errors.js'
import { parseDuration, parseSize } from '../util/size.js'
import { levelled, parseLogLevel } from '../log/Log.js'
import { CURRENT_LOG, openLog } from '../log/openLog.js'
import { ensureLogFolder, mountLogFolder } from '../log/where.js'
import { type HttpFlags, checkHttpFlags } from '../dashboard/httpFlags.js'

export interface MountFlags extends HttpFlags {
  nodes?: string
  secretFile?: string
  meta?: string
  namenode?: string
  namenodeTimeout?: string
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
  logLevel: string
  logDir?: string
  logFileSize: string
}

/**
 * The shortest durations that make sense: a faster heartbeat costs CPU for nothing (`--heartbeat 5ms`
 * kept an idle daemon at 19 % CPU), and a node must be allowed a few heartbeats before it is suspect.
 */
const MIN_MS = { heartbeat: 100, suspectAfter: 500, deadAfter: 1000, healGrace: 1000 }

/** Defaults of the tunable flags (the demo uses them too). */
export const MOUNT_DEFAULTS = {
  cache: '128M', dirty: '128M', heartbeat: '500ms', suspectAfter: '2s', deadAfter: '10s',
  healGrace: '10s', healBandwidth: '256M', scrubRate: '8M', orphanGrace: '30s', minCopies: '1', logLevel: 'info', logFileSize: '10M',
  namenodeTimeout: '60s',
}

/** Flags that belong to the NameNode: a client mount (--namenode) takes them from its NameNode. */
const NAMENODE_FLAGS: [keyof MountFlags, string][] = [
  ['nodes', '--nodes'], ['replicas', '--replicas'], ['chunkSize', '--chunk-size'],
]
const NAMENODE_TUNABLES: [keyof MountFlags & keyof typeof MOUNT_DEFAULTS, string][] = [
  ['heartbeat', '--heartbeat'], ['suspectAfter', '--suspect-after'], ['deadAfter', '--dead-after'], ['healGrace', '--heal-grace'],
  ['healBandwidth', '--heal-bandwidth'], ['orphanGrace', '--orphan-grace'], ['scrubRate', '--scrub-rate'],
]

/** The NameNode's service flags, shared by `dfs mount --meta` (embedded) and `dfs namenode`. */
export function withServiceOptions(command: Command): Command {
  return command
    .addOption(new Option('--heartbeat <duration>', 'how often every DataNode is pinged').default(MOUNT_DEFAULTS.heartbeat))
    .addOption(new Option('--suspect-after <duration>', 'a node silent this long leaves the write pool').default(MOUNT_DEFAULTS.suspectAfter))
    .addOption(new Option('--dead-after <duration>', 'a node silent this long is dead: its chunks are re-replicated').default(MOUNT_DEFAULTS.deadAfter))
    .addOption(new Option('--heal-grace <duration>', 'a dead node\'s chunks are re-replicated after this').default(MOUNT_DEFAULTS.healGrace))
    .addOption(new Option('--heal-bandwidth <size>', 'bytes per second the healer, a balance or drain and a policy apply may copy together (0: no limit)').default(MOUNT_DEFAULTS.healBandwidth))
    .addOption(new Option('--orphan-grace <duration>', 'a chunk file no file references is deleted this long after it is first seen').default(MOUNT_DEFAULTS.orphanGrace))
    .addOption(new Option('--scrub-rate <size>', 'bytes per second the scrubber re-verifies in the background (0: off)').default(MOUNT_DEFAULTS.scrubRate))
}

/** The service flags as the NameNode's services take them. */
export function serviceOptions(flags: Pick<MountFlags, 'heartbeat' | 'suspectAfter' | 'deadAfter' | 'healGrace' | 'healBandwidth' | 'orphanGrace' | 'scrubRate'>) {
  return {
    liveness: livenessOptions(flags),
    healing: {
      graceMs: parseDuration(flags.healGrace, '--heal-grace', { minMs: MIN_MS.healGrace }),
      bandwidthBytesPerSec: parseSize(flags.healBandwidth, '--heal-bandwidth', { allowZero: true }),
      orphanGraceMs: parseDuration(flags.orphanGrace, '--orphan-grace'),
    },
    scrub: { bytesPerSec: parseSize(flags.scrubRate, '--scrub-rate', { allowZero: true }) },
  }
}

export function mountCommand(): Command {
  return withServiceOptions(new Command('mount'))
    .description('mount a dfs cluster as a folder (creates the cluster on first use)')
    .argument('<mountpoint>', 'an empty folder to mount on')
    .option('--meta <dir>', 'metadata folder (namespace journal and checkpoints): the NameNode runs inside this mount')
    .option('--namenode <addresses>', 'tcp://host:port of a `dfs namenode` (then of standbys, comma-separated): mount as one of its clients')
    .addOption(new Option('--namenode-timeout <duration>', 'with --namenode: how long an operation waits for an unreachable NameNode before it fails (EIO)').default(MOUNT_DEFAULTS.namenodeTimeout))
    .option('--nodes <nodes>', 'comma-separated DataNode folders and tcp://host:port servers; required the first time')
    .option('--secret-file <file>', 'the cluster secret the DataNode servers share (needed for tcp:// nodes)')
    .option('--replicas <n>', 'copies of every chunk (first mount only; default 2)')
    .option('--chunk-size <size>', 'chunk size, a power of two such as 4M (first mount only; default 4M)')
    .addOption(new Option('--cache <size>', 'memory for verified chunks read recently (0 turns the cache off)').default(MOUNT_DEFAULTS.cache))
    .addOption(new Option('--dirty <size>', 'memory for written chunks not yet stored').default(MOUNT_DEFAULTS.dirty))
    .addOption(new Option('--min-copies <n>', 'fsync fails when a chunk gets fewer copies than this (1 to the replica count)').default(MOUNT_DEFAULTS.minCopies))
    .option('--http <host:port>', 'with --meta: serve the web dashboard and /metrics there, such as 127.0.0.1:8080 (loopback unless --http-token-file)')
    .option('--http-token-file <file>', 'with --http: every request must carry this token (required for an address other than loopback)')
    .option('--foreground', 'stay attached: log to stderr, unmount on Ctrl-C')
    .addOption(new Option('--log-level <level>', 'error, warn, info or debug').default(MOUNT_DEFAULTS.logLevel))
    .option('--log-dir <folder>', 'log into files in this folder (default in the background: ~/.local/state/dfs/mount-<name>-<hash>; with --foreground: stderr)')
    .addOption(new Option('--log-file-size <size>', 'start a new log file at this size; the last 5 are kept').default(MOUNT_DEFAULTS.logFileSize))
    .action(async (mountpoint: string, flags: MountFlags) => {
      const options = daemonOptions(mountpoint, flags)
      if (flags.foreground) await runForeground(options)
      else await runInBackground(mountpoint, flags.logDir)
    })
}

export function daemonOptions(mountpoint: string, flags: MountFlags) {
  if ((flags.meta === undefined) === (flags.namenode === undefined)) {
    throw dfsError('BAD_ARGUMENT', flags.meta === undefined
      ? 'say where the namespace is: --meta <dir> (the NameNode runs in this mount) or --namenode tcp://host:port (a dfs namenode)'
      : '--meta and --namenode exclude each other: --meta runs the NameNode inside this mount, --namenode uses a running one', {})
  }
  const namenode = flags.namenode === undefined ? undefined : namenodeAddresses(flags.namenode, '--namenode')
  if (namenode) {
    if (flags.secretFile === undefined) throw dfsError('BAD_ARGUMENT', '--namenode needs --secret-file: the cluster secret the NameNode and DataNodes share', {})
    for (const [key, flag] of NAMENODE_FLAGS) {
      if (flags[key] !== undefined) throw dfsError('BAD_ARGUMENT', `${flag} is the NameNode's to set, not a client's: give it to dfs namenode, or drop it here`, { flag })
    }
    for (const flag of ['--http', '--http-token-file'] as const) {
      if (flags[flag === '--http' ? 'http' : 'httpTokenFile'] !== undefined) {
        throw dfsError('BAD_ARGUMENT', `${flag} is for the NameNode, where the dashboard lives: give it to dfs namenode (a client mount serves none)`, { flag })
      }
    }
    for (const [key, flag] of NAMENODE_TUNABLES) {
      if (flags[key] !== undefined && flags[key] !== MOUNT_DEFAULTS[key]) {
        throw dfsError('BAD_ARGUMENT', `${flag} tunes the NameNode's services, not a client's: give it to dfs namenode`, { flag })
      }
    }
  }
  checkHttpFlags(flags)
  return {
    mountpoint,
    meta: flags.meta ?? '',
    http: { http: flags.http, httpTokenFile: flags.httpTokenFile },
    namenode,
    namenodeTimeoutMs: parseDuration(flags.namenodeTimeout ?? MOUNT_DEFAULTS.namenodeTimeout, '--namenode-timeout', { minMs: 1000 }),
    nodes: flags.nodes?.split(',').map(s => s.trim()).filter(Boolean),
    secretFile: flags.secretFile,
    replicas: flags.replicas === undefined ? undefined : checkReplicas(flags.replicas),
    chunkSize: flags.chunkSize === undefined ? undefined : checkChunkSize(parseSize(flags.chunkSize, '--chunk-size')),
    cacheBytes: parseSize(flags.cache, '--cache', { allowZero: true }),
    minCopies: checkMinCopies(flags.minCopies),
    dirtyBytes: parseSize(flags.dirty, '--dirty'),
    ...serviceOptions(flags),
    logging: {
      level: parseLogLevel(flags.logLevel ?? MOUNT_DEFAULTS.logLevel),
      folder: flags.logDir,
      fileSize: parseSize(flags.logFileSize ?? MOUNT_DEFAULTS.logFileSize, '--log-file-size'),
    },
  }
}

/** tcp://host:port[,tcp://host:port…]: a NameNode, then its standbys. */
export function namenodeAddresses(text: string, flag: string): string[] {
  const addresses = text.split(',').map(a => a.trim()).filter(Boolean)
  if (addresses.length === 0) throw dfsError('BAD_ARGUMENT', `${flag} is empty; give tcp://host:port of the NameNode`, { flag })
  for (const address of addresses) parseTcpAddress(address, flag, 'tcp://127.0.0.1:7000')
  return addresses
}

/** Embedded (--meta: the NameNode in this process) or a client of a `dfs namenode` (--namenode). */
async function backendFor(options: ReturnType<typeof daemonOptions>, log: (message: string) => void): Promise<MountBackend> {
  if (!options.namenode) return embeddedBackend({ ...options, mountpoint: resolve(options.mountpoint), log })
  const secret = await readSecretFile(options.secretFile!)
  return remoteBackend({
    namenode: options.namenode, secret, cacheBytes: options.cacheBytes, minCopies: options.minCopies,
    namenodeTimeoutMs: options.namenodeTimeoutMs, log,
  })
}

function livenessOptions(flags: Pick<MountFlags, 'heartbeat' | 'suspectAfter' | 'deadAfter'>) {
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
  const { log, close } = await openLog(options.logging)
  // Lines a terminal shows anyway (the command, its outcome on stdout, Node's last words on stderr)
  // go into a log file only, where they mark where each daemon's story begins and ends.
  const lifecycle = options.logging.folder ? log : levelled(undefined)
  // A crash's cause reaches the log before Node prints it and exits (this only watches).
  process.on('uncaughtExceptionMonitor', (err, origin) => lifecycle.error(`${origin}: ${err?.stack ?? err}`))
  lifecycle.info(`mounting ${resolve(options.mountpoint)}`, { meta: options.meta, nodes: options.nodes })
  let summary = ''
  let daemon: Daemon
  try {
    daemon = await Daemon.start({ mountpoint: options.mountpoint, dirtyBytes: options.dirtyBytes, backend: () => backendFor(options, log), log, onMounted: s => { summary = s } })
  } catch (err) {
    lifecycle.error(`mounting ${options.mountpoint} failed: ${(err as Error).message}`, { code: (err as { code?: unknown }).code })
    close()
    throw err
  }
  // Handlers first, then the line that tells the world (and `dfs mount` in the background) we are
  // mounted: a SIGTERM sent as soon as that line appears must unmount cleanly, not kill us outright.
  const stopped = daemon.stopOnSignals()
  lifecycle.info(`mounted ${options.mountpoint} (${summary})`)
  console.log(`dfs: mounted ${options.mountpoint} (${summary})`)
  banner?.(options.mountpoint)
  await stopped
  lifecycle.info(`unmounted ${options.mountpoint}`)
  close()
  console.log(`dfs: unmounted ${options.mountpoint}`)
  // The daemon logged it at error level; a terminal (--foreground) and the exit status say it too.
  const lost = stopLossError(options.mountpoint, daemon.loss)
  if (lost) throw lost
}

/**
 * Start this same command with --foreground as a detached daemon; return once it has mounted.
 * The daemon logs into its log folder; what it prints besides (the line saying it mounted, or its
 * error; Node's own last words if it dies) is appended to output.log there, read from where this
 * start began. Nothing in that folder is ever truncated: the log of a crash survives the remount.
 */
async function runInBackground(mountpoint: string, logDir: string | undefined): Promise<void> {
  await checkMountpoint(resolve(mountpoint))
  const folder = resolve(logDir ?? mountLogFolder(mountpoint))
  await ensureLogFolder(folder, logDir !== undefined ? '--log-dir' : process.env.DFS_LOG_DIR ? 'the log folder (from DFS_LOG_DIR)' : 'the log folder')
  const outputPath = join(folder, 'output.log')
  const output = await open(outputPath, 'a')
  const from = (await output.stat()).size
  const args = [...process.execArgv, ...process.argv.slice(1), '--foreground', ...(logDir === undefined ? ['--log-dir', folder] : [])]
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', output.fd, output.fd] })
  await output.close()
  const printed = async () => (await readFile(outputPath)).subarray(from).toString('utf8')
  const exited = new Promise<number>(resolve => child.once('exit', code => resolve(code ?? 1)))
  for (;;) {
    const text = await printed()
    const mounted = text.split('\n').find(line => line.startsWith('dfs: mounted'))
    if (mounted) {
      console.log(`${mounted}; log: ${join(folder, CURRENT_LOG)}`)
      child.unref()
      return
    }
    const code = await Promise.race([exited, new Promise<null>(resolve => setTimeout(resolve, 100, null))])
    if (code !== null) {
      const logPath = join(folder, CURRENT_LOG)
      const why = (await printed()).trim().split('\n').filter(line => line.startsWith('dfs:')).pop()
      // The daemon's own error line, `dfs: <message> [CODE]`, passed on as it is.
      const tagged = why && /^dfs: (.*) \[([A-Z0-9_]+)\]$/.exec(why)
      if (tagged) throw dfsError(tagged[2] as ErrorCode, tagged[1], { mountpoint })
      throw dfsError('MOUNTPOINT_INVALID', why?.replace(/^dfs: /, '') ?? `the daemon exited (code ${code}); see ${logPath}`, { mountpoint })
    }
  }
}
