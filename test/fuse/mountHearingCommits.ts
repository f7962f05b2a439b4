// An in-process mount of an in-memory file system that hears every commit, as the embedded daemon's
// does (MetaStore.onCommitted -> onNamespaceChange): what the binding's remembered answers rely on.

import type { FileSystem } from '../../src/fs/FileSystem.js'
import type { NamespaceRecord } from '../../src/meta/namespace/records.js'
import { type MountOptions, type Mounted, mountFileSystem } from '../../src/fuse/mount.js'
import { makeFs } from '../fs/fakes.js'

export async function mountHearingCommits(mnt: string, opts: Partial<MountOptions> = {}): Promise<{ fs: FileSystem; mounted: Mounted }> {
  const made = makeFs()
  const listeners = new Set<(record?: NamespaceRecord) => void>()
  const commit = made.meta.commit.bind(made.meta)
  made.meta.commit = record => {
    const result = commit(record)
    for (const listener of listeners) listener(record)
    return result
  }
  const mounted = await mountFileSystem(mnt, made.fs, {
    log: () => {},
    ...opts,
    onNamespaceChange: listener => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  })
  return { fs: made.fs, mounted }
}
