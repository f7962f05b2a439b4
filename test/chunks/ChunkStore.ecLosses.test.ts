// Every loss pattern of an erasure-coded chunk, on real local-folder nodes: any up to m shards lost
// (file deleted, a byte flipped, node unreachable, node unregistered, and mixes of these) reads back
// byte-perfect within the same call and reports exactly the lost shards the read touched, each once,
// as (stripe ref, that shard's node); m + 1 lost is CHUNK_UNREADABLE (EIO) naming the shards tried,
// for that chunk only.

import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { MIN_SHARD_BYTES } from '../../src/chunks/layout.js'
import { posixCodeOf } from '../../src/errors.js'
import { makeCluster, type TestCluster } from './fakes.js'
import { CODE_OF, LOSSES, type Loss, loseShard, restoreNodes, shardNode, shardsOf, shardsRead, subsets } from './ecFixtures.js'

interface Case {
  lost: number[]
  kinds: Loss[]
}

/** For each set of lost shards: each kind of loss on all of them, and (2+ lost) the kinds mixed. */
function casesFor(k: number, m: number, count: number): Case[] {
  const cases: Case[] = []
  for (const lost of subsets(k + m, count)) {
    for (const kind of LOSSES) cases.push({ lost, kinds: lost.map(() => kind) })
    if (lost.length > 1) {
      for (let shift = 0; shift < LOSSES.length; shift++) cases.push({ lost, kinds: lost.map((_, j) => LOSSES[(j + shift) % LOSSES.length]) })
    }
  }
  return cases
}

const label = (c: Case) => c.lost.map((shard, j) => `${shard}:${c.kinds[j]}`).join(' ')

for (const { k, m } of [{ k: 2, m: 1 }, { k: 4, m: 2 }]) {
  describe(`ec:${k}+${m} on ${k + m} nodes`, () => {
    let cluster: TestCluster
    const upToM = Array.from({ length: m }, (_, j) => casesFor(k, m, j + 1)).flat()
    const beyondM = casesFor(k, m, m + 1)
    const written = new Map<Case, { data: Buffer; ref: ChunkRef }>()
    let bystander: { data: Buffer; ref: ChunkRef }

    beforeAll(async () => {
      cluster = await makeCluster(k + m, { replicas: 2 })
      // Every case's chunk written up front, while all nodes are in the write pool.
      for (const c of [...upToM, ...beyondM]) {
        // At least k × MIN_SHARD_BYTES: a smaller chunk is stored as m + 1 copies, not a stripe.
        const data = randomBytes(k * MIN_SHARD_BYTES + written.size)
        written.set(c, { data, ref: await cluster.store.write(data, { kind: 'ec', k, m }) })
      }
      const data = randomBytes(k * MIN_SHARD_BYTES + 5000)
      bystander = { data, ref: await cluster.store.write(data, { kind: 'ec', k, m }) }
    })
    afterAll(async () => {
      await cluster?.cleanup()
    })

    it('writes every shard of every chunk to its own node', () => {
      for (const { ref } of written.values()) {
        expect(new Set(shardsOf(ref).map((shard) => shard.nodes[0])).size).toBe(k + m)
      }
    })

    it.each(upToM.map((c) => [label(c), c] as const))('reads back byte-perfect with %s lost, reporting exactly those shards read', async (_label, c) => {
      const { data, ref } = written.get(c)!
      const undo = await Promise.all(c.lost.map((shard, j) => loseShard(cluster, ref, shard, c.kinds[j])))
      try {
        cluster.badReplicas.length = 0
        const back = await cluster.store.read(ref)
        expect(back.equals(data)).toBe(true)
        const touched = shardsRead(k, m, c.lost, c.lost.filter((_, j) => c.kinds[j] === 'unregistered'))
        const expected = c.lost.flatMap((shard, j) => (touched.includes(shard) ? [[shardNode(ref, shard), CODE_OF[c.kinds[j]]]] : []))
        expect(cluster.badReplicas.map((bad) => [bad.nodeId, bad.reason.code]).sort()).toEqual(expected.sort())
        for (const bad of cluster.badReplicas) expect(bad.ref).toBe(ref)
      } finally {
        restoreNodes(cluster, undo)
      }
    })

    it.each(beyondM.map((c) => [label(c), c] as const))('fails with CHUNK_UNREADABLE (EIO) naming the shards tried with %s lost', async (_label, c) => {
      const { ref } = written.get(c)!
      const undo = await Promise.all(c.lost.map((shard, j) => loseShard(cluster, ref, shard, c.kinds[j])))
      try {
        const err = await cluster.store.read(ref).catch((e: unknown) => e)
        expect(err).toMatchObject({ code: 'CHUNK_UNREADABLE', context: { chunk: ref.id, k, m } })
        expect(posixCodeOf(err)).toBe('EIO')
        const tried = (err as { context: { tried: Array<{ shard: number; nodeId: string; code: string }> } }).context.tried
        for (const [j, shard] of c.lost.entries()) {
          expect(tried).toContainEqual(expect.objectContaining({ shard, nodeId: shardNode(ref, shard), code: CODE_OF[c.kinds[j]] }))
        }
        // That chunk only: with the nodes answering, another stripe on them still reads.
        if (c.kinds.every((kind) => kind === 'deleted' || kind === 'corrupt')) {
          expect((await cluster.store.read(bystander.ref)).equals(bystander.data)).toBe(true)
        }
      } finally {
        restoreNodes(cluster, undo)
      }
    })
  })
}
