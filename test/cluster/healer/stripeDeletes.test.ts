// What is stored for an erasure-coded chunk is its shards, each a chunk file of its own id
// (chunks/layout.ts): when a record drops a stripe, or a client abandons one, the NameNode deletes
// every shard file; the orphan collector counts a referenced stripe's shards as referenced (a copy on
// a node the map does not list is the healer's business) and collects an unreferenced stripe's.

import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../../src/chunks/ChunkRef.js'
import { OrphanCollector } from '../../../src/cluster/healer/OrphanCollector.js'
import { NameNode } from '../../../src/namenode/NameNode.js'
import { type Inode, ROOT_INO, S_IFREG } from '../../../src/meta/namespace/types.js'
import { type HealCluster, makeHealCluster, randomChunk } from '../healFixtures.js'
import { addStripeFile, storeStripe } from '../stripeFixtures.js'
import { MemoryStore } from '../../fs/fakes.js'

const KiB = 1024
const GRACE = 30_000

let cluster: HealCluster | undefined
let collector: OrphanCollector | undefined
afterEach(async () => {
  await collector?.stop()
  collector = undefined
  await cluster?.cleanup()
  cluster = undefined
})

const shardIds = (ref: ChunkRef) => ref.ec!.shards.map((s) => s.id)
/** Node indexes holding each shard's file. */
const holdersOf = (c: HealCluster, ref: ChunkRef) => shardIds(ref).map((id) => c.holders(id))

function nameNodeOn(c: HealCluster) {
  const deleting: Promise<void>[] = []
  const nameNode = new NameNode({
    meta: c.meta, replicas: 2, log: c.log,
    deleteChunks: (ids) => {
      const done = c.chunks.delete(ids)
      deleting.push(done)
      return done
    },
  })
  /** Once what was committed is durable, the deletes it started have run. */
  const deleted = async () => {
    await c.meta.sync()
    await new Promise((resolve) => setImmediate(resolve))
    await Promise.all(deleting)
  }
  return { nameNode, deleted }
}

describe('NameNode deletes of a stripe', () => {
  it('deletes every shard file of a stripe a record replaced, truncated away or a forgotten file held', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const { nameNode, deleted } = nameNodeOn(c)
    const s = nameNode.openSession(true)
    const file = nameNode.commit(s, { op: 'mknod', parent: ROOT_INO, name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }).result as Inode
    const stripes = [await storeStripe(c, randomChunk(8 * KiB), 2, 1, [0, 1, 2]), await storeStripe(c, randomChunk(8 * KiB), 2, 2, [0, 1, 2, 3]), await storeStripe(c, randomChunk(8 * KiB), 2, 1, [3, 1, 2])]
    stripes.forEach((ref, index) => nameNode.commit(s, { op: 'chunk', ino: file.ino, index, ref, size: (index + 1) * 8 * KiB, mtime: 2, ctime: 2 }))
    const replacement = await storeStripe(c, randomChunk(8 * KiB), 2, 1, [1, 2, 3])
    await c.meta.sync()

    nameNode.commit(s, { op: 'chunk', ino: file.ino, index: 0, ref: replacement, size: 24 * KiB, mtime: 3, ctime: 3 })
    await deleted()
    expect(holdersOf(c, stripes[0]!)).toEqual([[], [], []])
    expect(holdersOf(c, stripes[1]!)).toEqual([[0], [1], [2], [3]])

    nameNode.commit(s, { op: 'truncate', ino: file.ino, size: 8 * KiB, keep: 1, mtime: 4, ctime: 4 })
    await deleted()
    expect(holdersOf(c, stripes[1]!)).toEqual([[], [], [], []])
    expect(holdersOf(c, stripes[2]!)).toEqual([[], [], []])
    expect(holdersOf(c, replacement)).toEqual([[1], [2], [3]])

    nameNode.commit(s, { op: 'unlink', parent: ROOT_INO, name: 'f', dir: false, time: 5 })
    await deleted()
    expect(holdersOf(c, replacement)).toEqual([[], [], []])
  })

  it('deletes the shards of a stripe a client abandons, and never those of one a file references', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const { nameNode, deleted } = nameNodeOn(c)
    const ino = await addStripeFile(c, 'f', [{ data: randomChunk(8 * KiB), k: 2, m: 1, on: [0, 1, 2] }])
    const kept = c.ref(ino, 0)
    const abandoned = await storeStripe(c, randomChunk(8 * KiB), 2, 1, [2, 0, 1])
    nameNode.abandon([kept, abandoned])
    // A hostile or confused client naming a referenced shard by itself deletes nothing either.
    nameNode.abandon([{ id: kept.ec!.shards[0]!.id, len: 0, sha256: '', nodes: [] }])
    await deleted()
    expect(holdersOf(c, abandoned)).toEqual([[], [], []])
    expect(holdersOf(c, kept)).toEqual([[0], [1], [2]])
  })
})

describe('orphan collection and stripes', () => {
  it('leaves a referenced stripe\'s shards alone, collects an unreferenced stripe\'s, and reports an extra shard copy with its stripe', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const ino = await addStripeFile(c, 'f', [{ data: randomChunk(16 * KiB), k: 2, m: 1, on: [0, 1, 2] }])
    const referenced = c.ref(ino, 0)
    const orphan = await storeStripe(c, randomChunk(16 * KiB), 2, 1, [1, 2, 3]) // a crash between puts and the record
    // A copy of shard 1 where the map does not list it (a rebuild cut short).
    const shard1 = referenced.ec!.shards[1]!
    await c.nodes[3]!.inner.put(shard1.id, await c.nodes[1]!.get(shard1.id), shard1.sha256)

    const clock = { now: 1_000_000 }
    const extras: { id: string; nodeId: string }[] = []
    collector = new OrphanCollector({
      meta: c.meta, chunks: c.chunks, registry: c.registry, log: c.log,
      onExtraCopy: (ref, nodeId) => extras.push({ id: ref.id, nodeId }),
      options: { graceMs: GRACE }, now: () => clock.now,
    })
    for (let i = 0; i < 3; i++) {
      await collector.sweep()
      clock.now += GRACE
    }
    expect(holdersOf(c, orphan)).toEqual([[], [], []])
    expect(holdersOf(c, referenced)).toEqual([[0], [1, 3], [2]])
    expect(collector.status()).toMatchObject({ orphansRemoved: 3, orphansPending: 0, orphanFailures: 0 })
    expect(extras).toContainEqual({ id: referenced.id, nodeId: c.nodes[3]!.nodeId })
  })
})

describe('NameNode commits of a stripe', () => {
  it('hands the healer a stripe committed with a shard on no node, not a whole one (a stripe has no copies)', () => {
    const under: string[] = []
    const nameNode = new NameNode({ meta: new MemoryStore(), replicas: 2, log: () => {}, deleteChunks: async () => {}, onUnderReplicated: (ref) => under.push(ref.id) })
    const s = nameNode.openSession(true)
    const file = nameNode.commit(s, { op: 'mknod', parent: ROOT_INO, name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }).result as Inode
    const hex = (n: number, len: number) => n.toString(16).padStart(len, '0')
    const stripe = (id: number, nodes: string[][]): ChunkRef => ({
      id: hex(id, 32), len: 16, sha256: hex(id, 64), nodes: [],
      ec: { k: 2, m: 1, shards: nodes.map((n, i) => ({ id: hex(id * 10 + i, 32), len: 8, sha256: hex(i, 64), nodes: n })) },
    })
    nameNode.commit(s, { op: 'chunk', ino: file.ino, index: 0, ref: stripe(1, [['a'], ['b'], ['c']]), size: 16, mtime: 2, ctime: 2 })
    nameNode.commit(s, { op: 'chunk', ino: file.ino, index: 1, ref: stripe(2, [['a'], ['b'], []]), size: 32, mtime: 2, ctime: 2 })
    nameNode.commit(s, { op: 'chunk', ino: file.ino, index: 2, ref: { id: hex(3, 32), len: 1, sha256: hex(3, 64), nodes: ['a', 'b'], copies: 3 }, size: 33, mtime: 2, ctime: 2 })
    expect(under).toEqual([hex(2, 32), hex(3, 32)])
  })
})
