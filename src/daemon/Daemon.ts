// The mount daemon: open the cluster, watch its nodes (heartbeats), serve it through FUSE and a
// control socket, and on SIGINT/SIGTERM, `dfs unmount` or an unmount from outside dfs (fusermount -u,
// umount) store everything buffered, unmount, checkpoint and release the metadata lock.

import { holdFirstCounts } from '../datanode/chunkTally.js'
import { FileSystem } from '../fs/FileSystem.js'
import { type Mounted, mountFileSystem } from '../fuse/mount.js'
import { canonicalMountpoint, checkMountpoint } from '../fuse/mountpoint.js'
import { dfsError, isDfsError } from '../errors.js'
import { type ControlHandler, serveControl } from './control.js'
import { controlSocketPath, recordStopLoss, registerDaemon, unregisterDaemon } from './registry.js'
import { type StopLoss, describeUnstored, describeUnsynced } from './unstored.js'
import { levelled } from '../log/Log.js'
import type { MountBackend } from './backend.js'
import { hostname } from 'node:os'
import { OpStats } from '../client/opStats.js'
import { ClientReporter } from '../client/clientReporter.js'

export interface DaemonOptions {
  mountpoint: string
  /** Where the mount's namespace and chunks come from: embedded (embeddedBackend) or a NameNode (remoteBackend). */
  backend: () => Promise<MountBackend>
  log: (message: string) => void
  /** Bytes of written-but-unstored chunk buffers across all open files. */
  dirtyBytes: number
  /** Called once the mount is ready (the CLI prints "dfs: mounted <dir>"). */
  onMounted?: (summary: string) => void
}

interface Parts {
  backend: MountBackend
  fs: FileSystem
  mounted: Mounted
  control: { close(): Promise<void> }
  reporter: ClientReporter
}

export class Daemon {
  private stopping: Promise<void> | undefined
  /**
   * What the stop could not make safe: files whose written bytes could not be stored by the time
   * the daemon stopped (dropped with it), and why the namespace could not be made durable, if so.
   */
  loss: StopLoss = { files: [] }
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
    // Background work waits until the mount serves: the node folders' first counts of their chunks,
    // and (backend.serving) the embedded NameNode's services.
    let started!: () => void
    holdFirstCounts(new Promise<void>(resolve => (started = resolve)))
    try {
      return await Daemon.#start(mountpoint, opts)
    } finally {
      started()
    }
  }

  static async #start(mountpoint: string, opts: DaemonOptions): Promise<Daemon> {
    const backend = await opts.backend()
    let mounted: Mounted | undefined
    let control: { close(): Promise<void> } | undefined
    let reporter: ClientReporter | undefined
    try {
      const fs = new FileSystem({
        meta: backend.session,
        chunks: backend.chunks,
        chunkSize: backend.chunkSize,
        dirtyLimit: opts.dirtyBytes,
        owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
        log: opts.log,
      })
      const opStats = new OpStats()
      const startedAt = Date.now()
      mounted = await mountFileSystem(mountpoint, fs, {
        log: opts.log, sharedNamespace: backend.shared, opTimeoutMs: backend.opTimeoutMs, onOp: (op, seconds) => opStats.record(op, seconds),
        onNamespaceChange: backend.onNamespaceChange,
      })
      // The NameNode shows its clients (dfs status, the dashboard): who this one is and what it counted.
      reporter = new ClientReporter({
        session: backend.session,
        about: { host: hostname(), mountpoint, pid: process.pid, startedAt },
        counters: () => ({ ops: opStats.snapshot(), nodes: backend.chunks.nodeIo(), failovers: backend.chunks.stats.failovers }),
      })
      reporter.start()
      let daemon: Daemon | undefined
      const socket = await controlSocketPath(mountpoint)
      control = await serveControl(socket, controlHandlers(backend, () => daemon), opts.log)
      daemon = new Daemon(mountpoint, { backend, fs, mounted, control, reporter }, opts.log)
      await registerDaemon({ pid: process.pid, mountpoint, meta: backend.metaLabel, control: socket, startedAt: new Date().toISOString() })
      opts.onMounted?.(backend.summary)
      backend.serving?.()
      return daemon
    } catch (err) {
      reporter?.stop()
      await control?.close().catch(() => {})
      await mounted?.unmount().catch(() => {})
      await backend.close()
      throw err
    }
  }

  status(): Promise<unknown> {
    return this.parts.backend.status(this.mountpoint)
  }

  /** `dfs info`: where the chunks of `path` (in the mount, from its root: "/a/b") are. */
  info(path: string): Promise<unknown> {
    return this.parts.fs.placement(path)
  }

  /** `dfs policy get`: the storage policy in force at `path` (in the mount, "/a/b") and where it comes from. */
  policy(path: string): Promise<unknown> {
    return this.parts.fs.policyOf(path)
  }

  /** `dfs policy set`: the directory's own storage policy, as setfattr -n user.dfs.policy sets it. */
  async setPolicy(path: string, policy: string): Promise<unknown> {
    await this.parts.fs.setPolicy(path, policy)
    return await this.parts.fs.policyOf(path)
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
      // Each step runs whatever the one before it did: a failure is logged, and the mount, the
      // session and the NameNode are still let go (a daemon that stops half way never exits).
      const { fs, mounted, backend, control, reporter } = this.parts
      const step = async (what: string, run: () => Promise<unknown>) => {
        try {
          await run()
        } catch (err) {
          levelled(this.log).error(`stopping: ${what} failed: ${(err as Error).message}`)
        }
      }
      // What could not be stored is the last pass's. A sync that failed for good (a journal that
      // cannot be written; a NameNode change that lost this client's changes, which the session
      // reports once) stays failed whatever a later pass says; one that only could not reach the
      // NameNode is not a loss: it could not be confirmed, which the log says unless a later sync was.
      let lostForGood: string | undefined
      let unconfirmed: string | undefined
      const storeBuffered = async () => {
        const report = await fs.flushAll()
        if (NOT_A_LOSS.some(code => isDfsError(report.unsynced, code))) unconfirmed = report.unsynced!.message
        else if (report.unsynced) lostForGood ??= report.unsynced.message
        else unconfirmed = undefined
        this.loss = { files: report.unstored, ...(lostForGood === undefined ? {} : { unsynced: lostForGood }) }
      }
      // A NameNode that went away is waited for once per outage (--namenode-timeout), not once per
      // request of each pass: one that comes back meanwhile takes what is buffered.
      backend.session.stopping()
      await step('refusing writes', () => fs.stopWrites())
      await step('storing what is buffered', storeBuffered)
      await step('unmounting', () => mounted.unmount())
      await step('storing what is buffered', storeBuffered)
      fs.close()
      const { files, unsynced } = this.loss
      if (files.length > 0) levelled(this.log).error(describeUnstored(this.mountpoint, files), { files })
      if (unsynced !== undefined) levelled(this.log).error(describeUnsynced(this.mountpoint, unsynced))
      else if (unconfirmed !== undefined) levelled(this.log).warn(`unmounting ${this.mountpoint}: its NameNode could not confirm its last changes durable (${unconfirmed}); it holds those it answered, and makes its journal durable itself`)
      // For `dfs unmount`, which waits for this exit and reads it (a foreground mount says it as it exits).
      if (files.length > 0 || unsynced !== undefined) await step('recording what was lost', () => recordStopLoss(this.mountpoint, this.loss))
      await step('closing the control socket', () => control.close())
      reporter.stop()
      await step('closing the cluster', () => backend.close()) // after the last flush: the NameNode's services commit records too
      await step('leaving the daemon registry', () => unregisterDaemon(this.mountpoint))
      this.onStopped()
    })()
    return this.stopping
  }
}

/**
 * A final sync that failed with these did not learn of a loss: the NameNode could not be reached, or
 * was no longer the one serving (another took over: whether that one holds this client's changes is
 * the session's to say, as a loss, when it gets there).
 */
const NOT_A_LOSS = ['NAMENODE_UNAVAILABLE', 'SUPERSEDED', 'NOT_PRIMARY'] as const

/** What `dfs status`, `dfs balance` and `dfs drain` ask the daemon over its control socket. */
function controlHandlers(backend: MountBackend, daemon: () => Daemon | undefined): Record<string, ControlHandler> {
  const running = () => {
    const d = daemon()
    if (!d) throw dfsError('EIO', 'the daemon is still starting; try again')
    return d
  }
  return {
    ...backend.handlers(),
    status: () => running().status(),
    info: args => running().info(String(args.path)),
    // Paths in the mount, resolved as the mount does (a NameNode's own are namespace paths: policyCommands.ts).
    'policy-get': args => running().policy(String(args.path)),
    'policy-set': args => running().setPolicy(String(args.path), String(args.policy)),
    // stopMayTakeMs: a NameNode's client may wait its --namenode-timeout for an unreachable NameNode
    // while it stores what it buffered (once per outage: RemoteNameNode.stopping), which `dfs
    // unmount` waits out by default.
    unmount: async args => {
      await running().unmount(args.force === true)
      return { pid: process.pid, ...(backend.opTimeoutMs === undefined ? {} : { stopMayTakeMs: backend.opTimeoutMs }) }
    },
  }
}
