// Erasure-coded chunks on a heal cluster (healFixtures.ts), built directly: the chunk encoded with
// encodeStripe, each shard put on the node the test names, the stripe's ref committed with namespace
// records. So the healer, the orphan collector, deletes, the scrubber, fsck, balance, drain,
// placement and status are tested without the chunk store's EC write path.

import { expect } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { encodeStripe, joinData } from '../../src/chunks/erasure/stripe.js'
import { verifyChunk } from '../../src/chunks/verify.js'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { ROOT_INO, S_IFREG } from '../../src/meta/namespace/types.js'
import { sha256Of } from '../helpers/sha256.js'
import type { HealCluster } from './healFixtures.js'

/** Store data as a k+m stripe, shard i on node `on[i]` (undefined: not stored). Not referenced yet. */
export async function storeStripe(c: HealCluster, data: Buffer, k: number, m: number, on: (number | undefined)[]): Promise<ChunkRef> {
  const shards = await encodeStripe(data, k, m)
  const ids = shards.map(() => newChunkId())
  // Being written until the caller records the stripe, as ChunkStore.write marks its shards: a
  // healer's orphan collection running beside the test must leave them alone meanwhile.
  const written = c.chunks.holdWriting(ids)
  try {
    const pieces: ChunkRef[] = []
    for (const [i, bytes] of shards.entries()) {
      const sha256 = sha256Of(bytes)
      const at = on[i]
      if (at !== undefined) {
        await c.nodes[at]!.inner.put(ids[i], Buffer.from(bytes), sha256)
        await c.nodes[at]!.inner.sync([ids[i]])
      }
      pieces.push({ id: ids[i], len: bytes.length, sha256, nodes: at === undefined ? [] : [c.nodes[at]!.nodeId] })
    }
    return { id: newChunkId(), len: data.length, sha256: sha256Of(data), nodes: [], ec: { k, m, shards: pieces } }
  } finally {
    written()
  }
}

/** A file of one stripe per chunk. Returns its inode number. */
export async function addStripeFile(c: HealCluster, name: string, chunks: { data: Buffer; k: number; m: number; on: (number | undefined)[] }[]): Promise<number> {
  const { ino } = c.meta.commit({ op: 'mknod', parent: ROOT_INO, name, mode: S_IFREG | 0o644, uid: 0, gid: 0, time: Date.now() }) as { ino: number }
  let size = 0
  for (const [index, chunk] of chunks.entries()) {
    const ref = await storeStripe(c, chunk.data, chunk.k, chunk.m, chunk.on)
    size += chunk.data.length
    c.meta.commit({ op: 'chunk', ino, index, ref, size, mtime: Date.now(), ctime: Date.now() })
  }
  await c.meta.sync()
  return ino
}

/** Node index of each shard, as the map says (undefined: on no node). */
export function shardNodes(c: HealCluster, ref: ChunkRef): (number | undefined)[] {
  return ref.ec!.shards.map((s) => (s.nodes[0] === undefined ? undefined : c.indexOf(s.nodes[0])))
}

/**
 * The stripe is whole: every shard on one node, no two on the same node, its file on exactly that
 * node's folder and intact, and the data shards give back `data`.
 */
export async function expectStripeWhole(c: HealCluster, ref: ChunkRef, data: Buffer): Promise<void> {
  const { k, shards } = ref.ec!
  const nodes = shardNodes(c, ref)
  expect(nodes.every((n) => n !== undefined), `every shard of ${ref.id} placed: ${nodes}`).toBe(true)
  expect(new Set(nodes).size, `shards of ${ref.id} on distinct nodes: ${nodes}`).toBe(shards.length)
  const bytes: Buffer[] = []
  for (const [i, shard] of shards.entries()) {
    expect(c.holders(shard.id), `folders holding shard ${i}`).toEqual([nodes[i]])
    const got = await c.nodes[nodes[i]!]!.get(shard.id)
    await verifyChunk(shard, got)
    bytes.push(got)
  }
  expect(joinData(bytes, k, ref.len).equals(data)).toBe(true)
}

/** A file of the given chunk refs (stored already), in the root. Returns its inode number. */
export async function addFileOfRefs(c: HealCluster, name: string, refs: ChunkRef[]): Promise<number> {
  const inode = c.meta.commit({ op: 'mknod', parent: ROOT_INO, name, mode: S_IFREG | 0o644, uid: 0, gid: 0, time: Date.now() }) as { ino: number }
  let size = 0
  for (const [index, ref] of refs.entries()) {
    size += ref.len
    c.meta.commit({ op: 'chunk', ino: inode.ino, index, ref, size, mtime: Date.now(), ctime: Date.now() })
  }
  await c.meta.sync()
  return inode.ino
}

/** The shard `i` of the stripe at (ino, index) as the namespace has it now. */
export function shardOf(c: HealCluster, ino: number, index: number, i: number): ChunkRef {
  const shard = c.ref(ino, index).ec?.shards[i]
  if (!shard) throw new Error(`chunk ${index} of inode ${ino} has no shard ${i}`)
  return shard
}
