// `dfs policy get|set --namenode tcp://… <path>`: the control commands a NameNode answers for paths
// in its namespace (a mount's daemon answers the same commands for paths in the mount: daemon/Daemon.ts).
// A set goes through a client session like any other change, so NameNode.commit's policy check
// (policyCheck.ts: a directory, well-formed, no wider than the cluster) is the one that decides.

import { posix } from 'node:path'
import { dfsError } from '../errors.js'
import { POLICY_XATTR } from '../meta/namespace/policy.js'
import { inodeAtPath } from '../meta/namespace/lookup.js'
import type { NamespaceState } from '../meta/namespace/types.js'
import type { NameNodeSession } from '../protocol/api.js'
import { type PolicyReport, policyReport } from '../protocol/policyReport.js'
import type { ControlHandler } from '../daemon/control.js'

export interface PolicyCommandDeps {
  state(): NamespaceState
  replicas: number
  /** A client session on this NameNode, for the length of one change (closed after). */
  session(): NameNodeSession
}

export function policyHandlers(deps: PolicyCommandDeps): Record<string, ControlHandler> {
  return {
    'policy-get': args => reportAt(deps, pathArg(args)),
    'policy-set': async args => {
      const path = pathArg(args)
      if (typeof args.policy !== 'string') throw dfsError('BAD_ARGUMENT', 'policy-set needs a policy (replicas:<R> or ec:<k>+<m>)', {})
      const ino = inodeAtPath(deps.state(), path)
      const session = deps.session()
      try {
        await session.commit({ op: 'xattr', ino, name: POLICY_XATTR, value: Buffer.from(args.policy).toString('base64'), flags: 0, time: Date.now() })
      } catch (err) {
        throw dfsError((err as { code?: never }).code ?? 'EIO', `${path}: ${(err as Error).message}`, { path }, err)
      } finally {
        await session.close()
      }
      return reportAt(deps, path)
    },
  }
}

function reportAt(deps: PolicyCommandDeps, path: string): PolicyReport {
  const state = deps.state()
  const ino = inodeAtPath(state, path)
  const dir = state.children.has(ino) ? ino : inodeAtPath(state, posix.dirname(path))
  return policyReport(state, ino, dir, path, deps.replicas)
}

function pathArg(args: Record<string, unknown>): string {
  if (typeof args.path !== 'string' || args.path.length > 64 * 1024) throw dfsError('BAD_ARGUMENT', 'give a path in the namespace, starting with /', {})
  return args.path
}
