// dfs unmount <mountpoint> [--force] [--timeout 60s]: ask the daemon serving it to stop cleanly; clear a stale mount
// otherwise. Like umount, it refuses a mount that processes still use and names them; --force
// detaches it lazily at once.

import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Command } from 'commander'
import { callControl } from '../daemon/control.js'
import { type DaemonRecord, daemonFor, daemonNotAnswering, isAlive, isStopped, runtimeDir, takeStopLoss, unregisterDaemon } from '../daemon/registry.js'
import { stopLossError } from '../daemon/unstored.js'
import { dfsError, isDfsError } from '../errors.js'
import { canonicalMountpoint, isDfsMount, mountsAt, probeMount } from '../fuse/mountpoint.js'
import { describeUsers, processesUsing } from '../fuse/mountUsers.js'
import { mountLogFolder } from '../log/where.js'
import { pathExists } from '../util/files.js'
import { formatDuration, parseDuration } from '../util/size.js'

const run = promisify(execFile)

export function unmountCommand(): Command {
  return new Command('unmount')
    .description('unmount a dfs mount: store everything buffered, checkpoint the metadata, stop the daemon')
    .argument('<mountpoint>', 'where dfs is mounted')
    .option('--force', 'detach it now even while processes use it (lazy unmount); the daemon still stores what it buffered')
    .option('--timeout <duration>', 'how long to wait for the daemon to finish, such as 60s or 5m (default: 60s, or for a client of a NameNode as long as its stop may wait for that NameNode, if longer)')
    .action(async (given: string, opts: { timeout?: string; force?: boolean }) => {
      // Checked before anything is asked; how long to wait for the stop is decided once the daemon answered (stopWaitMs).
      const timeoutMs = parseDuration(opts.timeout ?? DEFAULT_TIMEOUT, '--timeout', { minMs: 1000 })
      const mountpoint = await canonicalMountpoint(given)
      const force = opts.force === true
      const daemon = await daemonFor(mountpoint)
      if (daemon) {
        // --timeout is the whole wait: for the daemon's answer (which comes once the kernel let the
        // mount go, fusermount being a process to start on a busy machine) and then for its exit.
        const started = Date.now()
        const answer = await askToStop(daemon, mountpoint, force, timeoutMs)
        const waitMs = stopWaitMs(opts.timeout, answer)
        while (isAlive(daemon.pid)) {
          if (Date.now() > started + waitMs) throw await notStoppedInTime(daemon.pid, mountpoint, formatDuration(waitMs))
          await new Promise(resolve => setTimeout(resolve, 100))
        }
        // The daemon unmounts before it exits; if that failed (it logged why), clear what is left.
        if ((await mountsAt(mountpoint)).some(isDfsMount)) await clearStaleMount(mountpoint)
        const lost = stopLossError(mountpoint, await takeStopLoss(mountpoint))
        if (lost) throw lost
        console.log(`dfs: unmounted ${mountpoint}`)
        return
      }
      const mounts = await mountsAt(mountpoint)
      if (!mounts.some(isDfsMount)) {
        throw dfsError('NOT_MOUNTED', `nothing from dfs is mounted at ${mountpoint}; \`findmnt -t fuse.dfs\` lists dfs mounts`, { mountpoint })
      }
      // No record here is not proof of death: the daemon may be listed in another runtime folder
      // (another user, sudo, DFS_RUNTIME_DIR). Only a mount whose connection is gone is stale.
      const answer = await probeMount(mountpoint)
      if (answer !== 'ENOTCONN') {
        if (!force) throw await unlistedDaemon(mountpoint, answer)
        await clearStaleMount(mountpoint, false)
        console.log(`dfs: detached ${mountpoint}; the daemon that served it (not listed in ${runtimeDir()}) stores what it buffered and exits`)
        return
      }
      await clearStaleMount(mountpoint)
      console.log(`dfs: cleared stale mount at ${mountpoint}`)
    })
}

/** A live mount whose daemon this caller's runtime folder does not list: refuse, and say why and how to go on. */
async function unlistedDaemon(mountpoint: string, answer: string) {
  if (answer === 'no answer') return daemonNotAnswering(mountpoint, undefined)
  const users = describeUsers(await processesUsing(mountpoint))
  const inUse = users ? `; it is in use by ${users}` : ''
  return dfsError('DAEMON_NOT_LISTED',
    `${mountpoint} is served by a live dfs daemon that ${runtimeDir()} does not list (the runtime folder depends on the user and DFS_RUNTIME_DIR)${inUse}; run dfs unmount as the user (and with the DFS_RUNTIME_DIR) that mounted it, or detach it anyway with \`dfs unmount --force ${mountpoint}\``,
    { mountpoint, runtimeDir: runtimeDir() })
}

const DEFAULT_TIMEOUT = '60s'

/** What the daemon answers `unmount`: its pid, and for a NameNode's client how long its stop may wait for that NameNode (ms). */
export interface StopAnswer {
  pid?: number
  stopMayTakeMs?: number
}

/**
 * How long `dfs unmount` waits for the daemon to stop, from when it asked: --timeout as given; by
 * default 60 s, or longer where the daemon says its stop may take longer (a NameNode's client whose
 * NameNode is gone waits its --namenode-timeout for it: giving up first would leave the user
 * without the list of files whose bytes it dropped).
 */
export function stopWaitMs(given: string | undefined, answer: StopAnswer | undefined): number {
  const timeoutMs = parseDuration(given ?? DEFAULT_TIMEOUT, '--timeout', { minMs: 1000 })
  if (given !== undefined) return timeoutMs
  const mayTake = answer?.stopMayTakeMs
  return typeof mayTake === 'number' && Number.isFinite(mayTake) ? Math.max(timeoutMs, mayTake) : timeoutMs
}

/**
 * Ask the daemon to unmount and stop; returns once it has agreed (it then stores, checkpoints and
 * exits), with its answer (none from a daemon too old to have the command). The daemon's own unmount
 * is the authority on "busy" (the kernel refuses); the scan of /proc before it is what lets the
 * message name the processes.
 */
async function askToStop(daemon: DaemonRecord, mountpoint: string, force: boolean, timeoutMs: number): Promise<StopAnswer | undefined> {
  if (await isStopped(daemon.pid)) {
    if (!force) throw await daemonNotAnswering(mountpoint, daemon.pid)
    // It cannot answer; detach the mount for it. It stores what it buffered and exits once continued.
    await clearStaleMount(mountpoint, false)
    process.kill(daemon.pid, 'SIGTERM')
    throw dfsError('DAEMON_NOT_ANSWERING',
      `detached ${mountpoint}, but its daemon (pid ${daemon.pid}) is stopped: it stores what it buffered and exits once continued (kill -CONT ${daemon.pid}), or kill it`,
      { mountpoint, pid: daemon.pid })
  }
  if (!force) {
    const users = await processesUsing(mountpoint)
    if (users.length > 0) throw busy(mountpoint, describeUsers(users))
  }
  try {
    const answer = await callControl(daemon.control, 'unmount', { force }, timeoutMs)
    return typeof answer === 'object' && answer !== null ? answer as StopAnswer : undefined
  } catch (err) {
    if (isDfsError(err) && err.code === 'MOUNT_BUSY') {
      throw busy(mountpoint, describeUsers(await processesUsing(mountpoint)) || 'a process that has just opened a file there')
    }
    if (isDfsError(err) && err.code === 'ETIMEDOUT') throw await daemonNotAnswering(mountpoint, daemon.pid)
    // A daemon without the unmount command (started by an older dfs): SIGTERM detaches lazily.
    process.kill(daemon.pid, 'SIGTERM')
    return undefined
  }
}

/** The daemon agreed to stop but is still storing (a slow or hanging node): say where to look and how to go on. */
export async function notStoppedInTime(pid: number, mountpoint: string, timeout: string) {
  // A daemon started with --foreground (or --log-dir elsewhere) has no log file here: say only what exists.
  const log = join(mountLogFolder(mountpoint), 'current.log')
  const see = (await pathExists(log)) ? `; its log is ${log}` : ''
  return dfsError('EIO', `the dfs daemon (pid ${pid}) did not stop within ${timeout}${see}; run dfs unmount again with a longer --timeout, or end it with kill -9 ${pid} (writes it still buffers are lost)`, { pid })
}

function busy(mountpoint: string, users: string) {
  return dfsError('MOUNT_BUSY',
    `${mountpoint} is busy: ${users}; close those files and leave those folders, or detach it now with \`dfs unmount --force ${mountpoint}\``,
    { mountpoint })
}

/** No daemon serves the mount any more (it died, or its unmount failed): a lazy unmount clears it. */
async function clearStaleMount(mountpoint: string, forget = true): Promise<void> {
  await run('fusermount', ['-uz', mountpoint]).catch(() => run('umount', ['-l', mountpoint]))
  if (forget) await unregisterDaemon(mountpoint)
}
