// Journal records in the user's words: paths, not inode numbers, followed through the records
// themselves (a file created, moved and written among the lost records is named as it was then).

import { describe, expect, it } from 'vitest'
import { namespaceDescriber } from '../../src/meta/namespace/describe.js'
import { namespaceMachine } from '../../src/meta/namespace/machine.js'
import type { NamespaceRecord } from '../../src/meta/namespace/records.js'

const machine = namespaceMachine({ uid: 0, gid: 0, createdAt: 0 })
const t = 1

describe('namespace record descriptions', () => {
  it('names paths through creations, renames and writes', () => {
    const state = machine.empty()
    machine.apply(state, { op: 'mknod', parent: 1, name: 'docs', mode: 0o40755, uid: 0, gid: 0, time: t }) // ino 2
    const describer = namespaceDescriber()
    const records: NamespaceRecord[] = [
      { op: 'mknod', parent: 2, name: 'a.txt', mode: 0o100644, uid: 0, gid: 0, time: t }, // ino 3
      { op: 'chunk', ino: 3, index: 0, ref: null, size: 10, mtime: t, ctime: t },
      { op: 'mknod', parent: 1, name: 'archive', mode: 0o40755, uid: 0, gid: 0, time: t }, // ino 4
      { op: 'rename', parent: 2, name: 'a.txt', newParent: 4, newName: 'b.txt', time: t },
      { op: 'truncate', ino: 3, size: 0, keep: 0, mtime: t, ctime: t },
      { op: 'rename', parent: 1, name: 'archive', newParent: 2, newName: 'old', time: t },
      { op: 'setattr', ino: 3, mode: 0o100600, ctime: t },
      { op: 'unlink', parent: 2, name: 'old', dir: true, time: t },
      { op: 'mknod', parent: 1, name: 'link', mode: 0o120777, uid: 0, gid: 0, target: 'x', time: t },
      { op: 'forget', ino: 99 },
    ]
    const said = records.map((r) => {
      const d = describer.describe(state, r)
      try {
        machine.apply(state, r)
        describer.applied?.(state, r)
      } catch {
        // the unlink of a non-empty directory is refused: described all the same
      }
      return d.what
    })
    expect(said).toEqual([
      'create file /docs/a.txt',
      'write /docs/a.txt chunk 0 (file size 10)',
      'create directory /archive',
      'rename /docs/a.txt to /archive/b.txt',
      'truncate /archive/b.txt to 0 bytes',
      'rename /archive to /docs/old',
      'change mode of /docs/old/b.txt',
      'remove directory /docs/old',
      'create symlink /link',
      'drop inode 99',
    ])
  })

  it('names a parent it does not know as (inode N), and refuses a record missing a field rather than saying /undefined', () => {
    const state = machine.empty()
    const describer = namespaceDescriber()
    expect(describer.describe(state, { op: 'mknod', parent: 22, name: 'f1', mode: 0o100644, uid: 0, gid: 0, time: t })).toEqual({ what: 'create file (inode 22)/f1', paths: [] })
    // A flipped byte in "name" leaves the JSON readable but the field gone.
    const damaged = { op: 'unlink', parent: 1, nbme: 'f1', dir: false, time: t } as unknown as NamespaceRecord
    expect(() => describer.describe(state, damaged)).toThrow('unlink without name')
  })
})
