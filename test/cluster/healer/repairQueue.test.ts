// The healer's queue ranks a stripe by the shards it can still lose, as a replicated chunk by its
// copies: an ec:4+2 stripe with 4 good shards (one more loss and it is unreadable) goes before a
// chunk with 2 good copies, one with 5 alongside it.

import { describe, expect, it } from 'vitest'
import { RepairQueue } from '../../../src/cluster/healer/RepairQueue.js'

describe('RepairQueue with stripes', () => {
  it('serves a stripe at k good shards with chunks at one copy, before chunks with two', () => {
    const queue = new RepairQueue()
    queue.add({ id: 'two copies', ino: 2, index: 0, good: 2, bytes: 0 })
    queue.add({ id: 'stripe at k+1', ino: 3, index: 0, good: 5, urgency: 2, bytes: 0 })
    queue.add({ id: 'stripe at k', ino: 4, index: 0, good: 4, urgency: 1, bytes: 0 })
    queue.add({ id: 'one copy', ino: 5, index: 0, good: 1, bytes: 0 })
    const order: string[] = []
    for (let item = queue.shift(); item; item = queue.shift()) order.push(item.id)
    expect(order).toEqual(['stripe at k', 'one copy', 'two copies', 'stripe at k+1'])
  })
})
