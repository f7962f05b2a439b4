// Erasure-coded chunks for the operations tests (scrubber, fsck, balance, drain, placement, status),
// built directly: encodeStripe's shards put on chosen nodes of a HealCluster and the stripe's ref
// committed with namespace records, so these tests need no client-side EC write path.

import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { encodeStripe } from '../../src/chunks/erasure/stripe.js'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { ROOT_INO, S_IFREG } from '../../src/meta/namespace/types.js'
import { sha256Of } from '../helpers/sha256.js'
import type { HealCluster } from './healFixtures.js'

/**
 * Encode `data` as a k+m stripe and put shard i on node `on[i]` (synced); -1 leaves shard i lost
 * (nodes: []). Returns the stripe's ref, not yet referenced by any file.
 */
export async function storeStripeOn(c: HealCluster, data: Buffer, k: number, m: number, on: number[]): Promise<ChunkRef> {
  if (on.length !== k + m) throw new Error(`a ${k}+${m} stripe needs ${k + m} node indexes, got ${on.length}`)
  const shards = await encodeStripe(data, k, m)
  const refs: ChunkRef[] = []
  for (const [i, bytes] of shards.entries()) {
    const id = newChunkId()
    const sha256 = sha256Of(bytes)
    const node = on[i]
    if (node >= 0) {
      await c.nodes[node].inner.put(id, Buffer.from(bytes), sha256)
      await c.nodes[node].inner.sync([id])
    }
    refs.push({ id, len: bytes.length, sha256, nodes: node >= 0 ? [c.nodes[node].nodeId] : [] })
  }
  return { id: newChunkId(), len: data.length, sha256: sha256Of(data), nodes: [], ec: { k, m, shards: refs } }
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
