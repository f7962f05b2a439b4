// Recycled chunk memory (util/sha256.ts recycle) is kept by exact size, up to RECYCLED_LIMIT. The last
// chunk of every file has a size of its own: memory of sizes nobody asks for again must not fill the
// pool for good, or every later chunk-sized buffer is refused and cold reads go back to fresh memory
// for the rest of the process's life.

import { describe, expect, it } from 'vitest'
import { RECYCLED_LIMIT, fillableBuffer, holdShared, memoryCounts, recycle } from '../../src/util/sha256.js'

const MiB = 1024 * 1024
const nextTurn = () => new Promise(resolve => setImmediate(resolve))

/** A buffer the chunk cache held alone, given back. */
function recycled(size: number): Buffer {
  const data = fillableBuffer(size)
  holdShared(data)
  recycle(data)
  return data
}

describe('recycled memory of odd sizes', () => {
  it('still recycles a chunk once the pool filled up with the odd-sized last chunks of files', async () => {
    // Last chunks of files just under 4 MiB, each a size of its own, together past the limit.
    let odd = 0
    for (let i = 1; odd <= RECYCLED_LIMIT; i++) odd += recycled(4 * MiB - i * 4096).length
    await nextTurn()
    const before = { ...memoryCounts }
    const chunk = recycled(4 * MiB)
    await nextTurn()
    const again = fillableBuffer(4 * MiB)
    expect(memoryCounts.recycled - before.recycled).toBe(1)
    expect(again.buffer === chunk.buffer).toBe(true)
  })
})
