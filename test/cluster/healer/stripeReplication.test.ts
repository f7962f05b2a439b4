// One rule for how a chunk stands (src/cluster/replication.ts), whatever its layout: a replicated
// ref against the copies it wants (ref.copies ?? R), a stripe by its live shards: all k + m ok,
// k .. k+m-1 under-protected (underReplicated), fewer than k unavailable; waiting for the grace
// period when live + waiting shards reach k + m. The census (dfs status) counts by the same rule.

import { describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../../src/chunks/ChunkRef.js'
import { chunkReplication, type CopyState, replicationCensus } from '../../../src/cluster/replication.js'
import type { Inode, NamespaceState } from '../../../src/meta/namespace/types.js'

const stateOfNode = (nodeId: string): CopyState => (nodeId.startsWith('live') ? 'live' : nodeId.startsWith('wait') ? 'waiting' : 'gone')

/** A k+m stripe whose shard i is on nodes[i] ('' : on no node). */
function stripe(k: number, m: number, nodes: string[]): ChunkRef {
  const shards = nodes.map((n, i) => ({ id: `s${i}`, len: 8, sha256: '', nodes: n ? [n] : [] }))
  return { id: 'stripe', len: 8 * k, sha256: '', nodes: [], ec: { k, m, shards } }
}

describe('a stripe\'s state', () => {
  const of = (ref: ChunkRef) => chunkReplication(ref, 2, stateOfNode)
  it('is ok with all k + m shards live, under-protected down to k, unavailable below', () => {
    expect(of(stripe(4, 2, ['live1', 'live2', 'live3', 'live4', 'live5', 'live6']))).toEqual({ live: 6, waiting: 0, gone: 0, wanted: 6, replication: 'ok', waitingForGrace: false })
    expect(of(stripe(4, 2, ['live1', 'live2', 'live3', 'live4', 'live5', 'gone6'])).replication).toBe('underReplicated')
    expect(of(stripe(4, 2, ['live1', 'live2', 'live3', 'live4', '', 'gone6'])).replication).toBe('underReplicated')
    expect(of(stripe(4, 2, ['live1', 'live2', 'live3', '', 'gone5', 'gone6'])).replication).toBe('unavailable')
    expect(of(stripe(2, 1, ['gone1', 'gone2', 'gone3'])).replication).toBe('unavailable')
  })

  it('waits for the grace period while its missing shards may come back', () => {
    expect(of(stripe(2, 1, ['live1', 'live2', 'wait3']))).toMatchObject({ replication: 'underReplicated', waitingForGrace: true })
    expect(of(stripe(2, 1, ['live1', 'wait2', 'wait3']))).toMatchObject({ replication: 'unavailable', waitingForGrace: true })
    expect(of(stripe(2, 1, ['live1', 'wait2', '']))).toMatchObject({ replication: 'unavailable', waitingForGrace: false })
  })

  it('asks for a shard\'s state by its node and the stripe\'s id (how reads report a bad shard)', () => {
    const asked: string[] = []
    chunkReplication(stripe(2, 1, ['live1', 'live2', 'live3']), 2, (nodeId, chunkId) => (asked.push(`${nodeId}:${chunkId}`), 'live'))
    expect(asked).toEqual(['live1:stripe', 'live2:stripe', 'live3:stripe'])
  })
})

describe('a replicated chunk\'s state', () => {
  it('is measured against the copies its ref wants, else R', () => {
    const ref = (nodes: string[], copies?: number): ChunkRef => ({ id: 'c', len: 1, sha256: '', nodes, ...(copies ? { copies } : {}) })
    expect(chunkReplication(ref(['live1', 'live2']), 2, stateOfNode).replication).toBe('ok')
    expect(chunkReplication(ref(['live1', 'live2'], 3), 2, stateOfNode)).toMatchObject({ wanted: 3, replication: 'underReplicated' })
    expect(chunkReplication(ref(['live1'], 1), 2, stateOfNode)).toMatchObject({ wanted: 1, replication: 'ok' })
    expect(chunkReplication(ref(['live1', 'live2', 'wait3'], 3), 2, stateOfNode)).toMatchObject({ replication: 'underReplicated', waitingForGrace: true })
  })
})

describe('the census', () => {
  it('counts stripes by the same rule, and by missing shards', () => {
    const refs = [
      stripe(2, 1, ['live1', 'live2', 'live3']),
      stripe(2, 1, ['live1', 'live2', 'gone3']),
      stripe(2, 1, ['live1', 'gone2', 'wait3']),
      { id: 'r', len: 1, sha256: '', nodes: ['live1', 'live2'], copies: 3 },
    ]
    const state: NamespaceState = {
      inodes: new Map([[2, { mode: 0o100644, chunks: refs } as unknown as Inode]]),
      children: new Map(), parents: new Map(), nextIno: 3,
    }
    expect(replicationCensus(state, 2, stateOfNode)).toEqual({
      referenced: 4, underReplicated: 2, unavailable: 1, waitingForGrace: 0, files: 1,
      byCopies: [0, 0, 1], byMissingShards: [1, 1, 1],
    })
  })
})
