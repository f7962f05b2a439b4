// The mount daemon: open the cluster, watch its nodes (heartbeats), serve it through FUSE and a
// control socket, and on SIGINT/SIGTERM, `dfs unmount` or an unmount from outside dfs (fusermount -u,
// umount) store everything buffered, unmount, checkpoint and release the metadata lock.

import { type Cluster, type ClusterFlags, openCluster } from '../cluster/openCluster.js'
import { FileSystem, type UnstoredFile } from '../fs/FileSystem.js'
import { type Mounted, mountFileSystem } from '../fuse/mount.js'
import { canonicalMountpoint, checkMountpoint } from '../fuse/mountpoint.js'
import { dfsError } from '../errors.js'
import { formatSize } from '../util/size.js'
import { ClusterServices, type ServiceOptions } from './ClusterServices.js'
import { type ControlHandler, serveControl } from './control.js'
import { controlSocketPath, recordUnstored, registerDaemon, unregisterDaemon } from './registry.js'
import { describeUnstored } from './unstored.js'
import { levelled } from '../log/Log.js'
import { clusterStatus } from './status.js'

export interface DaemonOptions extends ClusterFlags, ServiceOptions {
  mountpoint: string
  /** Bytes of written-but-unstored chunk buffers across all open files. */
  dirtyBytes: number
  /** Called once the mount is ready (the CLI prints "dfs: mounted <dir>"). */
  onMounted?: (summary: string) => void
}

interface Parts {
  cluster: Cluster
  services: ClusterServices
  fs: FileSystem
  mounted: Mounted
  control: { close(): Promise<void> }
}

export class Daemon {
  private stopping: Promise<void> | undefined
  /** Files whose written bytes no node would store by the time the daemon stopped (dropped with it). */
  unstored: UnstoredFile[] = []
  private readonly startedAt = Date.now()
  private onStopped!: () => void
  /** Resolves once the daemon has stopped, whatever stopped it. */
  readonly stopped = new Promise<void>(resolve => { this.onStopped = resolve })

  private constructor(readonly mountpoint: string, private readonly parts: Parts, private readonly log: (message: string) => void) {
    parts.mounted.detached.then(() => {
      if (this.stopping) return
      this.log(`${mountpoint} was unmounted from outside dfs (fusermount -u or umount): storing what is buffered and stopping`)
      this.stopLogged()
    })
  }

  static async start(opts: DaemonOptions): Promise<Daemon> {
    const mountpoint = await canonicalMountpoint(opts.mountpoint)
    await checkMountpoint(mountpoint)
    const cluster = await openCluster(opts, { create: true })
    const { settings } = cluster
    const services = new ClusterServices(cluster, opts)
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
      services.start()
      mounted = await mountFileSystem(mountpoint, fs, { log: opts.log })
      let daemon: Daemon | undefined
      const socket = await controlSocketPath(mountpoint)
      control = await serveControl(socket, controlHandlers(services, () => daemon), opts.log)
      daemon = new Daemon(mountpoint, { cluster, services, fs, mounted, control }, opts.log)
      await registerDaemon({ pid: process.pid, mountpoint, meta: cluster.metaDir, control: socket, startedAt: new Date().toISOString() })
      opts.onMounted?.(
        `${settings.nodes.length} nodes, ${settings.replicas} replicas, ${formatSize(settings.chunkSize)} chunks, metadata in ${cluster.metaDir}`,
      )
      return daemon
    } catch (err) {
      await services.stop()
      await control?.close().catch(() => {})
      await mounted?.unmount().catch(() => {})
      await cluster.close()
      throw err
    }
  }

  status() {
    const { cluster, services } = this.parts
    const status = clusterStatus({
      mountpoint: this.mountpoint,
      meta: cluster.metaDir,
      startedAt: this.startedAt,
      settings: cluster.settings,
      liveness: services.heartbeats.options,
      registry: cluster.registry,
      chunks: cluster.chunks,
      state: cluster.meta.state,
      graceMs: services.healer.status().graceMs,
      isBadCopy: services.healer.isKnownBad,
    })
    const rebalance = services.rebalancer.status()
    return { ...status, healer: services.healer.status(), scrubber: services.scrubber.status(), ...(rebalance ? { rebalance } : {}) }
  }

  /** Stop on the usual signals (the mount is detached lazily); resolves when stopped, by whatever. */
  stopOnSignals(): Promise<void> {
    const stop = (signal: string) => {
      this.log(`${signal}: unmounting ${this.mountpoint}`)
      this.stopLogged()
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
    return this.stopped
  }

  /**
   * `dfs unmount`: unmount only if nothing uses the mount (MOUNT_BUSY otherwise, and the daemon goes
   * on serving), or with `force` detach it lazily at once; then stop. Resolves once stopping began.
   */
  async unmount(force: boolean): Promise<void> {
    if (!force && !this.stopping) await this.parts.mounted.unmount({ lazy: false })
    this.stopLogged()
  }

  private stopLogged(): void {
    this.stop().catch(err => {
      this.log(`stopping failed: ${(err as Error).message}`)
      this.onStopped()
    })
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // Refuse further writes (after a lazy detach, processes holding files open could otherwise
      // write until we exit, and be told their bytes were written) and wait for those accepted; store
      // everything buffered; detach the mount; write a final checkpoint so the next mount replays nothing.
      const { fs, mounted, services, control, cluster } = this.parts
      await fs.stopWrites()
      await fs.flushAll()
      await mounted.unmount().catch(err => this.log(`unmount: ${(err as Error).message}`))
      this.unstored = await fs.flushAll()
      fs.close()
      if (this.unstored.length > 0) {
        levelled(this.log).error(describeUnstored(this.mountpoint, this.unstored), { files: this.unstored })
        await recordUnstored(this.mountpoint, this.unstored).catch(err => this.log(`recording the unstored files failed: ${(err as Error).message}`))
      }
      await services.stop() // before the metadata store closes: the healer commits records
      await control.close()
      await cluster.close()
      await unregisterDaemon(this.mountpoint)
      this.onStopped()
    })()
    return this.stopping
  }
}

/** What `dfs status`, `dfs balance` and `dfs drain` ask the daemon over its control socket. */
function controlHandlers(services: ClusterServices, daemon: () => Daemon | undefined): Record<string, ControlHandler> {
  const { rebalancer } = services
  return {
    status: () => {
      const running = daemon()
      if (!running) throw dfsError('EIO', 'the daemon is still starting; try again')
      return running.status()
    },
    balance: () => rebalancer.balance(),
    drain: args => rebalancer.drain(String(args.node), typeof args.resolved === 'string' ? args.resolved : undefined),
    'balance-status': () => rebalancer.status() ?? null,
    unmount: async args => {
      const running = daemon()
      if (!running) throw dfsError('EIO', 'the daemon is still starting; try again')
      await running.unmount(args.force === true)
      return { pid: process.pid }
    },
    cancel: args => rebalancer.cancel(args.kind === 'drain' ? 'drain' : 'balance'),
    'drain-undo': args => rebalancer.undoDrain(String(args.node), typeof args.resolved === 'string' ? args.resolved : undefined),
  }
}
