// dfs datanode --dir <folder> --listen 127.0.0.1:<port> --secret-file <f>: serve one node folder's
// chunks over TCP to the cluster's daemons (docs/protocol.md). Runs in the foreground until SIGINT
// or SIGTERM, then closes cleanly.

import { Command, Option } from 'commander'
import { DataNodeServer } from '../datanode/tcp/DataNodeServer.js'
import { parseHostPort } from '../datanode/tcp/protocol.js'
import { readSecretFile } from '../datanode/tcp/secret.js'
import { parseLogLevel } from '../log/Log.js'
import { openLog } from '../log/openLog.js'

export interface DatanodeFlags {
  dir: string
  listen: string
  secretFile: string
  cluster?: string
  quiet?: boolean
  logLevel?: string
}

export function datanodeCommand(): Command {
  return new Command('datanode')
    .description('serve a DataNode folder over TCP (use it in dfs mount --nodes as tcp://host:port)')
    .requiredOption('--dir <folder>', 'the node folder: an existing one, or an empty one to become a new node')
    .requiredOption('--listen <host:port>', 'address to listen on, such as 127.0.0.1:7001')
    .requiredOption('--secret-file <file>', 'file holding the cluster secret, shared by every node and mount')
    .option('--cluster <id>', 'the cluster id the node must belong to (default: its folder\'s, or the first mount\'s)')
    .option('--quiet', 'do not log refused or broken connections')
    .addOption(new Option('--log-level <level>', 'error, warn, info or debug (the log goes to stderr)').default('info'))
    .action(async (flags: DatanodeFlags) => {
      await serveDatanode(flags)
    })
}

/** Start the server, print where it serves, and resolve once a signal has closed it. */
export async function serveDatanode(flags: DatanodeFlags): Promise<void> {
  parseHostPort(flags.listen, '--listen') // the address first: it is the cheapest mistake to report
  const level = parseLogLevel(flags.logLevel ?? 'info')
  const secret = await readSecretFile(flags.secretFile)
  const log = flags.quiet ? undefined : (await openLog({ level })).log
  const server = await DataNodeServer.start({ dir: flags.dir, listen: flags.listen, secret, clusterId: flags.cluster, log })

  // Handlers before the banner: a signal sent as soon as the banner appears must close cleanly.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  const cluster = server.clusterId ? `cluster ${server.clusterId}` : 'no cluster yet: joins the first one that connects'
  console.log(`dfs datanode: serving ${flags.dir} as node ${server.nodeId} on ${server.address} (${cluster})`)
  const signal = await signalled
  await server.close()
  console.log(`dfs datanode: stopped (${signal})`)
}
