// dfs drain <node> [mountpoint] [--json]: take a node out of the write pool and have the mount daemon
// move every chunk with a copy on it to other nodes, with a progress bar; then say how to remove it.
// dfs drain --cancel [mountpoint]: stop the drain running (its node stays out of the write pool).
// dfs drain --undo <node> [mountpoint]: put the node back in the write pool (cancelling its drain).

import { resolve } from 'node:path'
import { Command } from 'commander'
import type { RebalanceStatus } from '../cluster/rebalance/Rebalancer.js'
import { callControl } from '../daemon/control.js'
import type { DaemonRecord } from '../daemon/registry.js'
import type { ClusterStatus } from '../namenode/status.js'
import { dfsError } from '../errors.js'
import type { UndoResult } from '../cluster/rebalance/Rebalancer.js'
import { formatSize } from '../util/size.js'
import { cancelJob, failIfFailed, followJob } from './balance.js'
import { findDaemon } from './status.js'

export function drainCommand(): Command {
  return new Command('drain')
    .description('move every chunk off a node (it takes no new ones meanwhile) so it can be removed')
    .argument('[node]', 'the node: its id or its address (folder or tcp://host:port), as dfs status shows')
    .argument('[mountpoint]', 'which mount (needed only when several are running)')
    .option('--json', 'print the final result as JSON (and no progress bar)')
    .option('--cancel', 'stop the drain running; its node stays out of the write pool (then: drain it again, or --undo)')
    .option('--undo <node>', 'put a node being drained (or drained) back in the write pool; copies already moved stay where they are')
    .action(async (node: string | undefined, mountpoint: string | undefined, flags: { json?: boolean; cancel?: boolean; undo?: string }) => {
      if (flags.cancel || flags.undo !== undefined) {
        // No <node> argument then: the one positional is the mount point.
        if (mountpoint !== undefined || (flags.cancel && flags.undo !== undefined)) {
          throw dfsError('BAD_ARGUMENT', flags.cancel && flags.undo !== undefined
            ? 'give --cancel or --undo <node>, not both'
            : `${flags.cancel ? '--cancel' : `--undo ${flags.undo}`} takes only a mount point, not ${node} and ${mountpoint}: dfs drain ${flags.cancel ? '--cancel' : '--undo <node>'} [mountpoint]`)
        }
        const daemon = await findDaemon(node)
        if (flags.cancel) return cancelJob(daemon, 'drain', flags)
        const undone = (await callControl(daemon.control, 'drain-undo', nodeArgs(flags.undo!), 120_000)) as UndoResult
        if (flags.json) return console.log(JSON.stringify(undone, null, 2))
        const cancelled = undone.cancelled ? ` (its drain was cancelled after moving ${undone.cancelled.movedChunks} chunks)` : ''
        return console.log(`dfs: ${undone.node.address} takes new chunks again${cancelled}; copies already moved stay where they are (dfs balance evens usage out)`)
      }
      if (node === undefined) throw dfsError('BAD_ARGUMENT', 'name the node to drain (its id or address, as dfs status shows): dfs drain <node> [mountpoint]; or --cancel, or --undo <node>')
      const daemon = await findDaemon(mountpoint)
      const started = (await callControl(daemon.control, 'drain', nodeArgs(node))) as RebalanceStatus
      const result = await followJob(daemon, started, flags)
      if (flags.json) console.log(JSON.stringify(result, null, 2))
      else if (result.state === 'done') console.log(await formatDrained(daemon, result))
      failIfFailed(result)
    })
}

/** A node as the daemon matches it: by id or address, a folder also as an absolute path. */
function nodeArgs(node: string): { node: string; resolved?: string } {
  return { node, ...(node.startsWith('tcp://') ? {} : { resolved: resolve(node) }) }
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
