// Placement of erasure-coded chunks: each chunk says its layout; a stripe lists every shard (index,
// id, length, SHA-256, node, state), each shard's node among its copies; user.dfs.chunks adds a
// line per shard; dfs info prints a line per shard with its node.

import { describe, expect, it } from 'vitest'
import { NodeRegistry } from '../../src/chunks/NodeRegistry.js'
import type { DataNode } from '../../src/datanode/DataNode.js'
import { namespaceMachine } from '../../src/meta/namespace/machine.js'
import { ROOT_INO, S_IFREG, type ChunkRef } from '../../src/meta/namespace/types.js'
import { filePlacement, type PlacementSources } from '../../src/namenode/filePlacement.js'
import { VerifiedCopies } from '../../src/cluster/healer/VerifiedCopies.js'
import { CHUNKS_XATTR, placementXattrValue } from '../../src/fs/placementXattrs.js'
import { formatPlacement } from '../../src/cli/info.js'

const CHUNK = 1024
const id = (n: number) => n.toString(16).padStart(32, '0')
const sha = (n: number) => n.toString(16).padStart(64, '0')
const shard = (n: number, nodes: string[]): ChunkRef => ({ id: id(n), len: 512, sha256: sha(n), nodes })

function world() {
  const registry = new NodeRegistry({ now: () => 1_000_000 })
  for (const n of ['a', 'b', 'c', 'd']) registry.add({ nodeId: n, address: `/nodes/${n}` } as unknown as DataNode)
  const machine = namespaceMachine({ uid: 0, gid: 0, createdAt: 0 })
  const state = machine.empty()
  const file = machine.apply(state, { op: 'mknod', parent: ROOT_INO, name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }) as { ino: number }
  // chunk 0: a 2+1 stripe on a, b and (lost) nothing; chunk 1: two copies on c and d.
  const stripe: ChunkRef = { id: id(1), len: CHUNK, sha256: sha(1), nodes: [], ec: { k: 2, m: 1, shards: [shard(10, ['a']), shard(11, ['b']), shard(12, [])] } }
  machine.apply(state, { op: 'chunk', ino: file.ino, index: 0, ref: stripe, size: CHUNK, mtime: 2, ctime: 2 })
  machine.apply(state, { op: 'chunk', ino: file.ino, index: 1, ref: { id: id(2), len: 100, sha256: sha(2), nodes: ['c', 'd'] }, size: CHUNK + 100, mtime: 2, ctime: 2 })
  const bad = new Set<string>()
  const verified = new VerifiedCopies()
  const sources = (): PlacementSources => ({
    state, registry, chunkSize: CHUNK, replicas: 2, graceMs: 10_000, now: 1_000_000,
    isBadCopy: (nodeId, chunkId) => bad.has(`${nodeId}/${chunkId}`),
    verifiedAt: (chunkId, nodeId) => verified.get(chunkId, nodeId),
  })
  return { registry, bad, verified, sources, ino: file.ino }
}

describe('placement of stripes', () => {
  it('each chunk says its layout; a stripe lists its shards and each shard\'s node among its copies', () => {
    const w = world()
    w.verified.record(id(11), 'b', 999_000)
    const p = filePlacement(w.sources(), w.ino, '/f')
    const [ec, copies] = p.chunks
    expect(ec).toMatchObject({ layout: 'ec:2+1', wanted: 3, needed: 2, intact: 2 })
    expect(ec.shards).toEqual([
      { index: 0, id: id(10), length: 512, sha256: sha(10), nodeId: 'a', state: 'ok' },
      { index: 1, id: id(11), length: 512, sha256: sha(11), nodeId: 'b', state: 'ok' },
      { index: 2, id: id(12), length: 512, sha256: sha(12), state: 'lost' },
    ])
    expect(ec.copies).toEqual([
      { shard: 0, nodeId: 'a', address: '/nodes/a', node: 'alive', state: 'ok' },
      { shard: 1, nodeId: 'b', address: '/nodes/b', node: 'alive', state: 'ok', verifiedAt: 999_000 },
    ])
    expect(copies).toMatchObject({ layout: 'replicas:2', wanted: 2, needed: 1, intact: 2 })
    expect(copies.shards).toBeUndefined()
  })

  it('a shard the healer knows bad (by the stripe\'s id and the node) is bad and does not count', () => {
    const w = world()
    w.bad.add(`a/${id(1)}`)
    const [ec] = filePlacement(w.sources(), w.ino).chunks
    expect(ec.shards?.map(s => s.state)).toEqual(['bad', 'ok', 'lost'])
    expect(ec.intact).toBe(1)
  })

  it('user.dfs.chunks: a line per chunk, then one per shard of a stripe', () => {
    const w = world()
    const lines = placementXattrValue(CHUNKS_XATTR, filePlacement(w.sources(), w.ino)).toString().trimEnd().split('\n')
    expect(lines).toEqual([
      `0 ${id(1)} ${CHUNK} ${sha(1)} a:ok,b:ok`,
      `0.0 ${id(10)} 512 ${sha(10)} a:ok`,
      `0.1 ${id(11)} 512 ${sha(11)} b:ok`,
      `0.2 ${id(12)} 512 ${sha(12)} -:lost`,
      `1 ${id(2)} 100 ${sha(2)} c:ok,d:ok`,
    ])
  })

  it('dfs info prints the layouts in use, and a line per shard with its node', () => {
    const w = world()
    const text = formatPlacement(filePlacement(w.sources(), w.ino, '/mnt/f'), 1_000_000)
    expect(text.split('\n')).toEqual([
      '/mnt/f: inode 2, 1124 bytes (1.1 KiB), 2 chunks of 1.0 KiB, 2 replicas, stored as ec:2+1 (1 chunk), replicas:2 (1 chunk)',
      `chunk 0: offset 0, 1024 bytes, id ${id(1)}, sha256 ${sha(1)}, ec:2+1`,
      `  shard 0  ok           node a (alive) /nodes/a, not verified yet; id ${id(10)}, 512 bytes, sha256 ${sha(10)}`,
      `  shard 1  ok           node b (alive) /nodes/b, not verified yet; id ${id(11)}, 512 bytes, sha256 ${sha(11)}`,
      `  shard 2  lost         no node holds it (the healer rebuilds it); id ${id(12)}, 512 bytes, sha256 ${sha(12)}`,
      `chunk 1: offset 1024, 100 bytes, id ${id(2)}, sha256 ${sha(2)}`,
      '  ok           node c (alive) /nodes/c, not verified yet',
      '  ok           node d (alive) /nodes/d, not verified yet',
      '1 of 2 chunks are short of their intact copies or shards; the healer restores them (dfs status)',
    ])
  })
})
