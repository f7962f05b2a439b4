// fsck --repair without FUSE, on the shared replicate.ts: missing and corrupt copies are replaced
// from a verified copy, the chunk map corrected, orphans removed; a lost chunk is reported, never
// "repaired"; a target that fails is skipped for the next one.

import { rm } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { verifyChunk } from '../../src/chunks/verify.js'
import { fsck } from '../../src/cluster/fsck.js'
import { ROOT_INO } from '../../src/meta/namespace/types.js'
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

describe('fsck of a live namespace (the NameNode\'s online check)', () => {
  // A file rewritten while the check runs: its old chunk is gone from the nodes and its new one was
  // listed before the namespace pointed at it. The check must not call the first lost nor the second
  // an orphan: it looks again before it reports.
  it('reports neither a chunk replaced meanwhile as lost, nor one committed meanwhile as an orphan', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    await c.addFile('steady', [randomChunk(20_000)], [[0, 1]])
    const ino = await c.addFile('rewritten', [randomChunk(20_000)], [[1, 2]])
    const old = c.ref(ino, 0)
    // The client's rewrite: the new chunk is stored, the old one already deleted by the NameNode...
    const fresh = await c.storeOn(randomChunk(20_000), [0, 2])
    for (const i of [1, 2]) await rm(c.chunkPath(i, old.id))
    let committed = false
    const commitRewrite = () => {
      if (committed) return
      committed = true
      // ...and its commit lands once the check has taken its node lists and its view of the files.
      c.meta.commit({ op: 'chunk', ino, index: 0, ref: fresh, size: fresh.len, mtime: Date.now(), ctime: Date.now() })
    }

    const live = await fsck(c.cluster, { repair: false, live: true, onProgress: commitRewrite })
    expect(live.lost).toEqual([])
    expect(live.underReplicated).toEqual([])
    expect(live.badReplicas).toEqual([])
    expect(live.orphans).toEqual([])

    // The same moving target without `live` is what an offline check would say (and why it must not
    // be run against a live namespace as it is).
    await c.addFile('rewritten-2', [randomChunk(20_000)], [[1, 2]])
    const ino2 = c.meta.state.children.get(ROOT_INO)!.get('rewritten-2')!
    const old2 = c.ref(ino2, 0)
    const fresh2 = await c.storeOn(randomChunk(20_000), [0, 2])
    for (const i of [1, 2]) await rm(c.chunkPath(i, old2.id))
    let committed2 = false
    const offline = await fsck(c.cluster, {
      repair: false,
      onProgress: () => {
        if (committed2) return
        committed2 = true
        c.meta.commit({ op: 'chunk', ino: ino2, index: 0, ref: fresh2, size: fresh2.len, mtime: Date.now(), ctime: Date.now() })
      },
    })
    expect(offline.lost.map(p => p.chunk)).toEqual([old2.id])
    expect(offline.orphans.map(o => o.chunk)).toEqual([fresh2.id, fresh2.id])
  })

  it('refuses repair of a live namespace', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 2, replicas: 2 }))
    await expect(fsck(c.cluster, { repair: true, live: true })).rejects.toThrow(/not supported/)
  })
})
