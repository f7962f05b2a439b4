// What `dfs status | balance | drain | fsck` talk to: the daemon of a local mount, over its control
// socket (daemon/control.ts), or a NameNode named by `--namenode tcp://… --secret-file <f>`, over the
// NameNode protocol as a tool (client/callNameNode.ts). Both answer the same control commands with the
// same results, so every command prints the same either way; only how a hint names the target differs.

import { callControl } from '../daemon/control.js'
import type { DaemonRecord } from '../daemon/registry.js'
import { readSecretFile } from '../datanode/tcp/secret.js'
import { connectTool } from '../client/callNameNode.js'
import { dfsError } from '../errors.js'
import { namenodeAddresses } from './mount.js'
import { findDaemon } from './status.js'

export interface ControlTarget {
  /** In sentences: `the daemon serving /mnt/dfs`, `the NameNode at tcp://10.0.0.1:7000`. */
  readonly what: string
  /** On a command line, to name the same target again: `/mnt/dfs`, `--namenode tcp://… --secret-file s`. */
  readonly cli: string
  /** The local daemon, when the target is one. */
  readonly daemon?: DaemonRecord
  /** The NameNode's address, when the target is one. */
  readonly namenode?: string
  call(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<unknown>
  close(): void
}

export interface TargetFlags {
  namenode?: string
  secretFile?: string
}

/** The --namenode and --secret-file options, as status, balance and drain take them. */
export const NAMENODE_OPTION = ['--namenode <address>', 'a NameNode (tcp://host:port, as dfs namenode --listen; then standbys, comma-separated) instead of a local mount'] as const
export const SECRET_OPTION = ['--secret-file <file>', 'with --namenode: the cluster secret'] as const

/** The target a command names: `--namenode`, else the mount holding `mountpoint` (see findDaemon). */
export async function openTarget(mountpoint: string | undefined, flags: TargetFlags): Promise<ControlTarget> {
  if (flags.namenode === undefined) {
    if (flags.secretFile !== undefined) throw dfsError('BAD_ARGUMENT', '--secret-file goes with --namenode tcp://host:port; a local mount needs no secret (drop it, or add --namenode)')
    const daemon = await findDaemon(mountpoint)
    return {
      what: `the daemon serving ${daemon.mountpoint}`,
      cli: daemon.mountpoint,
      daemon,
      call: (cmd, args = {}, timeoutMs) => callControl(daemon.control, cmd, args, timeoutMs),
      close: () => {},
    }
  }
  if (mountpoint !== undefined) {
    throw dfsError('BAD_ARGUMENT', `give a mount point or --namenode, not both (${mountpoint} and --namenode ${flags.namenode})`, { mountpoint })
  }
  const addresses = namenodeAddresses(flags.namenode, '--namenode')
  if (flags.secretFile === undefined) throw dfsError('BAD_ARGUMENT', '--namenode needs --secret-file: the cluster secret the NameNode and its clients share', {})
  const secret = await readSecretFile(flags.secretFile)
  const tool = await connectTool(addresses, secret)
  return {
    what: `the NameNode at ${tool.address}`,
    cli: `--namenode ${flags.namenode} --secret-file ${flags.secretFile}`,
    namenode: tool.address,
    call: (cmd, args = {}, timeoutMs) => tool.control(cmd, args, timeoutMs),
    close: () => tool.close(),
  }
}

/** Run `fn` with the target open, and close it after (a tool connection would keep the command alive). */
export async function withTarget<T>(mountpoint: string | undefined, flags: TargetFlags, fn: (target: ControlTarget) => Promise<T>): Promise<T> {
  const target = await openTarget(mountpoint, flags)
  try {
    return await fn(target)
  } finally {
    target.close()
  }
}
