// The remote backend (`dfs mount <dir> --namenode tcp://… --secret-file …`): the namespace comes from
// a `dfs namenode` over TCP (RemoteNameNode), chunk bytes go straight between this host and the
// DataNodes the NameNode names (ClientNodes), through a chunk store and cache of this mount's own.

import { ChunkStore } from '../chunks/ChunkStore.js'
import type { MountBackend } from '../daemon/backend.js'
import { levelled } from '../log/Log.js'
import { formatSize } from '../util/size.js'
import { ClientNodes } from './clientNodes.js'
import { RemoteNameNode } from './RemoteNameNode.js'
import type { NodeInfo } from '../protocol/wire.js'

export interface RemoteMountOptions {
  /** tcp://host:port of the NameNode (then of standbys). */
  namenode: string[]
  secret: Buffer
  cacheBytes: number
  minCopies?: number
  /** How long an operation waits for an unreachable NameNode before it fails with EIO (ms). */
  namenodeTimeoutMs: number
  log: (message: string) => void
}

/**
 * libfuse's own limit for one kernel request (it answers ETIMEDOUT when it passes): a minute above
 * --namenode-timeout, so a request waiting for the NameNode fails with that timeout's EIO, as
 * documented, and a --namenode-timeout above libfuse's default 60 s is honoured.
 */
export function fuseOpTimeoutMs(namenodeTimeoutMs: number): number {
  return namenodeTimeoutMs + 60_000
}

export async function remoteBackend(opts: RemoteMountOptions): Promise<MountBackend> {
  // The node list arrives right after the snapshot, before connect() has returned: keep it until
  // the nodes can be opened (they need the cluster id the session learnt).
  let nodes: ClientNodes | undefined
  let early: NodeInfo[] | undefined
  const take = (list: NodeInfo[]) =>
    nodes!.update(list).catch(err => levelled(opts.log).warn(`taking the NameNode's node list failed: ${(err as Error).message}`))
  const session = await RemoteNameNode.connect({
    addresses: opts.namenode,
    secret: opts.secret,
    log: opts.log,
    timeoutMs: opts.namenodeTimeoutMs,
    onNodes: list => {
      if (nodes) void take(list)
      else early = list
    },
  })
  nodes = new ClientNodes({ clusterId: session.settings.clusterId, secret: opts.secret, log: opts.log })
  if (early) await take(early)
  const { settings } = session
  const chunks = new ChunkStore({
    registry: nodes.registry,
    replicas: settings.replicas,
    minCopies: opts.minCopies,
    cacheBytes: opts.cacheBytes,
    log: levelled(opts.log),
    onBadReplica: (ref, nodeId, reason) => session.reportBadCopy(ref, nodeId, { code: reason.code, message: reason.message }),
    abandon: id => session.abandon([{ id, len: 0, sha256: '', nodes: [] }]),
  })
  const address = opts.namenode.join(',')
  const unreachable = nodes.unreachable()
  return {
    session,
    chunks,
    chunkSize: settings.chunkSize,
    shared: true,
    onNamespaceChange: listener => session.onChange(listener),
    opTimeoutMs: fuseOpTimeoutMs(opts.namenodeTimeoutMs),
    summary: `NameNode ${address}, ${nodes.registry.ids().length} nodes, ${settings.replicas} replicas, ${formatSize(settings.chunkSize)} chunks` +
      (unreachable.length > 0 ? `; WARNING: ${unreachable.length} of the nodes cannot be used from this host: ${unreachable.join('; ')}` : ''),
    metaLabel: address,
    status: async mountpoint => {
      const status = await session.control('status') as Record<string, unknown>
      return { ...status, mountpoint, namenode: address, clientIo: { ...chunks.stats } }
    },
    handlers: () => Object.fromEntries(
      ['balance', 'drain', 'balance-status', 'cancel', 'drain-undo', 'policy-apply', 'policy-apply-status', 'policy-apply-cancel'].map(cmd => [cmd, (args: Record<string, unknown>) => session.control(cmd, args)]),
    ),
    async close() {
      await session.close()
      await nodes?.close()
    },
  }
}
