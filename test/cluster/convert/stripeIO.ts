// A stand-in for the ChunkStore's erasure-coded write and read (part 1 of issue 12, branch ec-store)
// for the converter's tests on a branch without them: replicated chunks go through the real
// ChunkStore; a stripe is encoded with encodeStripe, each shard put and synced on its own node (no
// two on one node), and read back shard by shard, each verified against its own SHA-256, rebuilt
// from any k when some are missing or corrupt. Once ec-store is merged, the tests can hand the
// converter the cluster's ChunkStore itself (`io: c.chunks`).

import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChunkRef } from '../../../src/chunks/ChunkRef.js'
import { ChunkStore } from '../../../src/chunks/ChunkStore.js'
import { NodeRegistry } from '../../../src/chunks/NodeRegistry.js'
import { LocalFolderNode } from '../../../src/datanode/LocalFolderNode.js'
import { joinData, rebuildShards, encodeStripe } from '../../../src/chunks/erasure/stripe.js'
import type { Layout } from '../../../src/chunks/layout.js'
import { sha256 } from '../../../src/chunks/verify.js'
import type { ConvertIO } from '../../../src/cluster/convert/convertChunk.js'
import { newChunkId } from '../../../src/datanode/chunkId.js'
import { dfsError } from '../../../src/errors.js'
import type { HealCluster } from '../healFixtures.js'
import { sha256Of } from '../../helpers/sha256.js'

export interface StripeIO extends ConvertIO {
  /** Stripes written so far (each call rotates which node takes shard 0). */
  stripes: number
}

export function stripeIO(c: HealCluster): StripeIO {
  const io: StripeIO = {
    stripes: 0,
    async write(data: Buffer, layout?: Layout): Promise<ChunkRef> {
      if (!layout || layout.kind === 'replicas') return await c.chunks.write(data)
      const { k, m } = layout
      const writable = c.registry.writable()
      if (writable.length < k + m) throw dfsError('NO_NODES', `a stripe of ${k}+${m} needs ${k + m} writable nodes, there are ${writable.length}`)
      const start = io.stripes++ % writable.length
      const order = [...writable.slice(start), ...writable.slice(0, start)]
      const shards = await encodeStripe(data, k, m)
      const refs = await Promise.all(shards.map(async (bytes, i) => {
        const id = newChunkId()
        const node = c.registry.get(order[i])!
        const hash = sha256Of(bytes)
        await node.put(id, Buffer.from(bytes), hash)
        await node.sync([id])
        return { id, len: bytes.length, sha256: hash, nodes: [order[i]] }
      }))
      return { id: newChunkId(), len: data.length, sha256: await sha256(data), nodes: [], ec: { k, m, shards: refs } }
    },
    async read(ref: ChunkRef): Promise<Buffer> {
      if (!ref.ec) return await c.chunks.read(ref)
      const { k, m, shards } = ref.ec
      const got = await Promise.all(shards.map(async (shard) => {
        for (const nodeId of shard.nodes) {
          try {
            const bytes = await c.registry.get(nodeId)!.get(shard.id)
            if (bytes.length === shard.len && sha256Of(bytes) === shard.sha256) return bytes
          } catch {
            // missing, unreachable: the stripe rebuilds it
          }
        }
        return undefined
      }))
      const all = got.slice(0, k).every(Boolean) ? (got as Buffer[]) : await rebuildShards(got, k, m)
      const data = joinData(all, k, ref.len)
      if (sha256Of(data) !== ref.sha256) throw dfsError('CHUNK_UNREADABLE', `stripe ${ref.id} does not verify`)
      return Buffer.from(data)
    },
    async sync(refs: readonly ChunkRef[]): Promise<void> {
      await c.chunks.sync(refs.filter((ref) => !ref.ec)) // shards were synced as they were put
    },
  }
  return io
}

/**
 * Whether this branch's ChunkStore writes erasure-coded stripes (part 1 of issue 12, ec-store): a
 * two-node store asked for ec:1+1 returns a ref with shards.
 */
export async function storeWritesStripes(): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'dfs-probe-'))
  const registry = new NodeRegistry()
  try {
    for (const name of ['a', 'b']) {
      await mkdir(join(dir, name))
      registry.add(await LocalFolderNode.open(join(dir, name), { clusterId: 'probe', create: true }))
    }
    const store = new ChunkStore({ registry, replicas: 2, cacheBytes: 0 })
    const write = store.write.bind(store) as (data: Buffer, layout?: Layout) => Promise<ChunkRef>
    return (await write(Buffer.alloc(64, 1), { kind: 'ec', k: 1, m: 1 })).ec !== undefined
  } catch {
    return false
  } finally {
    await registry.close()
    await rm(dir, { recursive: true, force: true })
  }
}
