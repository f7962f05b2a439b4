// The mount daemon: open the cluster, watch its nodes (heartbeats), serve it through FUSE and a
// control socket, and on SIGINT/SIGTERM, `dfs unmount` or an unmount from outside dfs (fusermount -u,
// umount) store everything buffered, unmount, checkpoint and release the metadata lock.

import type { ClusterFlags } from '../cluster/openCluster.js'
import { FileSystem, type UnstoredFile } from '../fs/FileSystem.js'
import { type Mounted, mountFileSystem } from '../fuse/mount.js'
import { canonicalMountpoint, checkMountpoint } from '../fuse/mountpoint.js'
import { dfsError } from '../errors.js'
import { formatSize } from '../util/size.js'
import type { ServiceOptions } from './ClusterServices.js'
import { type ControlHandler, serveControl } from './control.js'
import { controlSocketPath, recordUnstored, registerDaemon, unregisterDaemon } from './registry.js'
import { describeUnstored } from './unstored.js'
import { levelled } from '../log/Log.js'
import { NameNodeHost } from '../namenode/openNameNode.js'
import type { NameNodeSession } from '../protocol/api.js'

export interface DaemonOptions extends ClusterFlags, ServiceOptions {
  mountpoint: string
  /** Bytes of written-but-unstored chunk buffers across all open files. */
  dirtyBytes: number
  /** Called once the mount is ready (the CLI prints "dfs: mounted <dir>"). */
  onMounted?: (summary: string) => void
}

interface Parts {
  nameNode: NameNodeHost
  session: NameNodeSession
  fs: FileSystem
  mounted: Mounted
  control: { close(): Promise<void> }
}

export class Daemon {
  private stopping: Promise<void> | undefined
  /** Files whose written bytes no node would store by the time the daemon stopped (dropped with it). */
  unstored: UnstoredFile[] = []
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
    const nameNode = await NameNodeHost.open({ ...opts, reopenGraceMs: 0 })
    const { cluster } = nameNode
    const { settings } = cluster
    const session = nameNode.inProcessSession()
    let mounted: Mounted | undefined
    let control: { close(): Promise<void> } | undefined
    try {
      const fs = new FileSystem({
        meta: session,
        chunks: cluster.chunks,
        chunkSize: settings.chunkSize,
        dirtyLimit: opts.dirtyBytes,
        owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
        log: opts.log,
      })
      mounted = await mountFileSystem(mountpoint, fs, { log: opts.log })
      let daemon: Daemon | undefined
      const socket = await controlSocketPath(mountpoint)
      control = await serveControl(socket, controlHandlers(nameNode, () => daemon), opts.log)
      daemon = new Daemon(mountpoint, { nameNode, session, fs, mounted, control }, opts.log)
      await registerDaemon({ pid: process.pid, mountpoint, meta: cluster.metaDir, control: socket, startedAt: new Date().toISOString() })
      opts.onMounted?.(
        `${settings.nodes.length} nodes, ${settings.replicas} replicas, ${formatSize(settings.chunkSize)} chunks, metadata in ${cluster.metaDir}`,
      )
      return daemon
    } catch (err) {
      await control?.close().catch(() => {})
      await mounted?.unmount().catch(() => {})
      await session.close()
      await nameNode.close()
      throw err
    }
  }

  status() {
    return this.parts.nameNode.status(this.mountpoint)
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
      const { fs, mounted, nameNode, session, control } = this.parts
      await fs.stopWrites()
      await fs.flushAll()
      await mounted.unmount().catch(err => this.log(`unmount: ${(err as Error).message}`))
      this.unstored = await fs.flushAll()
      fs.close()
      if (this.unstored.length > 0) {
        levelled(this.log).error(describeUnstored(this.mountpoint, this.unstored), { files: this.unstored })
        await recordUnstored(this.mountpoint, this.unstored).catch(err => this.log(`recording the unstored files failed: ${(err as Error).message}`))
      }
      await control.close()
      await session.close()
      await nameNode.close()
      await unregisterDaemon(this.mountpoint)
      this.onStopped()
    })()
    return this.stopping
  }
}

/** What `dfs status`, `dfs balance` and `dfs drain` ask the daemon over its control socket. */
function controlHandlers(nameNode: NameNodeHost, daemon: () => Daemon | undefined): Record<string, ControlHandler> {
  const running = () => {
    const d = daemon()
    if (!d) throw dfsError('EIO', 'the daemon is still starting; try again')
    return d
  }
  return {
    ...nameNode.clusterHandlers(),
    status: () => running().status(),
    unmount: async args => {
      await running().unmount(args.force === true)
      return { pid: process.pid }
    },
  }
}
