// toStat at scale: the blocks of a file with a large chunk map are summed once per map (maps are
// frozen and replaced on change), so a stat is not a walk of every chunk. Counted, never timed.

import { describe, expect, it } from 'vitest'
import { toStat } from '../../src/fs/stat.js'
import type { ChunkRef, Inode } from '../../src/meta/namespace/types.js'

const ref = (len: number): ChunkRef => Object.freeze({ id: 'c', len, sha256: '0'.repeat(64), nodes: Object.freeze(['n1']) })

/** A frozen chunk map that counts reads of its elements. */
function countedChunks(refs: (ChunkRef | null)[]) {
  const counter = { reads: 0 }
  const chunks = new Proxy(Object.freeze(refs), {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) counter.reads++
      return Reflect.get(target, key, receiver)
    },
  })
  return { chunks, counter }
}

const file = (chunks: readonly (ChunkRef | null)[]): Inode =>
  Object.freeze({ ino: 5, mode: 0o100644, uid: 0, gid: 0, nlink: 1, size: 3 * 4096, atime: 1, mtime: 1, ctime: 1, rdev: 0, chunks })

describe('toStat', () => {
  it('sums a chunk map once, however often the file is statted', () => {
    const { chunks, counter } = countedChunks([ref(4096), null, ref(100)])
    const inode = file(chunks)
    expect(toStat(inode).blocks).toBe(Math.ceil(4196 / 512))
    const afterFirst = counter.reads
    expect(afterFirst).toBe(3)
    for (let i = 0; i < 10; i++) expect(toStat(inode).blocks).toBe(Math.ceil(4196 / 512))
    expect(counter.reads).toBe(afterFirst)
    // A changed file has a new map: summed again, right.
    expect(toStat(file(Object.freeze([ref(4096), ref(4096)]))).blocks).toBe(16)
  })
})
