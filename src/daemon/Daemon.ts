// The mount daemon: open the cluster, watch its nodes (heartbeats), serve it through FUSE and a
// control socket, and on SIGINT/SIGTERM (or `dfs unmount`) store everything buffered, unmount,
// checkpoint and release the metadata lock.

import { resolve } from 'node:path'
import { Healer, type HealerOptions } from '../cluster/healer/Healer.js'
import { Scrubber, type ScrubberOptions } from '../cluster/healer/Scrubber.js'
import { HeartbeatMonitor, type LivenessOptions } from '../cluster/liveness/HeartbeatMonitor.js'
import { Rebalancer } from '../cluster/rebalance/Rebalancer.js'
import { type Cluster, type ClusterFlags, openCluster } from '../cluster/openCluster.js'
import { FileSystem } from '../fs/FileSystem.js'
import { type Mounted, mountFileSystem } from '../fuse/mount.js'
import { checkMountpoint } from '../fuse/mountpoint.js'
import { dfsError } from '../errors.js'
import { formatSize } from '../util/size.js'
import { serveControl } from './control.js'
import { controlSocketPath, registerDaemon, unregisterDaemon } from './registry.js'
import { clusterStatus } from './status.js'

export interface DaemonOptions extends ClusterFlags {
  mountpoint: string
  /** Bytes of written-but-unstored chunk buffers across all open files. */
  dirtyBytes: number
  liveness: Omit<LivenessOptions, 'log' | 'minFreeBytes'>
  healing: HealerOptions
  scrub: ScrubberOptions
  log: (message: string) => void
  /** Called once the mount is ready (the CLI prints "dfs: mounted <dir>"). */
  onMounted?: (summary: string) => void
}

export class Daemon {
  private stopping: Promise<void> | undefined
  private readonly startedAt = Date.now()

  private constructor(
    readonly mountpoint: string,
    private readonly cluster: Cluster,
    readonly fs: FileSystem,
    private readonly heartbeats: HeartbeatMonitor,
    private readonly healer: Healer,
    private readonly scrubber: Scrubber,
    private readonly rebalancer: Rebalancer,
    private readonly mounted: Mounted,
    private readonly control: { close(): Promise<void> },
    private readonly log: (message: string) => void,
  ) {}

  static async start(opts: DaemonOptions): Promise<Daemon> {
    const mountpoint = resolve(opts.mountpoint)
    await checkMountpoint(mountpoint)
    const cluster = await openCluster(opts, { create: true })
    const { settings } = cluster
    const heartbeats = new HeartbeatMonitor(cluster.registry, {
      ...opts.liveness,
      // Room for a couple of chunks, so a node is taken out of writes before a put fails with ENOSPC.
      minFreeBytes: 2 * settings.chunkSize,
      log: opts.log,
    })
    // Restores R copies by itself: after a node is dead for the grace period, when a read or the
    // scrubber finds a bad copy, and on a periodic scan.
    const healer = new Healer({
      meta: cluster.meta, chunks: cluster.chunks, registry: cluster.registry,
      replicas: settings.replicas, log: opts.log, options: opts.healing,
    })
    // dfs balance, dfs drain: moves copies under the healer's per-chunk locks, within its bandwidth limit.
    const rebalancer = new Rebalancer({
      meta: cluster.meta, registry: cluster.registry, replicas: settings.replicas, locks: healer.locks, log: opts.log,
      onBadCopy: (ref, nodeId, reason) => healer.reportBadCopy(ref, nodeId, reason),
      options: { bandwidthBytesPerSec: opts.healing.bandwidthBytesPerSec },
    })
    const scrubber = new Scrubber({
      meta: cluster.meta, registry: cluster.registry, log: opts.log,
      onBadCopy: (ref, nodeId, reason) => healer.reportBadCopy(ref, nodeId, reason), options: opts.scrub,
    })
    let mounted: Mounted | undefined
    let control: { close(): Promise<void> } | undefined
    try {
      const fs = new FileSystem({
        meta: cluster.meta,
        chunks: cluster.chunks,
        capacity: cluster,
        chunkSize: settings.chunkSize,
        dirtyLimit: opts.dirtyBytes,
        owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
        log: opts.log,
      })
      heartbeats.start()
      healer.start()
      scrubber.start()
      mounted = await mountFileSystem(mountpoint, fs, { log: opts.log })
      let daemon: Daemon | undefined
      const socket = await controlSocketPath(mountpoint)
      control = await serveControl(socket, {
        status: () => {
          if (!daemon) throw dfsError('EIO', 'the daemon is still starting; try again')
          return daemon.status()
        },
        balance: () => rebalancer.balance(),
        drain: args => rebalancer.drain(String(args.node), typeof args.resolved === 'string' ? args.resolved : undefined),
        'balance-status': () => rebalancer.status() ?? null,
      }, opts.log)
      daemon = new Daemon(mountpoint, cluster, fs, heartbeats, healer, scrubber, rebalancer, mounted, control, opts.log)
      await registerDaemon({ pid: process.pid, mountpoint, meta: cluster.metaDir, control: socket, startedAt: new Date().toISOString() })
      opts.onMounted?.(
        `${settings.nodes.length} nodes, ${settings.replicas} replicas, ${formatSize(settings.chunkSize)} chunks, metadata in ${cluster.metaDir}`,
      )
      return daemon
    } catch (err) {
      await rebalancer.stop()
      await scrubber.stop()
      await healer.stop()
      heartbeats.stop()
      await control?.close().catch(() => {})
      await mounted?.unmount().catch(() => {})
      await cluster.close()
      throw err
    }
  }

  status() {
    const { cluster } = this
    const status = clusterStatus({
      mountpoint: this.mountpoint,
      meta: cluster.metaDir,
      startedAt: this.startedAt,
      settings: cluster.settings,
      liveness: this.heartbeats.options,
      registry: cluster.registry,
      chunks: cluster.chunks,
      state: cluster.meta.state,
    })
    const rebalance = this.rebalancer.status()
    return { ...status, healer: this.healer.status(), scrubber: this.scrubber.status(), ...(rebalance ? { rebalance } : {}) }
  }

  /** Stop on the usual signals; resolves when stopped. */
  stopOnSignals(): Promise<void> {
    return new Promise(resolveStopped => {
      const stop = (signal: string) => {
        this.log(`${signal}: unmounting ${this.mountpoint}`)
        this.stop().then(resolveStopped, err => {
          this.log(`stopping failed: ${(err as Error).message}`)
          resolveStopped()
        })
      }
      process.once('SIGINT', () => stop('SIGINT'))
      process.once('SIGTERM', () => stop('SIGTERM'))
    })
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // Store what is buffered while the mount still answers, then detach it, then store anything
      // written in between, and write a final checkpoint so the next mount replays nothing.
      await this.fs.flushAll()
      await this.mounted.unmount().catch(err => this.log(`unmount: ${(err as Error).message}`))
      await this.fs.flushAll()
      this.fs.close()
      // The healer and the rebalancer commit records: stop them while the metadata store is still open.
      await this.rebalancer.stop()
      await this.scrubber.stop()
      await this.healer.stop()
      this.heartbeats.stop()
      await this.control.close()
      await this.cluster.close()
      await unregisterDaemon(this.mountpoint)
    })()
    return this.stopping
  }
}
