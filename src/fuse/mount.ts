// Mounting and unmounting through fuse-native, with the options dfs needs.

import Fuse from 'fuse-native'
import type { FileSystem } from '../fs/FileSystem.js'
import { dfsError } from '../errors.js'
import { fuseOperations } from './operations.js'

/**
 * fuse-native names only some libfuse options; the rest are appended to the `-o` string it builds in
 * its private `_fuseOptions()` (stable in the pinned 2.2.6):
 * - big_writes: 128 KiB writes instead of 4 KiB ones (7x the sequential write throughput).
 * - use_ino: st_ino is ours, so hard links show one inode number.
 */
class DfsFuse extends Fuse {
  override _fuseOptions(): string {
    const base = super._fuseOptions()
    const extra = ['big_writes', 'use_ino'].join(',')
    return base ? `${base},${extra}` : `-o${extra}`
  }
}

export interface MountOptions {
  log: (message: string) => void
  /** Per-operation limit (ms) after which fuse-native answers ETIMEDOUT; above any failover time. */
  opTimeoutMs?: number
  debug?: boolean
}

export interface Mounted {
  readonly mountpoint: string
  unmount(): Promise<void>
}

export async function mountFileSystem(mountpoint: string, fs: FileSystem, opts: MountOptions): Promise<Mounted> {
  const root = process.getuid?.() === 0
  const fuse = new DfsFuse(mountpoint, fuseOperations(fs, opts.log), {
    fsname: 'dfs',
    subtype: 'dfs',
    // The kernel removes the mount if the daemon dies, so a crash never leaves a stale mount behind.
    autoUnmount: true,
    // Clears a stale mount (daemon killed before auto_unmount could act) before mounting again.
    force: true,
    // Other users may use the mount; the kernel checks permission bits for them.
    allowOther: root,
    defaultPermissions: root,
    timeout: opts.opTimeoutMs ?? 60_000,
    debug: opts.debug ?? false,
  })
  await new Promise<void>((resolve, reject) => {
    fuse.mount(err => (err ? reject(dfsError('MOUNTPOINT_INVALID', `cannot mount ${mountpoint}: ${err.message}`, { mountpoint }, err)) : resolve()))
  })
  let unmounting: Promise<void> | undefined
  return {
    mountpoint,
    unmount() {
      unmounting ??= new Promise<void>((resolve, reject) => {
        fuse.unmount(err => (err ? reject(dfsError('EIO', `cannot unmount ${mountpoint}: ${err.message}`, { mountpoint }, err)) : resolve()))
      })
      return unmounting
    },
  }
}
