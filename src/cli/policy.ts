// dfs policy get <path> | dfs policy set <dir> <policy>: a directory's storage policy (replicas:<R>
// or ec:<k>+<m>, docs/policy.md), as the xattr user.dfs.policy holds it. Asked of the daemon serving
// the mount over its control socket (it resolves the path as the mount does), or with --namenode
// tcp://… --secret-file <f> of a NameNode, for a path in its namespace. A set is checked by the
// NameNode (policyCheck.ts); here a malformed policy is refused before anything is asked.
// `dfs policy apply` (converting the files already there): policyApply.ts.

import { dirname, join, relative } from 'node:path'
import { Command } from 'commander'
import { dfsError, isDfsError } from '../errors.js'
import { dfsMountContaining } from '../fuse/mountpoint.js'
import { POLICY_XATTR, formatPolicy, parsePolicy } from '../meta/namespace/policy.js'
import type { PolicyReport } from '../protocol/policyReport.js'
import { callControl } from '../daemon/control.js'
import { oneLine } from '../util/oneLine.js'
import { NAMENODE_OPTION, SECRET_OPTION, type TargetFlags, withTarget } from './controlTarget.js'
import { followed } from './info.js'
import { applyCommand } from './policyApply.js'
import { findDaemon } from './status.js'

export function policyCommand(): Command {
  const policy = new Command('policy')
    .description('show or set the storage policy of a directory: replicas:<R> (R copies) or ec:<k>+<m> (erasure coding); see docs/policy.md')
  policy.command('get')
    .description('show the storage policy in force at a directory or file, where it is set, and what a file\'s chunks are stored as')
    .argument('<path>', 'a directory or file in a dfs mount (with --namenode: a path in the namespace, /dir)')
    .option('--json', 'print the answer as JSON')
    .option(...NAMENODE_OPTION)
    .option(...SECRET_OPTION)
    .action(async (path: string, flags: { json?: boolean } & TargetFlags) => {
      const report = await ask(path, flags, 'policy-get', {})
      console.log(flags.json ? JSON.stringify(report, null, 2) : formatPolicyReport(report))
    })
  policy.command('set')
    .description('set a directory\'s storage policy: files created in it (and in folders below that set none) are stored so')
    .argument('<dir>', 'a directory in a dfs mount (with --namenode: a path in the namespace, /dir)')
    .argument('<policy>', 'replicas:<R> or ec:<k>+<m>, e.g. ec:4+2')
    .option('--json', 'print the directory\'s policy afterwards as JSON')
    .option(...NAMENODE_OPTION)
    .option(...SECRET_OPTION)
    .action(async (dir: string, text: string, flags: { json?: boolean } & TargetFlags) => {
      // Malformed: refused here, before any daemon or NameNode is asked (nothing changes).
      const normalised = formatPolicy(parsePolicy(text))
      const report = await ask(dir, flags, 'policy-set', { policy: normalised })
      if (flags.json) console.log(JSON.stringify(report, null, 2))
      else console.log(`${formatPolicyReport(report)}\nnew files in ${oneLine(report.path)} are stored as ${report.policy}; files already there keep the layout they were written in`)
    })
  policy.addCommand(applyCommand())
  return policy
}

/**
 * Ask the target about `path`: a NameNode for a namespace path, or the daemon serving the mount the
 * path is in (then the answer names paths as the user gave them, the mount point included).
 */
async function ask(path: string, flags: TargetFlags, cmd: 'policy-get' | 'policy-set', args: Record<string, unknown>): Promise<PolicyReport> {
  if (flags.namenode !== undefined) {
    return await withTarget(undefined, flags, target => target.call(cmd, { path, ...args })).catch(err => {
      throw userError(err, path, `${path}: `) // policyCommands.ts names the path so
    }) as PolicyReport
  }
  if (flags.secretFile !== undefined) throw dfsError('BAD_ARGUMENT', '--secret-file goes with --namenode tcp://host:port; a path in a local mount needs no secret (drop it, or add --namenode)')
  const abs = await followed(path, path.startsWith('/') ? path : `${process.cwd()}/${path}`)
  const mount = await dfsMountContaining(abs)
  if (!mount) throw dfsError('NOT_MOUNTED', `${path} is not in a dfs mount; give a directory inside a mounted dfs folder, or a namespace path with --namenode tcp://host:port`, { path })
  const daemon = await findDaemon(mount.mountpoint)
  const inMount = `/${relative(mount.mountpoint, abs)}`
  try {
    const report = await callControl(daemon.control, cmd, { path: inMount, ...args }) as PolicyReport
    // relative(): a policy set on the mount's root is "set on <mnt>", not on "<mnt>/".
    return { ...report, path, ...(report.from === undefined ? {} : { from: join(mount.mountpoint, relative('/', report.from)) }) }
  } catch (err) {
    throw userError(err, path, `${inMount}: ${POLICY_XATTR} refused: `) // FileSystem.policyRefused names it so
  }
}

/**
 * The daemon (or NameNode) names the path as it sees it, starting its message with `named`; say it
 * as the user gave it, with the fix.
 */
function userError(err: unknown, path: string, named: string): unknown {
  if (!isDfsError(err)) return err
  switch (err.code) {
    case 'ENOENT': return dfsError(err.code, `${path}: no such file or directory`, { path }, err)
    case 'ENOTDIR': return dfsError(err.code, `${path}: a component is not a directory`, { path }, err)
    case 'EINVAL': return dfsError(err.code,
      `${path} is not a directory: a storage policy is set on a directory, and files created in it take it; give the folder it is in (${dirname(path)})`, { path }, err)
    case 'POLICY_INVALID':
    case 'POLICY_TOO_WIDE': {
      // Without the mount's or NameNode's own naming of the path, cut off as the very text it starts
      // with: a pattern would take a name holding ": " or a newline for the end of it.
      const reason = err.message.startsWith(named) ? err.message.slice(named.length) : err.message
      return dfsError(err.code, `${path}: ${reason}`, { path }, err)
    }
    default: return err
  }
}

/** `dfs policy get` as lines: the policy and where it comes from; for a file, its chunks' layouts. */
export function formatPolicyReport(report: PolicyReport): string {
  const from = report.from === undefined ? 'the cluster\'s default' : `set on ${oneLine(report.from)}`
  const lines = [`${oneLine(report.path)}: ${report.policy} (${from})`]
  if (report.type === 'file') {
    const chunks = report.chunks ?? []
    const total = chunks.reduce((n, c) => n + c.count, 0)
    lines.push(total === 0
      ? 'no chunks stored (the file is empty or all holes)'
      : `${total} chunk${total === 1 ? '' : 's'}: ${chunks.map(c => `${c.count} ${c.layout}`).join(', ')}`)
  }
  return lines.join('\n')
}
