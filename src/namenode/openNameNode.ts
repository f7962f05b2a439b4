// A running NameNode: the cluster opened for writing (metadata store, DataNodes, chunk store for the
// NameNode's own copying and deleting), its services (heartbeats, healer, scrubber, rebalancer,
// orphans), and the namespace service clients talk to. The embedded mount runs one inside itself;
// `dfs namenode` runs one behind a TCP port. Both answer `dfs status | balance | drain` with the same
// handlers.

import { type Cluster, type ClusterFlags, openCluster } from '../cluster/openCluster.js'
import type { Takeover } from '../cluster/fencing.js'
import { ClusterServices, type ServiceOptions } from './ClusterServices.js'
import type { ControlHandler } from '../daemon/control.js'
import { type ClusterStatus, clusterStatus } from './status.js'
import { type DfsError, dfsError, type ErrorCode } from '../errors.js'
import { InProcessSession } from '../protocol/InProcessSession.js'
import type { SessionSettings } from '../protocol/api.js'
import { NameNode } from './NameNode.js'
import { OnlineFsck } from './onlineFsck.js'
import { listSegments } from '../meta/journalFormat.js'
import { beginHistory, endHistoryCleanly, type History } from './history.js'
import { fsyncPath } from '../util/files.js'
import { levelled } from '../log/Log.js'
import { EventFeed } from './events.js'
import { type ChunkRange, filePlacement } from './filePlacement.js'
import type { PagedPlacement } from '../protocol/placement.js'
import { inodeAtPath } from '../meta/namespace/lookup.js'
import { ClientTable } from './clients.js'
import { policyHandlers } from './policyCommands.js'

export interface NameNodeHostOptions extends ClusterFlags, ServiceOptions {
  /**
   * How long unnamed inodes left by a crash wait for a client to say it still has them open (ms).
   * 0 in the embedded mount (no other client can); a TCP NameNode waits for clients to reconnect.
   */
  reopenGraceMs: number
  /** Take over as the primary from a standby's folder (dfs namenode --promote). */
  promote?: Takeover
  /**
   * Leave the services (heartbeats, healer, orphan sweep, scrubber) to startServices(): a mount
   * daemon starts them once the mount serves, so their first scans do not delay it.
   */
  deferServices?: boolean
}

/**
 * The seq the history this NameNode took over ends at (the welcome's startSeq: clients take
 * everything up to it as kept, docs/protocol.md "A NameNode change"), read before the services
 * start, as they may journal records of this NameNode's own. A NameNode killed with -9 left its last
 * records in the page cache, where replay found them but a host crash would not: they are made
 * durable before they are promised.
 */
async function durableHistory(cluster: Cluster): Promise<number> {
  const startSeq = cluster.meta.lastSeq
  for (const segment of await listSegments(cluster.metaDir)) await fsyncPath(segment.file)
  return startSeq
}

/** Every checkpoint of the metadata store as one event, with its duration and seq. */
function checkpointEvents(meta: Pick<Cluster['meta'], 'onTiming'>, events: EventFeed): () => void {
  return meta.onTiming((timing) => {
    if (timing.kind !== 'checkpoint') return
    events.emit({ kind: 'checkpoint', level: 'info', message: `journal checkpoint at seq ${timing.seq} took ${timing.seconds.toFixed(3)} s` })
  })
}

export class NameNodeHost {
  readonly startedAt = Date.now()
  private readonly onlineFsck: OnlineFsck
  /** The mounts it serves, with their counters (clients.ts): `dfs status`, the dashboard and /metrics show them. */
  readonly clients: ClientTable

  private constructor(
    readonly cluster: Cluster,
    readonly services: ClusterServices,
    readonly nameNode: NameNode,
    log: (message: string) => void,
    /** The journal seq the history this NameNode took over ends at: nothing of its own comes before it. */
    readonly startSeq: number,
    /** The history of journal seqs it serves (history.ts), for clients to tell a NameNode change that lost records. */
    readonly history: History,
    /** What happened, newest first (events.ts): the services emit, the dashboard reads. */
    readonly events: EventFeed,
    private readonly stopTimings: () => void = () => {},
  ) {
    this.onlineFsck = new OnlineFsck(cluster, log)
    this.clients = new ClientTable({ events })
  }

  static async open(opts: NameNodeHostOptions): Promise<NameNodeHost> {
    const cluster = await openCluster(opts, { create: true, ...(opts.promote ? { promote: opts.promote } : {}) })
    let services: ClusterServices | undefined
    let stopTimings: (() => void) | undefined
    const events = new EventFeed()
    try {
      const startSeq = await durableHistory(cluster)
      const history = await beginHistory(cluster.metaDir, startSeq)
      // Services emit into the host's feed; a caller's own onEvent hears them too.
      services = new ClusterServices(cluster, {
        ...opts,
        onEvent: (event) => {
          events.emit(event)
          opts.onEvent?.(event)
        },
      })
      stopTimings = checkpointEvents(cluster.meta, events)
      const verified = services.scrubber.verified
      const nameNode = new NameNode({
        meta: cluster.meta,
        replicas: cluster.settings.replicas,
        deleteChunks: ids => {
          // A deleted chunk leaves the verified-at record now, not at the end of a scrub pass (never, with the scrubber off).
          verified.forgetChunks(ids)
          return cluster.chunks.delete(ids)
        },
        // A client's report reaches the healer the way this process's own reads do.
        onBadCopy: (ref, nodeId, reason) => cluster.chunks.onBadReplica?.(ref, nodeId, dfsError(reason.code as ErrorCode, reason.message, { nodeId })),
        onUnderReplicated: ref => cluster.chunks.onUnderReplicated?.(ref),
        confirmClaim: () => cluster.confirmClaim(),
        nodeCount: () => cluster.registry.ids().length,
        log: opts.log,
      })
      nameNode.start(opts.reopenGraceMs)
      const host = new NameNodeHost(cluster, services, nameNode, opts.log, startSeq, history, events, stopTimings)
      if (!opts.deferServices) host.startServices()
      // Fenced by a newer NameNode (a promoted standby): no change is taken from now on, and the
      // services (which commit and delete) stop; the owner of this host (dfs namenode, the mount
      // daemon) decides what else to do (`superseded`).
      void cluster.superseded.then(err => {
        levelled(opts.log).error(err.message)
        nameNode.supersede(err)
        void host.stopServices()
      })
      return host
    } catch (err) {
      stopTimings?.()
      await services?.stop()
      await cluster.close()
      throw err
    }
  }

  /** Resolves once a newer NameNode took the cluster over; this one then refuses every change. */
  get superseded(): Promise<DfsError> {
    return this.cluster.superseded
  }

  get settings(): SessionSettings {
    const { settings } = this.cluster
    return { clusterId: this.cluster.meta.clusterId, chunkSize: settings.chunkSize, replicas: settings.replicas }
  }

  /** A client session in this process (the embedded mount). */
  inProcessSession(): InProcessSession {
    return new InProcessSession(this.nameNode, this.settings, () => this.cluster.capacity(), {
      placement: (ino, path) => this.placement(ino, path),
      clients: this.clients,
    })
  }

  /** What `dfs status` shows; `servedAt` names where this NameNode is reached (a mount point or an address). */
  status(servedAt: string): ClusterStatus {
    const { cluster, services } = this
    const status = clusterStatus({
      mountpoint: servedAt,
      meta: cluster.metaDir,
      startedAt: this.startedAt,
      settings: cluster.settings,
      liveness: services.heartbeats.options,
      registry: cluster.registry,
      chunks: cluster.chunks,
      state: cluster.meta.state,
      graceMs: services.healer.status().graceMs,
      isBadCopy: services.healer.isKnownBad,
      clients: this.clients.list(),
    })
    const rebalance = services.rebalancer.status()
    const conversion = services.converter.summary()
    return { ...status, healer: services.healer.status(), scrubber: services.scrubber.status(), ...(rebalance ? { rebalance } : {}), ...(conversion ? { conversion } : {}) }
  }

  /** Where inode `ino`'s chunks are (`dfs info`, user.dfs.placement); `path` is only echoed back. */
  placement(ino: number, path = '', range?: ChunkRange): PagedPlacement {
    const { cluster, services } = this
    return filePlacement({
      state: cluster.meta.state,
      registry: cluster.registry,
      chunkSize: cluster.settings.chunkSize,
      replicas: cluster.settings.replicas,
      graceMs: services.healer.status().graceMs,
      isBadCopy: services.healer.isKnownBad,
      verifiedAt: (chunkId, nodeId) => services.scrubber.verified.get(chunkId, nodeId),
    }, ino, path, range)
  }

  /** The same by a path in the namespace ("/dir/file"): `dfs info --namenode`, the dashboard's file view (a range at a time). */
  placementAt(path: string, range?: ChunkRange): PagedPlacement {
    return this.placement(inodeAtPath(this.cluster.meta.state, path), path, range)
  }

  /** The cluster commands (`dfs balance`, `dfs drain`, `dfs fsck --namenode`) as control handlers. */
  clusterHandlers(): Record<string, ControlHandler> {
    const { rebalancer, converter } = this.services
    return {
      balance: () => rebalancer.balance(),
      drain: args => rebalancer.drain(String(args.node), typeof args.resolved === 'string' ? args.resolved : undefined),
      'balance-status': () => rebalancer.status() ?? null,
      cancel: args => rebalancer.cancel(args.kind === 'drain' ? 'drain' : 'balance'),
      // `dfs policy apply <dir>`: a path in the namespace (a mount's root is the namespace's root).
      'policy-apply': args => converter.start(String(args.path)),
      'policy-apply-status': () => converter.status() ?? null,
      'policy-apply-cancel': () => converter.cancel(),
      'drain-undo': args => rebalancer.undoDrain(String(args.node), typeof args.resolved === 'string' ? args.resolved : undefined),
      fsck: args => this.onlineFsck.start(args),
      // `dfs info --namenode … /path`: a path in the namespace (a mount resolves its own paths: Daemon.ts).
      info: args => this.placementAt(String(args.path)),
      'fsck-status': args => this.onlineFsck.status(args),
      // `dfs policy get|set --namenode … /path`: paths in the namespace (a mount resolves its own: Daemon.ts).
      ...policyHandlers({ state: () => this.cluster.meta.state, replicas: this.cluster.settings.replicas, session: () => this.inProcessSession() }),
      // A checkpoint now (the scale bench times file operations while one is written).
      checkpoint: async () => {
        await this.cluster.meta.checkpoint()
        return this.cluster.meta.stats
      },
    }
  }

  private servicesStarted = false
  private servicesStopped: Promise<void> | undefined

  /** Start the services (once; never after they were stopped). */
  startServices(): void {
    if (this.servicesStarted || this.servicesStopped) return
    this.servicesStarted = true
    this.services.start()
  }

  /** Stop the services, started or not: a stopped rebalancer also refuses jobs asked for later. */
  private stopServices(): Promise<void> {
    this.servicesStopped ??= this.services.stop()
    return this.servicesStopped
  }

  /** Stop the services (they commit records), then close the metadata store and the nodes. */
  async close(): Promise<void> {
    this.nameNode.stop()
    await this.stopServices()
    this.stopTimings()
    // Marked while the folder is still locked (a NameNode starting on it next must not find the mark
    // of a stop that came after its start); a record journaled after the mark makes it not match.
    // Without the mark (the journal failed) the next start forks the history: safe, and the close
    // goes on regardless.
    try {
      await this.cluster.meta.sync()
      await endHistoryCleanly(this.cluster.metaDir, this.history, this.cluster.meta.lastSeq)
    } catch {
      // A failed journal fails cluster.close() below too; a mark not written only costs a fork.
    } finally {
      await this.cluster.close()
    }
  }
}
