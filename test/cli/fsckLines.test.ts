// How dfs fsck prints a chunk with a problem: a stripe names its layout, intact shards, and each bad
// shard's index and node.

import { describe, expect, it } from 'vitest'
import { problemLine } from '../../src/cli/fsckLines.js'

const base = { path: '/d/f', ino: 5, index: 2, chunk: 'c0ffee' }

describe('problemLine', () => {
  it('names a replicated chunk by its good copies and the bad ones', () => {
    expect(problemLine({ ...base, layout: 'replicas:2', good: ['n1'], bad: [{ node: 'n2', why: 'missing' }], intact: 1 }))
      .toBe('/d/f chunk 2 (c0ffee): 1 good copies; n2: missing')
  })

  it('names a degraded stripe\'s bad shards by index and node', () => {
    const shards = [0, 1, 2, 3, 4, 5].map((index) => ({ index, id: `s${index}`, good: index === 4 ? [] : [`n${index}`], bad: index === 4 ? [{ node: 'n4', why: 'missing' }] : [] }))
    expect(problemLine({ ...base, layout: 'ec:4+2', good: ['n0', 'n1', 'n2', 'n3', 'n5'], bad: [{ node: 'n4', why: 'missing', shard: 4 }], intact: 5, shards }))
      .toBe('/d/f chunk 2 (c0ffee): ec:4+2 stripe, 5 of 6 shards intact (degraded, readable); shard 4 on n4: missing')
  })

  it('says how many shards a lost stripe needs', () => {
    const shards = [0, 1, 2].map((index) => ({ index, id: `s${index}`, good: index === 0 ? ['n0'] : [], bad: index === 0 ? [] : [{ node: `n${index}`, why: 'missing' }] }))
    expect(problemLine({ ...base, layout: 'ec:2+1', good: ['n0'], bad: [{ node: 'n1', why: 'missing', shard: 1 }, { node: 'n2', why: 'missing', shard: 2 }], intact: 1, shards }))
      .toBe('/d/f chunk 2 (c0ffee): ec:2+1 stripe, 1 of 3 shards intact (lost, 2 needed to read); shard 1 on n1: missing; shard 2 on n2: missing')
  })
})
