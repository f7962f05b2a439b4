// dfs namenode --meta <dir> --nodes <…> --listen <host:port> --secret-file <f>: run a cluster's
// NameNode in the foreground: the metadata store, placement, liveness, healing, scrubbing, orphan
// collection, balance and drain, served to `dfs mount --namenode tcp://…` clients and to
// `dfs status | balance | drain --namenode tcp://…`. Stops cleanly on SIGINT or SIGTERM.

import { Command, Option } from 'commander'
import { checkChunkSize, checkReplicas } from '../cluster/settings.js'
import { parseHostPort } from '../datanode/tcp/protocol.js'
import { readSecretFile } from '../datanode/tcp/secret.js'
import { parseLogLevel } from '../log/Log.js'
import { openLog } from '../log/openLog.js'
import { NameNodeHost } from '../namenode/openNameNode.js'
import { NameNodeServer } from '../namenode/server.js'
import { BackupScheduler, checkBackupDir } from '../namenode/backups.js'
import { captureStore } from '../meta/dump.js'
import { formatSize, parseDuration, parseSize } from '../util/size.js'
import { MOUNT_DEFAULTS, type MountFlags, namenodeAddresses, serviceOptions, withServiceOptions } from './mount.js'
import { Standby } from '../namenode/standby.js'
import type { Takeover } from '../cluster/fencing.js'
import { dfsError } from '../errors.js'
import { resolve } from 'node:path'
import { type HttpFlags, checkHttpFlags, httpSettings } from '../dashboard/httpFlags.js'
import { type Dashboard, bindDashboard } from '../dashboard/server.js'
import { openDashboard } from '../dashboard/open.js'

interface NamenodeFlags extends HttpFlags, Pick<MountFlags, 'heartbeat' | 'suspectAfter' | 'deadAfter' | 'healGrace' | 'healBandwidth' | 'orphanGrace' | 'scrubRate'> {
  meta: string
  nodes?: string
  listen?: string
  standbyOf?: string
  standbyTimeout: string
  secretFile: string
  replicas?: string
  chunkSize?: string
  cache: string
  sessionGrace: string
  logLevel: string
  backupDir?: string
  backupEvery: string
  backupKeep: string
  promote?: boolean
  promoteWait: string
  acceptLoss?: boolean
}

export function namenodeCommand(): Command {
  return withServiceOptions(new Command('namenode'))
    .description('run a NameNode: the cluster\'s metadata and services, for clients on other hosts (dfs mount --namenode)')
    .requiredOption('--meta <dir>', 'metadata folder (namespace journal and checkpoints)')
    .option('--nodes <nodes>', 'comma-separated tcp://host:port DataNode servers (or folders, for clients on this host); required the first time')
    .option('--listen <host:port>', 'address clients connect to, such as 0.0.0.0:7000 (not for a standby)')
    .option('--standby-of <address>', 'be a standby: follow the NameNode at tcp://host:port into --meta, serving nobody, until promoted')
    .addOption(new Option('--standby-timeout <duration>', 'how long an fsync waits for the standby before this NameNode drops it and carries on alone').default('10s'))
    .requiredOption('--secret-file <file>', 'the cluster secret shared by the NameNode, DataNodes and clients')
    .option('--replicas <n>', 'copies of every chunk (first start only; default 2)')
    .option('--chunk-size <size>', 'chunk size, a power of two such as 4M (first start only; default 4M)')
    .addOption(new Option('--cache <size>', 'memory for chunks the NameNode itself reads (healing, scrubbing)').default('16M'))
    .addOption(new Option('--session-grace <duration>', 'how long a client that lost its connection keeps its open files').default('30s'))
    .option('--backup-dir <dir>', 'write a namespace dump (dfs meta dump) there soon after start and then every --backup-every; restore one with dfs meta load')
    .addOption(new Option('--backup-every <duration>', 'with --backup-dir: how often').default('1h'))
    .addOption(new Option('--backup-keep <n>', 'with --backup-dir: how many of the newest backups to keep').default('24'))
    .addOption(new Option('--log-level <level>', 'error, warn, info or debug (the log goes to stderr)').default(MOUNT_DEFAULTS.logLevel))
    .option('--promote', 'take over as the primary from a standby\'s --meta folder: claim the DataNodes with the next epoch (the old primary is fenced), then serve')
    .addOption(new Option('--promote-wait <duration>', 'with --promote: how long to wait for a still-running old primary\'s claim on the DataNodes to lapse').default('60s'))
    .option('--accept-loss', 'with --promote: take over although the old primary wrote records this standby never got (they are lost)')
    .option('--http <host:port>', 'serve the web dashboard and /metrics there, such as 127.0.0.1:8080 (loopback unless --http-token-file)')
    .option('--http-token-file <file>', 'with --http: every request must carry this token (required for an address other than loopback)')
    .action(async (flags: NamenodeFlags, command: Command) => {
      await runNamenode(flags, givenFlags(command))
    })
}

/** The flags given (on the command line), as opposed to left at their defaults: attribute name and --flag. */
function givenFlags(command: Command): Array<{ attr: string; flag: string }> {
  return command.options
    .filter(o => { const source = command.getOptionValueSource(o.attributeName()); return source !== undefined && source !== 'default' })
    .map(o => ({ attr: o.attributeName(), flag: o.long ?? o.flags }))
}

/** All a standby takes; any other flag is refused rather than ignored (it serves nobody, and its settings are its primary's). */
const STANDBY_FLAGS = new Set(['meta', 'standbyOf', 'secretFile', 'logLevel'])
/** Flags that mean nothing without --backup-dir. */
const BACKUP_COMPANIONS = new Set(['backupEvery', 'backupKeep'])

async function runNamenode(flags: NamenodeFlags, given: Array<{ attr: string; flag: string }>): Promise<void> {
  if (flags.standbyOf !== undefined && flags.promote) {
    throw dfsError('BAD_ARGUMENT', '--standby-of and --promote exclude each other: --standby-of follows a primary, --promote makes this folder the primary', {})
  }
  if (flags.standbyOf !== undefined) return runStandby(flags, given)
  // Every flag is checked before anything is opened or written.
  if (flags.listen === undefined) throw dfsError('BAD_ARGUMENT', 'say where clients connect: --listen host:port (or --standby-of tcp://<primary> to run a standby)', {})
  parseHostPort(flags.listen, '--listen', '127.0.0.1:7000')
  checkHttpFlags(flags)
  const standbyTimeoutMs = parseDuration(flags.standbyTimeout, '--standby-timeout', { minMs: 100 })
  const services = serviceOptions(flags)
  const options = {
    meta: flags.meta,
    nodes: flags.nodes?.split(',').map(s => s.trim()).filter(Boolean),
    secretFile: flags.secretFile,
    replicas: flags.replicas === undefined ? undefined : checkReplicas(flags.replicas),
    chunkSize: flags.chunkSize === undefined ? undefined : checkChunkSize(parseSize(flags.chunkSize, '--chunk-size')),
    cacheBytes: parseSize(flags.cache, '--cache', { allowZero: true }),
    ...services,
  }
  const sessionGraceMs = parseDuration(flags.sessionGrace, '--session-grace')
  const backups = backupFlags(flags)
  const promote = promoteOptions(flags)
  const orphan = given.find(g => BACKUP_COMPANIONS.has(g.attr))
  if (!backups && orphan) throw dfsError('BAD_ARGUMENT', `${orphan.flag} goes with --backup-dir: without it this NameNode writes no backups; add --backup-dir <dir> (on another disk) or drop ${orphan.flag}`, { flag: orphan.flag })
  if (backups) await checkBackupDir(backups.dir, flags.meta)
  const secret = await readSecretFile(flags.secretFile)
  const http = await httpSettings(flags)
  const { log, close: closeLog } = await openLog({ level: parseLogLevel(flags.logLevel) })

  const bound = await NameNodeServer.bind(flags.listen)
  let httpBound: Awaited<ReturnType<typeof bindDashboard>> | undefined
  let host: NameNodeHost
  try {
    if (http) httpBound = await bindDashboard(http.listen)
    host = await NameNodeHost.open({ ...options, log, reopenGraceMs: sessionGraceMs, ...(promote ? { promote } : {}) })
  } catch (err) {
    await new Promise(resolve => bound.close(resolve))
    if (httpBound) await new Promise(resolve => httpBound!.close(resolve))
    throw err
  }
  let server: NameNodeServer
  try {
    server = await NameNodeServer.start({ host, listen: flags.listen, secret, log, sessionGraceMs, standbyTimeoutMs }, bound)
  } catch (err) {
    await host.close()
    throw err
  }
  let scheduler: BackupScheduler | undefined
  let dashboard: Dashboard | undefined
  try {
    if (http) {
      dashboard = await openDashboard({ host, http, status: () => server.status(), log, bound: httpBound! })
      server.dashboardUrl = dashboard.url
    }
    if (backups) {
      const meta = host.cluster.meta
      scheduler = await BackupScheduler.start({ ...backups, metaDir: host.cluster.metaDir, capture: () => captureStore(meta), log })
    }
  } catch (err) {
    await dashboard?.close()
    await server.close()
    await host.close()
    throw err
  }
  // Handlers before the banner: a signal sent as soon as the banner appears must close cleanly.
  const signalled = untilSignal()
  const { settings } = host.cluster
  console.log(
    `dfs namenode: serving cluster ${host.settings.clusterId} on tcp://${server.address} ` +
    `(${settings.nodes.length} nodes, ${settings.replicas} replicas, ${formatSize(settings.chunkSize)} chunks, metadata in ${host.cluster.metaDir})`,
  )
  if (dashboard) console.log(`dfs namenode: dashboard on ${dashboard.url}${http?.token ? ' (token required: --http-token-file)' : ''}`)
  if (scheduler) console.log(`dfs namenode: backups to ${scheduler.dir} every ${flags.backupEvery}, the newest ${flags.backupKeep} kept`)
  // A newer NameNode (a promoted standby) claimed the DataNodes: this one drops its clients (they
  // find the new primary by themselves) and exits non-zero with that news.
  const ended = await Promise.race([signalled, host.superseded])
  await scheduler?.stop()
  await dashboard?.close()
  if (typeof ended !== 'string') {
    await server.close(ended)
    await host.close().catch(() => {})
    closeLog()
    throw ended
  }
  log(`${ended}: stopping`)
  await server.close()
  await host.close()
  closeLog()
  console.log(`dfs namenode: stopped (${ended})`)
}

function promoteOptions(flags: NamenodeFlags): Takeover | undefined {
  const waitMs = parseDuration(flags.promoteWait, '--promote-wait')
  if (!flags.promote) {
    if (flags.acceptLoss) throw dfsError('BAD_ARGUMENT', '--accept-loss goes with --promote (a standby taking over); leave it out', { flag: '--accept-loss' })
    return undefined
  }
  return { waitMs, ...(flags.acceptLoss ? { acceptLoss: true } : {}) }
}

/** Resolves with the first SIGINT or SIGTERM. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise<NodeJS.Signals>(resolve => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
}

/** `dfs namenode --standby-of tcp://<primary> --meta <dir>`: follow the primary's journal until stopped. */
async function runStandby(flags: NamenodeFlags, given: Array<{ attr: string; flag: string }>): Promise<void> {
  namenodeAddresses(flags.standbyOf!, '--standby-of')
  if (flags.standbyOf!.includes(',')) throw dfsError('BAD_ARGUMENT', '--standby-of takes one address: the primary this standby follows', {})
  for (const { attr, flag } of given) {
    if (!STANDBY_FLAGS.has(attr)) throw dfsError('BAD_ARGUMENT', `${flag} is not for a standby: it serves nobody and takes the cluster's settings from its primary; drop ${flag} (give --listen to --promote when it takes over)`, { flag })
  }
  const secret = await readSecretFile(flags.secretFile)
  const { log, close: closeLog } = await openLog({ level: parseLogLevel(flags.logLevel) })
  let failed: Error | undefined
  let stop!: () => void
  const fatal = new Promise<void>(resolve => { stop = resolve })
  const signalled = untilSignal()
  const standby = await Standby.start({ meta: flags.meta, primary: flags.standbyOf!, secret, log, onFatal: err => { failed = err; stop() } })
  console.log(`dfs namenode: standby of ${flags.standbyOf} (metadata in ${resolve(flags.meta)}); it serves nobody until promoted with dfs namenode --meta ${flags.meta} --promote --listen <host:port>`)
  const signal = await Promise.race([signalled, fatal])
  if (signal) log(`${signal}: stopping`)
  await standby.close()
  closeLog()
  if (failed) throw failed
  console.log(`dfs namenode: standby stopped (${signal}) at seq ${standby.status.lastSeq}`)
}

/** --backup-dir and its companions, checked before anything is opened. */
function backupFlags(flags: NamenodeFlags): { dir: string; everyMs: number; keep: number } | undefined {
  const everyMs = parseDuration(flags.backupEvery, '--backup-every', { minMs: 1000 })
  const keep = Number(flags.backupKeep)
  if (!/^\d+$/.test(flags.backupKeep.trim()) || !Number.isSafeInteger(keep) || keep < 1) {
    throw dfsError('BAD_ARGUMENT', `--backup-keep "${flags.backupKeep}" is not a number of backups; pass 1 or more`, { keep: flags.backupKeep })
  }
  if (flags.backupDir === undefined) return undefined
  return { dir: flags.backupDir, everyMs, keep }
}
