// The namespace's checkpoint capture (machine.ts snapshot) at scale: what it does synchronously must
// not grow with the number of directory entries (the file system waits meanwhile), and the pieces it
// yields later must still be the namespace as it was when it was taken. Counting, never timing.

import { describe, expect, it } from 'vitest'
import { writeCheckpoint } from '../../src/meta/Checkpoint.js'
import { namespaceMachine } from '../../src/meta/namespace/machine.js'
import type { Inode, NamespaceState } from '../../src/meta/namespace/types.js'
import { tempDir } from './kv.js'
import { buildSample, machine as folderMachine, openNamespace } from './namespaceFolder.js'

const machine = namespaceMachine({ uid: 0, gid: 0, createdAt: 0 })
const S_IFREG = 0o100000
const S_IFDIR = 0o040000

/** A directory map that counts how often something walks its entries. */
class CountingMap extends Map<string, number> {
  walks = 0
  override entries() {
    this.walks++
    return super.entries()
  }
  override keys() {
    this.walks++
    return super.keys()
  }
  override values() {
    this.walks++
    return super.values()
  }
  override [Symbol.iterator]() {
    this.walks++
    return super[Symbol.iterator]()
  }
  override forEach(...args: Parameters<Map<string, number>['forEach']>) {
    this.walks++
    super.forEach(...args)
  }
}

function namespaceWith(files: number): NamespaceState {
  const state = machine.empty()
  machine.apply(state, { op: 'mknod', parent: 1, name: 'dir', mode: S_IFDIR | 0o755, uid: 0, gid: 0, time: 1 }) // ino 2
  for (let i = 0; i < files; i++) machine.apply(state, { op: 'mknod', parent: 2, name: `f${i}`, mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 })
  return state
}

const entriesIn = (pieces: Iterable<unknown>, dir: number) =>
  [...pieces].filter((p): p is ['d', number, string, number] => Array.isArray(p) && p[0] === 'd' && p[1] === dir).map(p => p[2]).sort()

describe('namespace snapshot', () => {
  it('walks no directory entries when taken, only when its pieces are read', () => {
    const state = namespaceWith(1000)
    const counting = new CountingMap(state.children.get(2))
    state.children.set(2, counting)
    const pieces = machine.snapshot(state)
    expect(counting.walks).toBe(0)
    expect(entriesIn(pieces, 2)).toHaveLength(1000)
    expect(counting.walks).toBe(1)
  })

  it('yields the entries as they were when taken while records change them, and lets go once read', () => {
    const state = namespaceWith(3)
    const pieces = machine.snapshot(state)[Symbol.iterator]()
    const live = state.children.get(2)!
    machine.apply(state, { op: 'mknod', parent: 2, name: 'new', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 2 })
    machine.apply(state, { op: 'unlink', parent: 2, name: 'f0', dir: false, time: 2 })
    machine.apply(state, { op: 'rename', parent: 2, name: 'f1', newParent: 1, newName: 'moved', time: 2 })
    machine.apply(state, { op: 'mknod', parent: 2, name: 'f0', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 3 }) // a new f0
    // Changed in place: no copy of the directory.
    expect(state.children.get(2)).toBe(live)
    expect([...live.keys()].sort()).toEqual(['f0', 'f2', 'new'])

    const rest: unknown[] = []
    for (let next = pieces.next(); !next.done; next = pieces.next()) rest.push(next.value)
    expect(entriesIn(rest, 2)).toEqual(['f0', 'f1', 'f2'])
    expect(entriesIn(rest, 1)).toEqual(['dir'])
    const f0 = rest.find(p => Array.isArray(p) && p[0] === 'd' && p[2] === 'f0') as ['d', number, string, number]
    expect(f0[3]).toBe(3) // the f0 there was, not the new one
    // Restored, it is the namespace as of the snapshot.
    const restored = machine.restore(rest)
    expect([...restored.children.get(2)!.keys()].sort()).toEqual(['f0', 'f1', 'f2'])
    expect(state.captures).toBeUndefined()
  })

  it('copies nothing of a large directory when a change comes while a checkpoint reads it', () => {
    const state = namespaceWith(1000)
    const counting = new CountingMap(state.children.get(2))
    state.children.set(2, counting)
    const pieces = machine.snapshot(state)[Symbol.iterator]()
    pieces.next()
    for (let i = 0; i < 10; i++) machine.apply(state, { op: 'mknod', parent: 2, name: `late${i}`, mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 2 })
    machine.apply(state, { op: 'unlink', parent: 2, name: 'f5', dir: false, time: 2 })
    expect(counting.walks).toBe(0)
    const rest: unknown[] = []
    for (let next = pieces.next(); !next.done; next = pieces.next()) rest.push(next.value)
    const names = entriesIn(rest, 2)
    expect(names).toHaveLength(1000)
    expect(names).toContain('f5')
    expect(names.some(n => n.startsWith('late'))).toBe(false)
  })

  it('restores chunk references that name the same nodes with one shared node list', () => {
    const state = namespaceWith(2)
    const nodes = ['node-a', 'node-b']
    for (const ino of [3, 4]) {
      machine.apply(state, { op: 'chunk', ino, index: 0, ref: { id: `c${ino}`, len: 1, sha256: '0'.repeat(64), nodes: [...nodes] }, size: 1, mtime: 1, ctime: 1 })
    }
    // Through JSON, as a checkpoint is read: every list is an array of its own until restored.
    const pieces = JSON.parse(JSON.stringify([...machine.snapshot(state)])) as unknown[]
    const restored = machine.restore(pieces)
    const [a, b] = [3, 4].map(ino => (restored.inodes.get(ino) as Inode).chunks![0]!)
    expect(a.nodes).toEqual(nodes)
    expect(a.nodes).toBe(b.nodes)
    expect(Object.isFrozen(a) && Object.isFrozen(a.nodes)).toBe(true)
    // and the live namespace shares them the same way
    expect((state.inodes.get(3) as Inode).chunks![0]!.nodes).toBe((state.inodes.get(4) as Inode).chunks![0]!.nodes)
  })
})

describe('namespace store open (the checkpoint streamed into the namespace)', () => {
  it('reopens from its checkpoint, and calls a checkpoint that reads whole but does not restore corrupt', async () => {
    const dir = await tempDir()
    const store = await openNamespace(dir)
    buildSample(store)
    const expected = JSON.stringify([...folderMachine().snapshot(store.state)])
    await store.close({ checkpoint: true })
    const again = await openNamespace(dir)
    expect(JSON.stringify([...folderMachine().snapshot(again.state)])).toEqual(expected)
    await again.close()

    // Whole and hashed right, but an entry in a directory it does not have.
    await writeCheckpoint(dir, again.lastSeq, [{ nextIno: 3 }, ['i', folderMachine().empty().inodes.get(1)], ['d', 2, 'lost', 3]])
    await expect(openNamespace(dir)).rejects.toMatchObject({ code: 'CHECKPOINT_CORRUPT', message: expect.stringContaining('does not restore') })
  })
})

describe('a checkpoint that fails before writing a piece', () => {
  it('stops noting changes for the capture it took', async () => {
    const { mkdir } = await import('node:fs/promises')
    const { join } = await import('node:path')
    const dir = await tempDir()
    const store = await openNamespace(dir)
    buildSample(store)
    await mkdir(join(dir, 'checkpoint.json.tmp')) // its temp file cannot be opened for writing
    await expect(store.checkpoint()).rejects.toThrow()
    expect(store.state.captures).toBeUndefined()
    await store.close()
  })
})

describe('a snapshot no one reads', () => {
  it('stops being kept up once it is garbage', async () => {
    const v8 = await import('node:v8')
    const vm = await import('node:vm')
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as () => void
    const state = namespaceWith(10)
    ;(() => {
      machine.snapshot(state) // never read: its writer failed before the first piece, say
    })()
    expect(state.captures?.size).toBe(1)
    for (let i = 0; i < 20 && state.captures; i++) {
      gc()
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    expect(state.captures).toBeUndefined()
  })
})
