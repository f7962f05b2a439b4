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
import { formatSize, parseDuration, parseSize } from '../util/size.js'
import type { Takeover } from '../cluster/fencing.js'
import { dfsError } from '../errors.js'
import { MOUNT_DEFAULTS, type MountFlags, serviceOptions, withServiceOptions } from './mount.js'

interface NamenodeFlags extends Pick<MountFlags, 'heartbeat' | 'suspectAfter' | 'deadAfter' | 'healGrace' | 'healBandwidth' | 'orphanGrace' | 'scrubRate'> {
  meta: string
  nodes?: string
  listen: string
  secretFile: string
  replicas?: string
  chunkSize?: string
  cache: string
  sessionGrace: string
  logLevel: string
  promote?: boolean
  promoteWait: string
  acceptLoss?: boolean
}

export function namenodeCommand(): Command {
  return withServiceOptions(new Command('namenode'))
    .description('run a NameNode: the cluster\'s metadata and services, for clients on other hosts (dfs mount --namenode)')
    .requiredOption('--meta <dir>', 'metadata folder (namespace journal and checkpoints)')
    .option('--nodes <nodes>', 'comma-separated tcp://host:port DataNode servers (or folders, for clients on this host); required the first time')
    .requiredOption('--listen <host:port>', 'address clients connect to, such as 0.0.0.0:7000')
    .requiredOption('--secret-file <file>', 'the cluster secret shared by the NameNode, DataNodes and clients')
    .option('--replicas <n>', 'copies of every chunk (first start only; default 2)')
    .option('--chunk-size <size>', 'chunk size, a power of two such as 4M (first start only; default 4M)')
    .addOption(new Option('--cache <size>', 'memory for chunks the NameNode itself reads (healing, scrubbing)').default('16M'))
    .addOption(new Option('--session-grace <duration>', 'how long a client that lost its connection keeps its open files').default('30s'))
    .addOption(new Option('--log-level <level>', 'error, warn, info or debug (the log goes to stderr)').default(MOUNT_DEFAULTS.logLevel))
    .option('--promote', 'take over as the primary from a standby\'s --meta folder: claim the DataNodes with the next epoch (the old primary is fenced), then serve')
    .addOption(new Option('--promote-wait <duration>', 'with --promote: how long to wait for a still-running old primary\'s claim on the DataNodes to lapse').default('60s'))
    .option('--accept-loss', 'with --promote: take over although the old primary wrote records this standby never got (they are lost)')
    .action(async (flags: NamenodeFlags) => {
      await runNamenode(flags)
    })
}

async function runNamenode(flags: NamenodeFlags): Promise<void> {
  // Every flag is checked before anything is opened or written.
  parseHostPort(flags.listen, '--listen')
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
  const promote = promoteOptions(flags)
  const secret = await readSecretFile(flags.secretFile)
  const { log, close: closeLog } = await openLog({ level: parseLogLevel(flags.logLevel) })

  const bound = await NameNodeServer.bind(flags.listen)
  let host: NameNodeHost
  try {
    host = await NameNodeHost.open({ ...options, log, reopenGraceMs: sessionGraceMs, ...(promote ? { promote } : {}) })
  } catch (err) {
    await new Promise(resolve => bound.close(resolve))
    throw err
  }
  let server: NameNodeServer
  try {
    server = await NameNodeServer.start({ host, listen: flags.listen, secret, log, sessionGraceMs }, bound)
  } catch (err) {
    await host.close()
    throw err
  }
  // Handlers before the banner: a signal sent as soon as the banner appears must close cleanly.
  const signalled = new Promise<NodeJS.Signals>(resolve => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  const { settings } = host.cluster
  console.log(
    `dfs namenode: serving cluster ${host.settings.clusterId} on tcp://${server.address} ` +
    `(${settings.nodes.length} nodes, ${settings.replicas} replicas, ${formatSize(settings.chunkSize)} chunks, metadata in ${host.cluster.metaDir})`,
  )
  // A newer NameNode (a promoted standby) claimed the DataNodes: this one drops its clients (they
  // find the new primary by themselves) and exits non-zero with that news.
  const ended = await Promise.race([signalled, host.superseded])
  if (typeof ended !== 'string') {
    await server.close()
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
