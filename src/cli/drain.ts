// dfs drain <node> [mountpoint] [--json]: take a node out of the write pool and have the mount daemon
// move every chunk with a copy on it to other nodes, with a progress bar; then say how to remove it.

import { resolve } from 'node:path'
import { Command } from 'commander'
import type { RebalanceStatus } from '../cluster/rebalance/Rebalancer.js'
import { callControl } from '../daemon/control.js'
import type { DaemonRecord } from '../daemon/registry.js'
import type { ClusterStatus } from '../daemon/status.js'
import { formatSize } from '../util/size.js'
import { failIfFailed, followJob } from './balance.js'
import { findDaemon } from './status.js'

export function drainCommand(): Command {
  return new Command('drain')
    .description('move every chunk off a node (it takes no new ones meanwhile) so it can be removed')
    .argument('<node>', 'the node: its id or its address (folder or tcp://host:port), as dfs status shows')
    .argument('[mountpoint]', 'which mount (needed only when several are running)')
    .option('--json', 'print the final result as JSON')
    .action(async (node: string, mountpoint: string | undefined, flags: { json?: boolean }) => {
      const daemon = await findDaemon(mountpoint)
      const args = { node, ...(node.startsWith('tcp://') ? {} : { resolved: resolve(node) }) }
      const started = (await callControl(daemon.control, 'drain', args)) as RebalanceStatus
      const result = await followJob(daemon, started)
      if (flags.json) console.log(JSON.stringify(result, null, 2))
      else if (result.state === 'done') console.log(await formatDrained(daemon, result))
      failIfFailed(result)
    })
}

async function formatDrained(daemon: DaemonRecord, s: RebalanceStatus): Promise<string> {
  const status = (await callControl(daemon.control, 'status')) as ClusterStatus
  const others = status.nodes.filter((n) => n.nodeId !== s.node?.nodeId).map((n) => n.address)
  return [
    `dfs: drained ${s.node?.address}: moved ${s.movedChunks} chunks (${formatSize(s.movedBytes)}) in ${(s.elapsedMs / 1000).toFixed(1)} s; it holds no chunk any file references and takes no new ones.`,
    `It can be removed: dfs unmount ${daemon.mountpoint}, then mount without it:`,
    `  dfs mount ${daemon.mountpoint} --meta ${daemon.meta} --nodes ${others.join(',')}`,
    `(or leave --nodes out: a drained node is left out of the next mount unless --nodes names it)`,
  ].join('\n')
}
