// The rebalance planner on its own (pure): which copies a balance or a drain moves, and where.

import { describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { type ChunkCopies, isBalanced, planBalance, planDrain, usageOf } from '../../src/cluster/rebalance/plan.js'

const KiB = 1024

function chunks(count: number, nodes: string[], len = (i: number) => 64 * KiB - (i % 7) * KiB): ChunkCopies[] {
  return Array.from({ length: count }, (_, i) => ({ ino: 10 + Math.floor(i / 4), index: i % 4, id: newChunkId(), len: len(i), nodes }))
}

function apply(all: ChunkCopies[], moves: { id: string; from: string; to: string }[]): ChunkCopies[] {
  const byId = new Map(moves.map((m) => [m.id, m]))
  return all.map((c) => {
    const m = byId.get(c.id)
    return m ? { ...c, nodes: c.nodes.map((n) => (n === m.from ? m.to : n)) } : c
  })
}

describe('planBalance', () => {
  it('fills a new empty node to its share, moving each chunk at most once, never to a node that holds it', () => {
    const all = chunks(60, ['a', 'b'])
    const tolerance = 64 * KiB
    const plan = planBalance({ chunks: all, nodes: ['a', 'b', 'c'], targets: ['a', 'b', 'c'], tolerance })
    expect(plan.moves.length).toBeGreaterThan(30)
    expect(new Set(plan.moves.map((m) => m.id)).size).toBe(plan.moves.length)
    for (const m of plan.moves) {
      expect(m.to).toBe('c')
      expect(all.find((c) => c.id === m.id)!.nodes).toContain(m.from)
    }
    const after = apply(all, plan.moves)
    const used = usageOf(after, ['a', 'b', 'c'])
    expect(used).toEqual(plan.after)
    expect(isBalanced(used, tolerance)).toBe(true)
    // Every chunk still on two distinct nodes.
    for (const c of after) expect(new Set(c.nodes).size).toBe(2)
  })

  it('moves nothing when usage is already even, or when no node may take a copy', () => {
    const even = [...chunks(10, ['a', 'b']), ...chunks(10, ['b', 'c']), ...chunks(10, ['c', 'a'])]
    expect(planBalance({ chunks: even, nodes: ['a', 'b', 'c'], targets: ['a', 'b', 'c'], tolerance: 64 * KiB }).moves).toEqual([])
    const uneven = chunks(10, ['a', 'b'])
    expect(planBalance({ chunks: uneven, nodes: ['a', 'b', 'c'], targets: [], tolerance: 0 }).moves).toEqual([])
  })

  it('leaves alone chunks with a copy on a node outside the balance (suspect, dead or draining)', () => {
    const all = chunks(20, ['a', 'x'])
    const plan = planBalance({ chunks: all, nodes: ['a', 'c'], targets: ['a', 'c'], tolerance: 0 })
    expect(plan.moves).toEqual([])
  })

  it('ends on awkward sizes (a few huge chunks among small ones)', () => {
    const all = chunks(40, ['a', 'b'], (i) => (i % 10 === 0 ? 4096 * KiB : 3 * KiB))
    const plan = planBalance({ chunks: all, nodes: ['a', 'b', 'c', 'd'], targets: ['a', 'b', 'c', 'd'], tolerance: 0 })
    expect(plan.moves.length).toBeLessThanOrEqual(all.length)
    const used = usageOf(apply(all, plan.moves), ['a', 'b', 'c', 'd'])
    const values = [...used.values()]
    expect(Math.max(...values) - Math.min(...values)).toBeLessThanOrEqual(4096 * KiB + 3 * KiB)
  })
})

describe('planDrain', () => {
  it('moves every copy off the node, each to the least-used node without one', () => {
    const all = [...chunks(30, ['a', 'b']), ...chunks(30, ['b', 'c']), ...chunks(30, ['c', 'a'])]
    const used = usageOf(all, ['b', 'c', 'd'])
    const plan = planDrain({ chunks: all, node: 'a', targets: ['b', 'c', 'd'], used })
    expect(plan.stuck).toEqual([])
    expect(plan.moves).toHaveLength(60)
    const after = apply(all, plan.moves)
    for (const c of after) {
      expect(c.nodes).not.toContain('a')
      expect(new Set(c.nodes).size).toBe(2)
    }
    // The empty node takes most of them.
    expect(plan.moves.filter((m) => m.to === 'd').length).toBeGreaterThan(40)
  })

  it('reports chunks no node can take (every other node holds a copy)', () => {
    const all = chunks(3, ['a', 'b'])
    const plan = planDrain({ chunks: all, node: 'a', targets: ['b'], used: new Map([['b', 0]]) })
    expect(plan.moves).toEqual([])
    expect(plan.stuck).toHaveLength(3)
  })
})
