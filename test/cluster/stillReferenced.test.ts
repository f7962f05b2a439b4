// "Is the file still pointing at this chunk?": asked before a 'replicas' record is committed or a
// copy deleted, by the healer, the scrubber, moves and fsck alike.

import { afterEach, describe, expect, it } from 'vitest'
import { commitReplicas, stillListed, stillReferenced } from '../../src/cluster/stillReferenced.js'
import { type HealCluster, makeHealCluster, randomChunk } from './healFixtures.js'

let cluster: HealCluster | undefined
afterEach(async () => {
  await cluster?.cleanup()
  cluster = undefined
})

describe('stillReferenced', () => {
  it('follows the file: overwritten, the chunk is no longer referenced and no record is committed', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ino = await c.addFile('f', [randomChunk(1024)], [[0, 1]])
    const ref = c.ref(ino, 0)
    const at = { ino, index: 0, id: ref.id }
    expect(stillReferenced(c.meta.state, at)).toEqual(ref)
    expect(stillListed(c.meta.state, at, c.nodes[0].nodeId)).toBe(true)
    expect(stillListed(c.meta.state, at, c.nodes[2].nodeId)).toBe(false)

    expect(commitReplicas(c.meta, at, [c.nodes[1].nodeId, c.nodes[2].nodeId])).toBe(true)
    expect(c.ref(ino, 0).nodes).toEqual([c.nodes[1].nodeId, c.nodes[2].nodeId])

    // The file moves on: chunk 0 replaced by another.
    const other = await c.storeOn(randomChunk(1024), [0, 1])
    c.meta.commit({ op: 'chunk', ino, index: 0, ref: other, size: 1024, mtime: Date.now(), ctime: Date.now() })
    expect(stillReferenced(c.meta.state, at)).toBeUndefined()
    expect(stillListed(c.meta.state, at, c.nodes[1].nodeId)).toBe(false)
    expect(commitReplicas(c.meta, at, [c.nodes[2].nodeId])).toBe(false)
    expect(c.ref(ino, 0)).toEqual(other)
    // Nor for an index or inode that is not there.
    expect(stillReferenced(c.meta.state, { ino, index: 5, id: ref.id })).toBeUndefined()
    expect(commitReplicas(c.meta, { ino: 9999, index: 0, id: ref.id }, [])).toBe(false)
  })
})
