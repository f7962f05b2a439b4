// filePlacement(): where a file's chunks are and how each copy stands, from the NameNode's state
// alone (namespace, node registry, the healer's bad copies, the scrubber's verifications).

import { describe, expect, it } from 'vitest'
import { NodeRegistry } from '../../src/chunks/NodeRegistry.js'
import type { DataNode } from '../../src/datanode/DataNode.js'
import { namespaceMachine } from '../../src/meta/namespace/machine.js'
import { ROOT_INO, S_IFDIR, S_IFREG, type ChunkRef } from '../../src/meta/namespace/types.js'
import { filePlacement, type PlacementSources } from '../../src/namenode/filePlacement.js'
import { inodeAtPath } from '../../src/meta/namespace/lookup.js'
import { VerifiedCopies } from '../../src/cluster/healer/VerifiedCopies.js'

const CHUNK = 1024
const id = (n: number) => n.toString(16).padStart(32, '0')
const ref = (n: number, nodes: string[], len = CHUNK): ChunkRef => ({ id: id(n), len, sha256: 'ab'.repeat(32), nodes })

function world() {
  let now = 1_000_000
  const registry = new NodeRegistry({ now: () => now })
  for (const n of ['a', 'b', 'c']) registry.add({ nodeId: n, address: `/nodes/${n}` } as unknown as DataNode)
  const machine = namespaceMachine({ uid: 0, gid: 0, createdAt: 0 })
  const state = machine.empty()
  const file = machine.apply(state, { op: 'mknod', parent: ROOT_INO, name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }) as { ino: number }
  machine.apply(state, { op: 'mknod', parent: ROOT_INO, name: 'd', mode: S_IFDIR | 0o755, uid: 0, gid: 0, time: 1 })
  // chunk 0 on a and b; chunk 1 a hole; chunk 2 on b and c, 100 bytes long.
  machine.apply(state, { op: 'chunk', ino: file.ino, index: 0, ref: ref(1, ['a', 'b']), size: CHUNK, mtime: 2, ctime: 2 })
  machine.apply(state, { op: 'chunk', ino: file.ino, index: 2, ref: ref(2, ['b', 'c'], 100), size: 2 * CHUNK + 100, mtime: 2, ctime: 2 })
  const bad = new Set<string>()
  const verified = new VerifiedCopies()
  const sources = (): PlacementSources => ({
    state, registry, chunkSize: CHUNK, replicas: 2, graceMs: 10_000, now,
    isBadCopy: (nodeId, chunkId) => bad.has(`${nodeId}/${chunkId}`),
    verifiedAt: (chunkId, nodeId) => verified.get(chunkId, nodeId),
  })
  return { state, registry, bad, verified, sources, ino: file.ino, tick: (ms: number) => { now += ms } }
}

describe('filePlacement', () => {
  it('lists each written chunk with its offset, length, hash and copies; holes are left out', () => {
    const w = world()
    const p = filePlacement(w.sources(), w.ino, '/f')
    expect(p).toMatchObject({ path: '/f', ino: w.ino, type: 'file', size: 2 * CHUNK + 100, chunkSize: CHUNK, replicas: 2 })
    expect(p.chunks.map(c => [c.index, c.id, c.offset, c.length, c.intact])).toEqual([[0, id(1), 0, CHUNK, 2], [2, id(2), 2 * CHUNK, 100, 2]])
    expect(p.chunks[0].copies).toEqual([
      { nodeId: 'a', address: '/nodes/a', node: 'alive', state: 'ok' },
      { nodeId: 'b', address: '/nodes/b', node: 'alive', state: 'ok' },
    ])
  })

  it('a copy the healer knows bad is bad; one on a suspect or dead node is unreachable; neither counts', () => {
    const w = world()
    w.bad.add(`a/${id(1)}`)
    w.registry.markSuspect('c', 'no heartbeat')
    let p = filePlacement(w.sources(), w.ino)
    expect(p.chunks[0].copies.map(c => c.state)).toEqual(['bad', 'ok'])
    expect(p.chunks[0].intact).toBe(1)
    expect(p.chunks[1].copies.map(c => [c.nodeId, c.node, c.state])).toEqual([['b', 'alive', 'ok'], ['c', 'suspect', 'unreachable']])
    w.registry.markDead('c', 'gone')
    w.tick(60_000) // past the grace period too: still unreachable (not bad: nobody found it corrupt)
    p = filePlacement(w.sources(), w.ino)
    expect(p.chunks[1].copies[1]).toMatchObject({ node: 'dead', state: 'unreachable' })
    expect(p.chunks[1].intact).toBe(1)
  })

  it('a copy on a node the registry does not know is unreachable, address ?', () => {
    const w = world()
    w.registry.remove('c')
    const copy = filePlacement(w.sources(), w.ino).chunks[1].copies[1]
    expect(copy).toMatchObject({ nodeId: 'c', address: '?', node: 'unknown', state: 'unreachable' })
  })

  it('shows when each copy was last verified (whole seconds)', () => {
    const w = world()
    w.verified.record(id(1), 'b', 1_234_567)
    const [a, b] = filePlacement(w.sources(), w.ino).chunks[0].copies
    expect(a.verifiedAt).toBeUndefined()
    expect(b.verifiedAt).toBe(1_234_000)
  })

  it('a full or draining node says so; its copies still count', () => {
    const w = world()
    w.registry.markFull('a')
    w.registry.setDraining('b', true)
    const copies = filePlacement(w.sources(), w.ino).chunks[0].copies
    expect(copies.map(c => [c.node, c.state])).toEqual([['full', 'ok'], ['draining', 'ok']])
  })

  it('a directory has an inode and no chunks; a missing inode is ENOENT', () => {
    const w = world()
    const dir = inodeAtPath(w.state, '/d')
    expect(filePlacement(w.sources(), dir, '/d')).toMatchObject({ type: 'dir', chunks: [] })
    expect(() => filePlacement(w.sources(), 9999)).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    expect(() => inodeAtPath(w.state, '/nope')).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    expect(() => inodeAtPath(w.state, '/f/x')).toThrow(expect.objectContaining({ code: 'ENOTDIR' }))
  })

  it('a namespace path resolves as in a mount: ".." is the parent, a file followed by "/" or ".." is not a directory', () => {
    const w = world()
    const f = inodeAtPath(w.state, '/f')
    expect(inodeAtPath(w.state, '/d/../f')).toBe(f)
    expect(inodeAtPath(w.state, '/../d/./../f')).toBe(f)
    expect(inodeAtPath(w.state, '/d/..')).toBe(inodeAtPath(w.state, '/'))
    expect(inodeAtPath(w.state, '/d/')).toBe(inodeAtPath(w.state, '/d'))
    for (const path of ['/f/', '/f/..', '/f/.']) expect(() => inodeAtPath(w.state, path)).toThrow(expect.objectContaining({ code: 'ENOTDIR' }))
  })
})

describe('VerifiedCopies', () => {
  it('keeps a time per copy, forgets a copy that failed, and drops chunks a whole pass did not touch', () => {
    const v = new VerifiedCopies()
    v.record('c1', 'a', 5_000)
    v.record('c1', 'b', 6_000)
    v.record('c2', 'a', 7_000)
    v.record('c1', 'a', 8_000)
    expect([v.get('c1', 'a'), v.get('c1', 'b'), v.get('c2', 'a'), v.get('c2', 'b')]).toEqual([8_000, 6_000, 7_000, undefined])
    v.forgetCopy('c1', 'b')
    expect(v.get('c1', 'b')).toBeUndefined()
    v.prune() // both recorded in this pass: kept
    expect(v.size).toBe(2)
    v.touch('c1') // c2 was deleted: the next pass does not walk past it
    v.prune()
    expect(v.size).toBe(1)
    expect(v.get('c2', 'a')).toBeUndefined()
    v.record('c3', 'a', 9_000) // reuses c2's slot, with nothing of c2's left in it
    expect([v.get('c3', 'a'), v.get('c3', 'b'), v.get('c1', 'a')]).toEqual([9_000, undefined, 8_000])
  })

  it('a chunk verified on more nodes than a slot holds forgets the oldest; many chunks grow the arrays', () => {
    const v = new VerifiedCopies()
    for (const [i, n] of ['a', 'b', 'c', 'd', 'e'].entries()) v.record('c', n, (i + 1) * 1000)
    expect(v.get('c', 'a')).toBeUndefined()
    expect(v.get('c', 'e')).toBe(5000)
    for (let i = 0; i < 5000; i++) v.record(`k${i}`, 'a', i * 1000)
    expect(v.get('k4321', 'a')).toBe(4_321_000)
    expect(v.get('c', 'b')).toBe(2000)
  })
})

describe('filePlacement of a range of chunks', () => {
  it('looks at those chunks only (a page of a 1 TiB file must not cost the whole file), and says where the rest begin', () => {
    const w = world()
    const machine = namespaceMachine({ uid: 0, gid: 0, createdAt: 0 })
    const big = machine.apply(w.state, { op: 'mknod', parent: ROOT_INO, name: 'big', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }) as { ino: number }
    // 10,000 chunks, every 7th a hole.
    for (let index = 0; index < 10_000; index++) {
      if (index % 7 === 3) continue
      machine.apply(w.state, { op: 'chunk', ino: big.ino, index, ref: ref(100 + index, ['a', 'b']), size: (index + 1) * CHUNK, mtime: 2, ctime: 2 })
    }
    let asked = 0
    const sources = { ...w.sources(), verifiedAt: () => { asked++; return undefined } }
    const first = filePlacement(sources, big.ino, '/big', { from: 0, limit: 5 })
    expect(first.chunks.map(c => c.index)).toEqual([0, 1, 2, 4, 5])
    expect(first.next).toBe(6)
    expect(asked).toBe(5 * 2) // one look per copy of the page's chunks, not of all 10,000
    const second = filePlacement(sources, big.ino, '/big', { from: first.next!, limit: 3 })
    expect(second.chunks.map(c => c.index)).toEqual([6, 7, 8])
    expect(second.next).toBe(9)
    const last = filePlacement(sources, big.ino, '/big', { from: 9997, limit: 5 })
    expect(last.chunks.map(c => c.index)).toEqual([9997, 9998]) // 9999 is a hole
    expect(last.next).toBeUndefined()
    expect(filePlacement(sources, big.ino, '/big', { from: 1e12, limit: 5 }).chunks).toEqual([])
    // Without a range: every chunk, no next (dfs info, the xattr).
    const all = filePlacement(w.sources(), big.ino, '/big')
    expect(all.chunks).toHaveLength(10_000 - Math.floor(10_000 / 7) - (10_000 % 7 > 3 ? 1 : 0))
    expect(all.next).toBeUndefined()
  })
})
