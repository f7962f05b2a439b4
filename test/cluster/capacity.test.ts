// What files can take with R copies, from each device's space and how many nodes store on it.

import { describe, expect, it } from 'vitest'
import { clusterCapacity, replicatedSpace } from '../../src/cluster/capacity.js'

const GiB = 2 ** 30
const MiB = 2 ** 20

describe('replicatedSpace', () => {
  it('is the sum over R when the devices are alike', () => {
    expect(replicatedSpace([{ bytes: 100, nodes: 1 }, { bytes: 100, nodes: 1 }, { bytes: 100, nodes: 1 }], 2)).toBe(150)
  })
  it('holds a small disk beside a big one only as often as the small one can take a copy', () => {
    expect(replicatedSpace([{ bytes: 20 * MiB, nodes: 1 }, { bytes: 252 * GiB, nodes: 1 }], 2)).toBe(20 * MiB)
  })
  it('lets folders on one disk hold several copies of a chunk, up to R', () => {
    expect(replicatedSpace([{ bytes: 252 * GiB, nodes: 3 }], 2)).toBe(126 * GiB)
    expect(replicatedSpace([{ bytes: 252 * GiB, nodes: 1 }], 2)).toBe(0)
  })
  it('meets in the middle: one big disk and two small ones', () => {
    // U = 10 + 10 (the small ones full) + U (the big one) ≥ 2U until U = 20; then sum/2 would say 60.
    expect(replicatedSpace([{ bytes: 10, nodes: 1 }, { bytes: 10, nodes: 1 }, { bytes: 100, nodes: 1 }], 2)).toBe(20)
    expect(replicatedSpace([{ bytes: 60, nodes: 1 }, { bytes: 60, nodes: 1 }, { bytes: 100, nodes: 1 }], 3)).toBe(60)
  })
})

describe('clusterCapacity', () => {
  it('counts a device once and gives df the space R copies really have', () => {
    const usage = (device: string, capacity: number, available: number) => ({ capacity, available, used: 0, chunks: 0, device })
    const c = clusterCapacity([
      { address: 'a', usage: usage('tmpfs', 20 * MiB, 20 * MiB) },
      { address: 'b', usage: usage('disk', 252 * GiB, 79 * GiB) },
      { address: 'c', usage: usage('disk', 252 * GiB, 79 * GiB) },
    ], 2)
    expect(c.devices).toBe(2)
    expect(c.capacity).toBe(252 * GiB + 20 * MiB)
    expect(c.usableCapacity).toBe(Math.floor((252 * GiB + 20 * MiB) / 2))
    expect(c.usableAvailable).toBe(Math.floor((79 * GiB + 20 * MiB) / 2))
  })
})
