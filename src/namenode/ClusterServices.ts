// What the mount daemon runs in the background for its cluster, built and stopped as one:
// heartbeats (which nodes live), the healer (R copies of everything), the scrubber (re-verify stored
// chunks), the rebalancer (dfs balance, dfs drain), and the policy converter (dfs policy apply).

import { DEFAULT_HEALER_OPTIONS, Healer, type HealerOptions } from '../cluster/healer/Healer.js'
import { Scrubber, type ScrubberOptions } from '../cluster/healer/Scrubber.js'
import { TokenBucket } from '../cluster/healer/TokenBucket.js'
import { HeartbeatMonitor, type LivenessOptions } from '../cluster/liveness/HeartbeatMonitor.js'
import type { Cluster } from '../cluster/openCluster.js'
import { Rebalancer } from '../cluster/rebalance/Rebalancer.js'
import { PolicyConverter } from '../cluster/convert/PolicyConverter.js'
import { orphanHold } from '../meta/orphanHold.js'
import type { NewEvent } from './events.js'

export interface ServiceOptions {
  liveness: Omit<LivenessOptions, 'log' | 'minFreeBytes' | 'onEvent'>
  healing: HealerOptions
  scrub: ScrubberOptions
  log: (message: string) => void
  /** Where the services tell what happened (the NameNode host's EventFeed); log lines are written regardless. */
  onEvent?: (event: NewEvent) => void
}

export class ClusterServices {
  readonly heartbeats: HeartbeatMonitor
  readonly healer: Healer
  readonly scrubber: Scrubber
  readonly rebalancer: Rebalancer
  readonly converter: PolicyConverter
  /** The copy bandwidth (--heal-bandwidth) the healer, the rebalancer and the converter share. */
  readonly bandwidth: TokenBucket

  constructor(cluster: Cluster, opts: ServiceOptions) {
    const { meta, chunks, registry, settings } = cluster
    this.heartbeats = new HeartbeatMonitor(registry, {
      ...opts.liveness,
      // Room for a couple of chunks, so a node leaves the write pool before a put fails with ENOSPC.
      minFreeBytes: 2 * settings.chunkSize,
      log: opts.log,
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    })
    // --heal-bandwidth is one budget for every copy the daemon makes on its own: repairs and moves
    // together, not each.
    const bandwidth = (this.bandwidth = new TokenBucket(opts.healing.bandwidthBytesPerSec ?? DEFAULT_HEALER_OPTIONS.bandwidthBytesPerSec))
    this.healer = new Healer({
      meta, chunks, registry, replicas: settings.replicas, log: opts.log, options: opts.healing, bandwidth,
      orphanHold: () => orphanHold(cluster.metaDir),
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    })
    const reportBadCopy = this.healer.reportBadCopy.bind(this.healer)
    // Moves copies under the healer's per-chunk locks, within the same bandwidth budget.
    this.rebalancer = new Rebalancer({
      meta, registry, replicas: settings.replicas, locks: this.healer.locks, log: opts.log, onBadCopy: reportBadCopy, bandwidth,
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    })
    this.rebalancer.restoreDraining() // before the first write: a node being drained takes none
    // A copy handed to the healer, or moved under a chunk lock, is not reported again meanwhile.
    this.scrubber = new Scrubber({
      meta, registry, log: opts.log, onBadCopy: reportBadCopy, locks: this.healer.locks, isReported: this.healer.isBadCopy, options: opts.scrub,
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    })
    // A copy the healer writes was checked against its SHA-256 by the node that took it: verified as of then.
    this.healer.onVerifiedCopy = (chunkId, nodeId) => this.scrubber.verified.record(chunkId, nodeId)
    // Rewrites chunks in their directory's layout under the same chunk locks, within the same budget;
    // deletes the old pieces as the NameNode deletes dropped chunks.
    this.converter = new PolicyConverter({
      meta, io: chunks, replicas: settings.replicas, nodeCount: () => registry.ids().length, locks: this.healer.locks, bandwidth, log: opts.log,
      deleteChunks: (ids) => {
        this.scrubber.verified.forgetChunks(ids)
        return chunks.delete(ids)
      },
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    })
  }

  start(): void {
    this.heartbeats.start()
    this.healer.start()
    this.scrubber.start()
    this.rebalancer.resumeDrain() // one the last run did not finish
  }

  /** Stop everything; the healer and rebalancer commit records, so call this before closing the metadata. */
  async stop(): Promise<void> {
    await this.converter.stop()
    await this.rebalancer.stop()
    await this.scrubber.stop()
    await this.healer.stop()
    this.heartbeats.stop()
  }
}
