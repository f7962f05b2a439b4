// The NameNode's namespace service across sessions: an inode that lost its last name lives until its
// last open anywhere is gone; chunks are deleted only by the NameNode, only once the record that
// dropped them is durable, and never while a file references them.

import { describe, expect, it } from 'vitest'
import { NameNode } from '../../src/namenode/NameNode.js'
import { dfsError } from '../../src/errors.js'
import { S_IFREG, type ChunkRef, type Inode } from '../../src/meta/namespace/types.js'
import { MemoryStore } from '../fs/fakes.js'

function setup() {
  const meta = new MemoryStore()
  const deleted: string[] = []
  const nameNode = new NameNode({ meta, replicas: 2, deleteChunks: async ids => { deleted.push(...ids) }, log: () => {} })
  return { meta, deleted, nameNode }
}

const ref = (n: number): ChunkRef => ({ id: n.toString(16).padStart(32, '0'), len: 1, sha256: 'a'.repeat(64), nodes: ['n1'] })

describe('NameNode', () => {
  it('keeps an unlinked file while any session has it open, and drops it and its chunks after the last close', async () => {
    const { meta, deleted, nameNode } = setup()
    const a = nameNode.openSession(true)
    const b = nameNode.openSession(true)
    const file = nameNode.commit(a, { op: 'mknod', parent: 1, name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }, { open: true }).result as Inode
    nameNode.commit(a, { op: 'chunk', ino: file.ino, index: 0, ref: ref(1), size: 1, mtime: 2, ctime: 2 })
    nameNode.opened(b, file.ino)
    nameNode.commit(b, { op: 'unlink', parent: 1, name: 'f', dir: false, time: 3 })
    nameNode.closed(a, file.ino)
    expect(meta.state.inodes.has(file.ino)).toBe(true) // b still has it open
    nameNode.endSession(b) // b's client died
    expect(meta.state.inodes.has(file.ino)).toBe(false)
    expect(deleted).toEqual([]) // not before the forget is durable
    await meta.sync()
    await Promise.resolve()
    expect(deleted).toEqual([ref(1).id])
  })

  it('deletes a replaced chunk, and an abandoned one, once what was committed is durable, and never one a file references', async () => {
    const { meta, deleted, nameNode } = setup()
    const s = nameNode.openSession(true)
    const file = nameNode.commit(s, { op: 'mknod', parent: 1, name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }).result as Inode
    nameNode.commit(s, { op: 'chunk', ino: file.ino, index: 0, ref: ref(1), size: 1, mtime: 2, ctime: 2 })
    nameNode.commit(s, { op: 'chunk', ino: file.ino, index: 0, ref: ref(2), size: 1, mtime: 3, ctime: 3 })
    nameNode.abandon([ref(2), ref(3)]) // 2 is referenced: a confused client must not delete it
    await new Promise(resolve => setImmediate(resolve))
    // Not before what is committed is durable (everywhere: a standby may still name an abandoned id).
    expect(deleted).toEqual([])
    await meta.sync()
    await new Promise(resolve => setImmediate(resolve))
    expect(deleted.sort()).toEqual([ref(1).id, ref(3).id])
  })

  it('refuses records that are the NameNode\'s own', () => {
    const { nameNode } = setup()
    const s = nameNode.openSession(true)
    expect(() => nameNode.commit(s, { op: 'forget', ino: 1 } as never)).toThrow(/cannot commit a "forget" record/)
  })

  it('forgets inodes a crash left unnamed only after the grace for clients to say they have them open', () => {
    const { meta, nameNode } = setup()
    const s = nameNode.openSession(true)
    const file = nameNode.commit(s, { op: 'mknod', parent: 1, name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }, { open: true }).result as Inode
    nameNode.commit(s, { op: 'unlink', parent: 1, name: 'f', dir: false, time: 2 })
    // A new NameNode over the same state: the session is gone, as after a restart.
    const restarted = new NameNode({ meta, replicas: 2, deleteChunks: async () => {}, log: () => {} })
    restarted.start(60_000)
    const back = restarted.openSession(true)
    restarted.opened(back, file.ino) // the client came back and said so
    expect(meta.state.inodes.has(file.ino)).toBe(true)
    restarted.closed(back, file.ino)
    expect(meta.state.inodes.has(file.ino)).toBe(false)
    restarted.stop()
  })

  it('a chunk commit sent twice (a resend after a reconnect) never deletes the chunk the file points at', async () => {
    const { meta, deleted, nameNode } = setup()
    const s = nameNode.openSession(true)
    const file = nameNode.commit(s, { op: 'mknod', parent: 1, name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }).result as Inode
    const record = { op: 'chunk' as const, ino: file.ino, index: 0, ref: ref(1), size: 1, mtime: 2, ctime: 2 }
    nameNode.commit(s, record)
    nameNode.commit(s, record)
    await meta.sync()
    await new Promise(resolve => setImmediate(resolve))
    expect(deleted).toEqual([])
  })

  it('a client back after a blip says what it has open: an unnamed file it closed meanwhile goes', () => {
    const { meta, nameNode } = setup()
    const s = nameNode.openSession(true)
    const mk = (name: string) => nameNode.commit(s, { op: 'mknod', parent: 1, name, mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }, { open: true }).result as Inode
    const [kept, closed] = [mk('kept'), mk('closed')]
    for (const name of ['kept', 'closed']) nameNode.commit(s, { op: 'unlink', parent: 1, name, dir: false, time: 2 })
    nameNode.reopen(s, [kept.ino])
    expect(meta.state.inodes.has(kept.ino)).toBe(true)
    expect(meta.state.inodes.has(closed.ino)).toBe(false)
  })

  it('answers a commit with its own record\'s journal seq, not that of the forget it caused', () => {
    const { meta, nameNode } = setup()
    const s = nameNode.openSession(true)
    const made = nameNode.commit(s, { op: 'mknod', parent: 1, name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 })
    expect(made.seq).toBe(meta.lastSeq)
    const unlinked = nameNode.commit(s, { op: 'unlink', parent: 1, name: 'f', dir: false, time: 2 })
    expect(meta.records.map(r => r.op)).toEqual(['mknod', 'unlink', 'forget'])
    expect(unlinked.seq).toBe(2)
    expect(meta.lastSeq).toBe(3)
  })

  it('superseded by a newer NameNode, takes no change and acknowledges no sync, not even one asked for before', async () => {
    const { meta, nameNode } = setup()
    const s = nameNode.openSession(true)
    nameNode.commit(s, { op: 'mknod', parent: 1, name: 'before', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 })
    const pending = nameNode.sync()
    const err = dfsError('SUPERSEDED', 'a newer NameNode (epoch 3) took over the cluster')
    nameNode.supersede(err)
    await expect(pending).rejects.toBe(err)
    expect(() => nameNode.commit(s, { op: 'mknod', parent: 1, name: 'after', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 2 })).toThrow(err)
    await expect(nameNode.sync()).rejects.toBe(err)
    expect([...meta.state.inodes.values()].length).toBe(2) // the root and 'before'
  })
})
