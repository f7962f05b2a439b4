// Hashes per chunk on the write and read paths, with local-folder nodes: a chunk written to R = 2
// nodes is hashed twice (by the writer, then once for both nodes' put checks), a chunk read back once
// (its verification), and none of them copies the bytes first (src/util/sha256.ts). A stripe's shards
// are views of one hashable allocation: hashed without a copy too.

import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { hashCounts, hashableBuffer } from '../../src/util/sha256.js'
import { makeCluster, type TestCluster } from './fakes.js'

let cluster: TestCluster | undefined
afterEach(async () => {
  await cluster?.cleanup()
  cluster = undefined
})

async function counted(run: () => Promise<unknown>): Promise<typeof hashCounts> {
  const before = { ...hashCounts }
  await run()
  return { inline: hashCounts.inline - before.inline, shared: hashCounts.shared - before.shared, copied: hashCounts.copied - before.copied, whileRead: hashCounts.whileRead - before.whileRead }
}

describe('ChunkStore hashing', () => {
  it('hashes a 4 MiB chunk twice to write it to 2 local nodes, once to read it back (on the thread that reads it), and copies it for neither', async () => {
    const c = (cluster = await makeCluster(3, { replicas: 2 }))
    const data = hashableBuffer(4 * 1024 * 1024)
    randomBytes(data.length).copy(data)
    let ref: Awaited<ReturnType<typeof c.store.write>> | undefined
    expect(await counted(async () => { ref = await c.store.write(data) })).toEqual({ inline: 0, shared: 2, copied: 0, whileRead: 0 })
    expect(ref!.nodes).toHaveLength(2)
    let back: Buffer | undefined
    // Hashed by the reader thread that read it from disk, in the same job (datanode/chunkReaders.ts), not again.
    expect(await counted(async () => { back = await c.store.read(ref!) })).toEqual({ inline: 0, shared: 0, copied: 0, whileRead: 1 })
    expect(back!.equals(data)).toBe(true)
  })

  it('hashes a 4 MiB chunk as ec:2+1 once plus once per shard (and each node once), reads back its 2 data shards with 2 hashes (on the threads that read them), copying for none', async () => {
    const c = (cluster = await makeCluster(3, { replicas: 2 }))
    const data = hashableBuffer(4 * 1024 * 1024)
    randomBytes(data.length).copy(data)
    let ref: Awaited<ReturnType<typeof c.store.write>> | undefined
    // The chunk, its 3 shards of 2 MiB, and each node's put check of its shard.
    expect(await counted(async () => { ref = await c.store.write(data, { kind: 'ec', k: 2, m: 1 }) })).toEqual({ inline: 0, shared: 7, copied: 0, whileRead: 0 })
    c.store.cache.clear()
    let back: Buffer | undefined
    expect(await counted(async () => { back = await c.store.read(ref!) })).toEqual({ inline: 0, shared: 0, copied: 0, whileRead: 2 })
    expect(back!.equals(data)).toBe(true)
  })
})
