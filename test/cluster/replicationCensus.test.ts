// One walk of the namespace gives every replication figure (src/cluster/replication.ts): the counts
// `dfs status` shows and the chunks by live copies /metrics exports agree because they are one census.

import { describe, expect, it } from 'vitest'
import { replicationCensus, type CopyState } from '../../src/cluster/replication.js'
import type { Inode, NamespaceState } from '../../src/meta/namespace/types.js'

const S_IFREG = 0o100000
const S_IFDIR = 0o040000

function state(files: string[][][]): NamespaceState {
  const inodes = new Map<number, Inode>()
  inodes.set(1, { mode: S_IFDIR | 0o755 } as Inode)
  files.forEach((chunks, i) => {
    const refs = chunks.map((nodes, j) => ({ id: `c${i}-${j}`, nodes, len: 1, sha256: '' }))
    inodes.set(i + 2, { mode: S_IFREG | 0o644, chunks: [...refs, undefined] } as unknown as Inode)
  })
  return { inodes, children: new Map(), parents: new Map(), nextIno: files.length + 2 }
}

describe('replication census', () => {
  it('counts and chunks by copies come from one walk and agree', () => {
    const copyState = (nodeId: string): CopyState => (nodeId.startsWith('live') ? 'live' : nodeId.startsWith('wait') ? 'waiting' : 'gone')
    const census = replicationCensus(state([
      [['live1', 'live2'], ['live1', 'wait1'], ['gone1', 'wait1']],
      [['live1', 'live2', 'live3'], ['gone1', 'gone2']],
    ]), 2, copyState)
    expect(census).toEqual({
      referenced: 5, underReplicated: 1, unavailable: 2, waitingForGrace: 1, files: 2,
      byCopies: [2, 1, 1, 1],
    })
  })

  it('an empty namespace still has a figure for 0 .. R copies', () => {
    expect(replicationCensus(state([]), 3, () => 'live').byCopies).toEqual([0, 0, 0, 0])
  })
})
