// The mount daemon: open the cluster, serve it through FUSE, and on SIGINT/SIGTERM (or `dfs unmount`)
// store everything buffered, unmount, checkpoint and release the metadata lock.

import { resolve } from 'node:path'
import { type Cluster, type ClusterFlags, openCluster } from '../cluster/openCluster.js'
import { FileSystem } from '../fs/FileSystem.js'
import { type Mounted, mountFileSystem } from '../fuse/mount.js'
import { checkMountpoint } from '../fuse/mountpoint.js'
import { formatSize } from '../util/size.js'
import { registerDaemon, unregisterDaemon } from './registry.js'

export interface DaemonOptions extends ClusterFlags {
  mountpoint: string
  /** Bytes of written-but-unstored chunk buffers across all open files. */
  dirtyBytes: number
  log: (message: string) => void
  /** Called once the mount is ready (the CLI prints "dfs: mounted <dir>"). */
  onMounted?: (summary: string) => void
}

export class Daemon {
  private stopping: Promise<void> | undefined

  private constructor(
    readonly mountpoint: string,
    private readonly cluster: Cluster,
    readonly fs: FileSystem,
    private readonly mounted: Mounted,
    private readonly log: (message: string) => void,
  ) {}

  static async start(opts: DaemonOptions): Promise<Daemon> {
    const mountpoint = resolve(opts.mountpoint)
    await checkMountpoint(mountpoint)
    const cluster = await openCluster(opts, { create: true })
    let mounted: Mounted | undefined
    try {
      const fs = new FileSystem({
        meta: cluster.meta,
        chunks: cluster.chunks,
        capacity: cluster,
        chunkSize: cluster.settings.chunkSize,
        dirtyLimit: opts.dirtyBytes,
        owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
        log: opts.log,
      })
      mounted = await mountFileSystem(mountpoint, fs, { log: opts.log })
      await registerDaemon({ pid: process.pid, mountpoint, meta: cluster.metaDir, startedAt: new Date().toISOString() })
      const daemon = new Daemon(mountpoint, cluster, fs, mounted, opts.log)
      const { settings } = cluster
      opts.onMounted?.(
        `${settings.nodes.length} nodes, ${settings.replicas} replicas, ${formatSize(settings.chunkSize)} chunks, metadata in ${cluster.metaDir}`,
      )
      return daemon
    } catch (err) {
      await mounted?.unmount().catch(() => {})
      await cluster.close()
      throw err
    }
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
      await this.cluster.close()
      await unregisterDaemon(this.mountpoint)
    })()
    return this.stopping
  }
}
