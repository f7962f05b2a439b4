// fsck --repair without FUSE, on the shared replicate.ts: missing and corrupt copies are replaced
// from a verified copy, the chunk map corrected, orphans removed; a lost chunk is reported, never
// "repaired"; a target that fails is skipped for the next one.

import { rm } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { verifyChunk } from '../../src/chunks/verify.js'
import { fsck } from '../../src/cluster/fsck.js'
import { type HealCluster, makeHealCluster, randomChunk } from './healFixtures.js'

let cluster: HealCluster | undefined
afterEach(async () => {
  await cluster?.cleanup()
  cluster = undefined
})

describe('fsck --repair (offline, through replicate.ts)', () => {
  it('replaces missing and corrupt copies, fixes the maps, removes orphans, and reports what is lost', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const ino = await c.addFile('f', [randomChunk(30_000), randomChunk(30_000), randomChunk(30_000)], [[0, 1], [1, 2], [2, 3]])
    const [missing, corrupt, lost] = [0, 1, 2].map((i) => c.ref(ino, i))
    await rm(c.chunkPath(0, missing.id))
    await c.flipByte(2, corrupt.id)
    await c.flipByte(2, lost.id)
    await c.flipByte(3, lost.id)
    const orphan = await c.storeOn(randomChunk(500), [3])
    // One node refuses copies: the repair moves on to the next candidate.
    c.nodes[0].failPuts = 'NODE_UNAVAILABLE'

    const before = await fsck(c.cluster, { repair: false })
    expect(before.underReplicated.map((p) => p.chunk).sort()).toEqual([missing.id, corrupt.id].sort())
    expect(before.lost.map((p) => p.chunk)).toEqual([lost.id])
    expect(before.orphans).toEqual([{ node: c.nodes[3].nodeId, chunk: orphan.id }])

    const repair = await fsck(c.cluster, { repair: true })
    expect(repair.repaired).toMatchObject({ copied: 2, mapsFixed: 2, orphansRemoved: 1, failed: [] })

    const after = await fsck(c.cluster, { repair: false })
    expect(after.underReplicated).toEqual([])
    expect(after.badReplicas).toEqual([])
    expect(after.orphans).toEqual([])
    expect(after.lost.map((p) => p.chunk)).toEqual([lost.id])
    for (const index of [0, 1]) {
      const ref = c.ref(ino, index)
      expect(ref.nodes).toHaveLength(2)
      expect(ref.nodes).not.toContain(c.nodes[0].nodeId) // refused its copy
      for (const nodeId of ref.nodes) await verifyChunk(ref, await c.nodes[c.indexOf(nodeId)].get(ref.id))
    }
    // The corrupt copy on node 2 was replaced or removed; the lost chunk's bad copies were left alone.
    expect(c.holders(lost.id)).toEqual([2, 3])
  })
})
