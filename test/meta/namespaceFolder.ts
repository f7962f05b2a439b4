// A namespace metadata folder built through the MetaStore and the namespace state machine, with no
// DataNode and no FUSE: what dump, load and backup tests start from.

import { MetaStore } from '../../src/meta/MetaStore.js'
import { namespaceMachine } from '../../src/meta/namespace/machine.js'
import type { ApplyResult } from '../../src/meta/namespace/apply.js'
import type { NamespaceRecord } from '../../src/meta/namespace/records.js'
import type { Inode, NamespaceState } from '../../src/meta/namespace/types.js'

export type NamespaceStore = MetaStore<NamespaceState, NamespaceRecord, ApplyResult>

export const SETTINGS = { chunkSize: 4096, replicas: 2, createdAt: 1_700_000_000_000, nodes: [] as unknown[] }
export const machine = () => namespaceMachine({ uid: 0, gid: 0, createdAt: SETTINGS.createdAt })

export function openNamespace(dir: string, options: { readOnly?: boolean } = {}): Promise<NamespaceStore> {
  return MetaStore.open(dir, machine(), { create: { settings: SETTINGS }, checkpointEvery: { records: 1e9 }, ...options })
}

let chunkCounter = 0
const hex = (n: number, len: number) => n.toString(16).padStart(len, '0')

/** A chunk ref of made-up bytes (no DataNode holds them: the namespace only records them). */
export function fakeRef(len = 4096) {
  chunkCounter++
  return { id: hex(chunkCounter, 32), len, sha256: hex(chunkCounter, 64), nodes: ['n1', 'n2'] }
}

/** A small tree with every kind of thing the namespace records. */
export function buildSample(store: NamespaceStore): void {
  const t = 1_700_000_100_000
  const mk = (parent: number, name: string, mode: number, extra: Partial<{ target: string; uid: number; gid: number; rdev: number }> = {}) =>
    (store.commit({ op: 'mknod', parent, name, mode, uid: extra.uid ?? 1000, gid: extra.gid ?? 1000, time: t, ...extra }) as Inode).ino
  const dir = mk(1, 'dir', 0o040755)
  const file = mk(dir, 'file.bin', 0o100644)
  store.commit({ op: 'chunk', ino: file, index: 0, ref: fakeRef(), size: 4096, mtime: t, ctime: t })
  store.commit({ op: 'chunk', ino: file, index: 2, ref: fakeRef(100), size: 8292, mtime: t, ctime: t }) // a hole at chunk 1
  mk(dir, 'empty', 0o100600, { uid: 0, gid: 0 })
  store.commit({ op: 'link', parent: 1, name: 'hardlink', ino: file, time: t })
  mk(1, 'symlink', 0o120777, { target: 'dir/file.bin' })
  store.commit({ op: 'xattr', ino: file, name: 'user.note', value: Buffer.from('hello').toString('base64'), flags: 0, time: t })
  store.commit({ op: 'setattr', ino: file, atime: 1_600_000_000_000, mtime: 1_600_000_000_000, ctime: t })
  const sparse = mk(1, 'sparse', 0o100644)
  store.commit({ op: 'truncate', ino: sparse, size: 1 << 30, keep: 0, mtime: t, ctime: t })
  mk(1, 'ünïcode name ✓', 0o100644)
  const gone = mk(1, 'gone', 0o100644)
  store.commit({ op: 'unlink', parent: 1, name: 'gone', dir: false, time: t })
  store.commit({ op: 'forget', ino: gone })
}
