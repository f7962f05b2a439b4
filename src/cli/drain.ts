// dfs drain <node> [mountpoint] [--json]: take a node out of the write pool and have the mount daemon
// move every chunk with a copy on it to other nodes, with a progress bar; then say how to remove it.
// dfs drain --cancel [mountpoint]: stop the drain running (its node stays out of the write pool).
// dfs drain --undo <node> [mountpoint]: put the node back in the write pool (cancelling its drain).
// Each also with --namenode tcp://… --secret-file <f> instead of a mount point (controlTarget.ts).

import { resolve } from 'node:path'
import { Command } from 'commander'
import type { RebalanceStatus } from '../cluster/rebalance/Rebalancer.js'
import type { ClusterStatus } from '../namenode/status.js'
import { dfsError } from '../errors.js'
import type { UndoResult } from '../cluster/rebalance/Rebalancer.js'
import { formatSize } from '../util/size.js'
import { cancelJob, failIfFailed, followJob } from './balance.js'
import { type ControlTarget, NAMENODE_OPTION, SECRET_OPTION, type TargetFlags, withTarget } from './controlTarget.js'

export function drainCommand(): Command {
  return new Command('drain')
    .description('move every chunk off a node (it takes no new ones meanwhile) so it can be removed')
    .argument('[node]', 'the node: its id or its address (folder or tcp://host:port), as dfs status shows')
    .argument('[mountpoint]', 'which mount (needed only when several are running)')
    .option('--json', 'print the final result as JSON (and no progress bar)')
    .option('--cancel', 'stop the drain running; its node stays out of the write pool (then: drain it again, or --undo)')
    .option('--undo <node>', 'put a node being drained (or drained) back in the write pool; copies already moved stay where they are')
    .option(...NAMENODE_OPTION)
    .option(...SECRET_OPTION)
    .action(async (node: string | undefined, mountpoint: string | undefined, flags: { json?: boolean; cancel?: boolean; undo?: string } & TargetFlags) => {
      if (flags.cancel || flags.undo !== undefined) {
        // No <node> argument then: the one positional is the mount point.
        if (mountpoint !== undefined || (flags.cancel && flags.undo !== undefined)) {
          throw dfsError('BAD_ARGUMENT', flags.cancel && flags.undo !== undefined
            ? 'give --cancel or --undo <node>, not both'
            : `${flags.cancel ? '--cancel' : `--undo ${flags.undo}`} takes only a mount point, not ${node} and ${mountpoint}: dfs drain ${flags.cancel ? '--cancel' : '--undo <node>'} [mountpoint]`)
        }
        return withTarget(node, flags, async target => {
          if (flags.cancel) return cancelJob(target, 'drain', flags)
          const undone = (await target.call('drain-undo', nodeArgs(flags.undo!), 120_000)) as UndoResult
          if (flags.json) return console.log(JSON.stringify(undone, null, 2))
          const cancelled = undone.cancelled ? ` (its drain was cancelled after moving ${undone.cancelled.movedChunks} chunks)` : ''
          return console.log(`dfs: ${undone.node.address} takes new chunks again${cancelled}; copies already moved stay where they are (dfs balance evens usage out)`)
        })
      }
      if (node === undefined) throw dfsError('BAD_ARGUMENT', 'name the node to drain (its id or address, as dfs status shows): dfs drain <node> [mountpoint]; or --cancel, or --undo <node>')
      const result = await withTarget(mountpoint, flags, async target => {
        const started = (await target.call('drain', nodeArgs(node))) as RebalanceStatus
        const result = await followJob(target, started, flags)
        if (flags.json) console.log(JSON.stringify(result, null, 2))
        else if (result.state === 'done') console.log(await formatDrained(target, result))
        return result
      })
      failIfFailed(result)
    })
}

/** A node as the daemon matches it: by id or address, a folder also as an absolute path. */
function nodeArgs(node: string): { node: string; resolved?: string } {
  return { node, ...(node.startsWith('tcp://') ? {} : { resolved: resolve(node) }) }
}

async function formatDrained(target: ControlTarget, s: RebalanceStatus): Promise<string> {
  const status = (await target.call('status')) as ClusterStatus
  const others = status.nodes.filter((n) => n.nodeId !== s.node?.nodeId).map((n) => n.address)
  const head = `dfs: drained ${s.node?.address}: moved ${s.movedChunks} chunks (${formatSize(s.movedBytes)}) in ${(s.elapsedMs / 1000).toFixed(1)} s; it holds no chunk any file references and takes no new ones.`
  const daemon = target.daemon
  if (!daemon) {
    return [
      head,
      `It can be removed: stop the NameNode at ${target.namenode}, then start it without it:`,
      `  dfs namenode --meta ${status.meta} --nodes ${others.join(',')} --listen <host:port> --secret-file <file>`,
      `(or leave --nodes out: a drained node is left out of the next start unless --nodes names it)`,
    ].join('\n')
  }
  return [
    head,
    `It can be removed: dfs unmount ${daemon.mountpoint}, then mount without it:`,
    `  dfs mount ${daemon.mountpoint} --meta ${daemon.meta} --nodes ${others.join(',')}`,
    `(or leave --nodes out: a drained node is left out of the next mount unless --nodes names it)`,
  ].join('\n')
}
