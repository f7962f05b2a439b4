import { describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { rankNodes } from '../../src/chunks/placement.js'

const NODES = ['node-a', 'node-b', 'node-c']
const ids = Array.from({ length: 30_000 }, newChunkId)

function counts(picks: string[]): Map<string, number> {
  const result = new Map<string, number>()
  for (const nodeId of picks) result.set(nodeId, (result.get(nodeId) ?? 0) + 1)
  return result
}

describe('rankNodes (rendezvous hashing)', () => {
  it('ranks every node once, the same way every time, whatever the input order', () => {
    const id = newChunkId()
    const ranked = rankNodes(id, NODES)
    expect([...ranked].sort()).toEqual(NODES)
    expect(rankNodes(id, [...NODES].reverse())).toEqual(ranked)
    expect(rankNodes(id, [...NODES, 'node-a'])).toEqual(ranked)
    expect(rankNodes(id, [])).toEqual([])
  })

  it('spreads first and second choices evenly over the nodes (within 3%)', () => {
    const first = counts(ids.map((id) => rankNodes(id, NODES)[0]))
    const second = counts(ids.map((id) => rankNodes(id, NODES)[1]))
    for (const nodeId of NODES) {
      expect(Math.abs(first.get(nodeId)! / ids.length - 1 / 3)).toBeLessThan(0.03)
      expect(Math.abs(second.get(nodeId)! / ids.length - 1 / 3)).toBeLessThan(0.03)
    }
  })

  it('moves only the removed node’s chunks when a node goes away', () => {
    let moved = 0
    for (const id of ids.slice(0, 5_000)) {
      const before = rankNodes(id, NODES)
      const after = rankNodes(id, ['node-a', 'node-c'])
      // The survivors keep their relative order, so only chunks placed first on node-b change node.
      expect(after).toEqual(before.filter((nodeId) => nodeId !== 'node-b'))
      if (before[0] !== after[0]) moved += 1
      if (before[0] !== 'node-b') expect(after[0]).toBe(before[0])
    }
    expect(moved / 5_000).toBeGreaterThan(0.28)
    expect(moved / 5_000).toBeLessThan(0.39)
  })

  it('favours nodes in proportion to their weight', () => {
    const weight: Record<string, number> = { 'node-a': 1, 'node-b': 2, 'node-c': 1 }
    const first = counts(ids.map((id) => rankNodes(id, NODES, (nodeId) => weight[nodeId])[0]))
    expect(Math.abs(first.get('node-a')! / ids.length - 0.25)).toBeLessThan(0.03)
    expect(Math.abs(first.get('node-b')! / ids.length - 0.5)).toBeLessThan(0.03)
    expect(Math.abs(first.get('node-c')! / ids.length - 0.25)).toBeLessThan(0.03)
  })

  it('puts nodes with no weight (no space) last', () => {
    for (const id of ids.slice(0, 200)) {
      expect(rankNodes(id, NODES, (nodeId) => (nodeId === 'node-a' ? 0 : 1))[2]).toBe('node-a')
    }
  })
})
