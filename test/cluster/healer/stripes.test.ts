// The healer keeps stripes whole (StripeRepair.ts), on a real cluster of local-folder nodes: a shard
// whose file was deleted, whose node folder was removed, or with a flipped byte is rebuilt from k
// verified shards onto a node that holds no shard of its stripe, the map records it, and the bytes
// verify; m lost shards are rebuilt in one repair; m + 1 are counted lost, with no crash. And a
// replicated chunk is kept at the copies its ref wants (ref.copies), not the cluster's R.

import { rm } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../../src/chunks/ChunkRef.js'
import { verifyChunk } from '../../../src/chunks/verify.js'
import { Healer, type HealerMeta, type HealerOptions } from '../../../src/cluster/healer/Healer.js'
import { copyStateOf, replicationCensus } from '../../../src/cluster/replication.js'
import { type HealCluster, makeHealCluster, randomChunk, until, recording } from '../healFixtures.js'
import { addStripeFile, expectStripeWhole, shardNodes } from '../stripeFixtures.js'

const KiB = 1024

let cluster: HealCluster | undefined
let healer: Healer | undefined
afterEach(async () => {
  await healer?.stop()
  healer = undefined
  if (process.env.DFS_TEST_LOG && cluster) console.log(cluster.logs.join('\n'))
  await cluster?.cleanup()
  cluster = undefined
})

function startHealer(c: HealCluster, options: HealerOptions = {}, meta: HealerMeta = c.meta): Healer {
  healer = new Healer({ meta, chunks: c.chunks, registry: c.registry, replicas: c.replicas, log: c.log, options: { scanIntervalMs: 60_000, hintDelayMs: 20, ...options } })
  healer.start()
  return healer
}

const idle = (h: Healer) => h.status().state === 'idle' && h.status().lastScanAt !== undefined

describe('a stripe with a lost shard', () => {
  it('gets a shard whose file was deleted back, rebuilt on a node holding none of its stripe', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 5, replicas: 2 }))
    const data = randomChunk(40 * KiB + 3)
    const ino = await addStripeFile(c, 'f', [{ data, k: 2, m: 1, on: [0, 1, 2] }])
    const before = c.ref(ino, 0)
    const { meta, records } = recording(c)
    const h = startHealer(c, {}, meta)
    await h.settle()
    expect(records).toEqual([]) // a whole stripe is left alone

    const lost = before.ec!.shards[1]!
    await rm(c.chunkPath(1, lost.id))
    h.reportBadCopy(before, c.nodes[1]!.nodeId, { code: 'CHUNK_MISSING' }) // as a degraded read reports it
    await h.settle()

    const after = c.ref(ino, 0)
    const nodes = shardNodes(c, after)
    expect(nodes[0]).toBe(0)
    expect(nodes[2]).toBe(2)
    expect([3, 4]).toContain(nodes[1])
    expect(after.ec!.shards.map((s) => s.id)).toEqual(before.ec!.shards.map((s) => s.id)) // same shard, same id and hash
    expect(records).toEqual([{ op: 'replicas', ino, index: 0, id: before.id, shard: 1, nodes: [c.nodes[nodes[1]!]!.nodeId] }])
    await expectStripeWhole(c, after, data)
    expect(h.status()).toMatchObject({ healedChunks: 1, badCopiesFound: 1, underReplicated: 0, unavailable: 0, lost: 0, failed: 0 })
  })

  it('rebuilds every shard of a node whose folder was removed once it is dead past the grace period', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const files: { ino: number; data: Buffer }[] = []
    for (let f = 0; f < 4; f++) {
      const data = randomChunk(16 * KiB + f * 1000)
      const on = [[0, 1, 2], [1, 0, 3], [2, 3, 0], [1, 2, 3]][f]!
      files.push({ ino: await addStripeFile(c, `f${f}`, [{ data, k: 2, m: 1, on }]), data })
    }
    const h = startHealer(c, { graceMs: 200 })
    await until(() => idle(h), 30_000, 'first scan')
    await rm(c.dirs[0]!, { recursive: true, force: true })
    c.registry.markDead(c.nodes[0]!.nodeId, 'test: folder removed')
    await until(() => h.status().healedChunks === 3 && idle(h), 30_000, 'three stripes healed')

    for (const { ino, data } of files) {
      const ref = c.ref(ino, 0)
      expect(shardNodes(c, ref)).not.toContain(0)
      await expectStripeWhole(c, ref, data)
    }
    expect(h.status()).toMatchObject({ underReplicated: 0, unavailable: 0, waitingForGrace: 0, lost: 0, failed: 0 })
  })

  it('replaces a shard with a flipped byte, and deletes the corrupt copy only once the map no longer lists it', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const data = randomChunk(24 * KiB)
    const ino = await addStripeFile(c, 'f', [{ data, k: 2, m: 1, on: [0, 1, 2] }])
    const ref = c.ref(ino, 0)
    const bad = ref.ec!.shards[0]!
    await c.flipByte(0, bad.id)
    const h = startHealer(c)
    await h.settle()
    h.reportBadCopy(ref, c.nodes[0]!.nodeId, { code: 'CHUNK_CORRUPT' })
    await h.settle()

    const after = c.ref(ino, 0)
    expect(shardNodes(c, after)).toEqual([3, 1, 2])
    await expectStripeWhole(c, after, data) // the corrupt copy on node 0 is gone too
    expect(h.status()).toMatchObject({ healedChunks: 1, corruptRemoved: 1, badCopiesFound: 1, failed: 0 })
  })

  it('puts a missing shard back on its own node when every other node holds a shard of the stripe', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const data = randomChunk(10 * KiB)
    const ino = await addStripeFile(c, 'f', [{ data, k: 2, m: 1, on: [0, 1, 2] }])
    const ref = c.ref(ino, 0)
    await rm(c.chunkPath(2, ref.ec!.shards[2]!.id))
    const h = startHealer(c)
    await h.settle()
    h.reportBadCopy(ref, c.nodes[2]!.nodeId, { code: 'CHUNK_MISSING' })
    await h.settle()
    expect(shardNodes(c, c.ref(ino, 0))).toEqual([0, 1, 2])
    await expectStripeWhole(c, c.ref(ino, 0), data)
    expect(h.status()).toMatchObject({ healedChunks: 1, lost: 0, failed: 0 })
  })

  it('completes a stripe written with fewer than k + m shards, and rebuilds one a node no longer reports', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const short = randomChunk(12 * KiB)
    const unreported = randomChunk(12 * KiB)
    const shortIno = await addStripeFile(c, 'short', [{ data: short, k: 2, m: 1, on: [0, 1, undefined] }]) // a write that stored k
    const ino = await addStripeFile(c, 'unreported', [{ data: unreported, k: 2, m: 1, on: [3, 1, 2] }])
    const h = startHealer(c)
    await h.settle()
    expect(shardNodes(c, c.ref(shortIno, 0))[2]).toBeOneOf([2, 3])
    await expectStripeWhole(c, c.ref(shortIno, 0), short)

    const ref = c.ref(ino, 0)
    await rm(c.chunkPath(3, ref.ec!.shards[0]!.id))
    c.registry.emit('report', { nodeId: c.nodes[3]!.nodeId, ids: await c.nodes[3]!.list() }) // a heartbeat's inventory
    await until(() => h.status().healedChunks === 2 && idle(h), 30_000, 'the unreported shard rebuilt')
    expect(shardNodes(c, c.ref(ino, 0))).toEqual([0, 1, 2])
    await expectStripeWhole(c, c.ref(ino, 0), unreported)
  })

  it('changes nothing on a report that proves false', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const data = randomChunk(10 * KiB)
    const ino = await addStripeFile(c, 'f', [{ data, k: 2, m: 1, on: [0, 1, 2] }])
    const { meta, records } = recording(c)
    const h = startHealer(c, {}, meta)
    await h.settle()
    h.reportBadCopy(c.ref(ino, 0), c.nodes[1]!.nodeId, { code: 'CHUNK_CORRUPT' })
    await h.settle()
    expect(records).toEqual([])
    expect(c.nodes.map((n) => n.puts.length)).toEqual([0, 0, 0, 0])
    await expectStripeWhole(c, c.ref(ino, 0), data)
  })
})

describe('a dead node under replicated and erasure-coded files alike', () => {
  it('heals both: copies back to R, shards rebuilt elsewhere, every byte intact', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 5, replicas: 2 }))
    const replicated: { ino: number; data: Buffer }[] = []
    const coded: { ino: number; data: Buffer }[] = []
    for (let f = 0; f < 3; f++) {
      const data = randomChunk(12 * KiB + f)
      replicated.push({ ino: await c.addFile(`r${f}`, [data], [[0, f + 1]]), data })
      const codedData = randomChunk(20 * KiB + f)
      coded.push({ ino: await addStripeFile(c, `e${f}`, [{ data: codedData, k: 2, m: 2, on: [0, 1, 2, 3].map((n) => (n + f) % 4) }]), data: codedData })
    }
    const h = startHealer(c, { graceMs: 200 })
    await until(() => idle(h), 30_000, 'first scan')
    await rm(c.dirs[0]!, { recursive: true, force: true })
    c.registry.markDead(c.nodes[0]!.nodeId, 'test: folder removed')
    await until(() => h.status().healedChunks === 6 && idle(h), 30_000, 'six chunks healed')

    for (const { ino, data } of replicated) {
      const ref = c.ref(ino, 0)
      expect(ref.nodes).toHaveLength(2)
      expect(ref.nodes).not.toContain(c.nodes[0]!.nodeId)
      for (const nodeId of ref.nodes) expect((await c.nodes[c.indexOf(nodeId)]!.get(ref.id)).equals(data)).toBe(true)
    }
    for (const { ino, data } of coded) {
      expect(shardNodes(c, c.ref(ino, 0))).not.toContain(0)
      await expectStripeWhole(c, c.ref(ino, 0), data)
    }
    expect(h.status()).toMatchObject({ underReplicated: 0, unavailable: 0, waitingForGrace: 0, lost: 0, failed: 0 })
  })
})

describe('a stripe written and read through the chunk store', () => {
  it('is healed after a degraded read finds a shard file gone, and then reads whole', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const data = randomChunk(50 * KiB + 1)
    const ref = await c.chunks.write(data, { kind: 'ec', k: 2, m: 1 })
    await c.chunks.sync([ref])
    const { ino } = c.meta.commit({ op: 'mknod', parent: 1, name: 'f', mode: 0o100644, uid: 0, gid: 0, time: Date.now() }) as { ino: number }
    c.meta.commit({ op: 'chunk', ino, index: 0, ref, size: data.length, mtime: Date.now(), ctime: Date.now() })
    const h = startHealer(c)
    await h.settle()

    const victim = shardNodes(c, ref)[0]! // a data shard: the fast path needs it
    const spare = [0, 1, 2, 3].find((i) => !shardNodes(c, ref).includes(i))!
    await rm(c.chunkPath(victim, ref.ec!.shards[0]!.id))
    expect((await c.chunks.read(ref)).equals(data)).toBe(true) // degraded: rebuilt within the read, the bad shard reported
    await until(() => h.status().healedChunks === 1 && idle(h), 30_000, 'the stripe healed')

    const after = c.ref(ino, 0)
    expect(shardNodes(c, after)[0]).toBe(spare)
    await expectStripeWhole(c, after, data)
    expect((await c.chunks.read(after)).equals(data)).toBe(true)
    expect(h.status()).toMatchObject({ underReplicated: 0, unavailable: 0, lost: 0, failed: 0 })
  })
})

describe('copies of shards where the map does not list them', () => {
  it('adopts an intact copy for a shard that lost its own, and drops a copy of a shard that is whole', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 5, replicas: 2 }))
    const data = randomChunk(20 * KiB)
    const ino = await addStripeFile(c, 'f', [{ data, k: 2, m: 1, on: [0, 1, 2] }])
    const ref = c.ref(ino, 0)
    const [s0, s1] = ref.ec!.shards
    await c.nodes[3]!.inner.put(s0!.id, await c.nodes[0]!.get(s0!.id), s0!.sha256) // a rebuild that was cut short
    await c.nodes[4]!.inner.put(s1!.id, await c.nodes[1]!.get(s1!.id), s1!.sha256) // a move that was cut short
    await rm(c.chunkPath(0, s0!.id))
    const h = startHealer(c)
    // All news at once: the repair confirms shard 0 missing before it looks at the extra copies.
    h.reportBadCopy(ref, c.nodes[0]!.nodeId, { code: 'CHUNK_MISSING' })
    h.reportExtraCopy(ref, c.nodes[3]!.nodeId)
    h.reportExtraCopy(ref, c.nodes[4]!.nodeId)
    await h.settle()

    expect(shardNodes(c, c.ref(ino, 0))).toEqual([3, 1, 2])
    expect(c.nodes.map((n) => n.puts.length)).toEqual([0, 0, 0, 0, 0]) // nothing rebuilt: adopted
    await expectStripeWhole(c, c.ref(ino, 0), data) // and the extra copy of shard 1 on node 4 is gone
    // An orphan sweep that listed node 4 before the trim reports that copy again: looked at, found gone.
    await until(() => idle(h) && h.status().overReplicated === 0, 30_000, 'no extra copy left')
    expect(h.status()).toMatchObject({ trimmedCopies: 1, failed: 0 })
  })
})

describe('a stripe the file drops during its repair', () => {
  it('is not recorded, and the shard rebuilt for it is deleted again', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const ino = await addStripeFile(c, 'f', [{ data: randomChunk(10 * KiB), k: 2, m: 1, on: [0, 1, 2] }])
    const ref = c.ref(ino, 0)
    await rm(c.chunkPath(0, ref.ec!.shards[0]!.id))
    const { meta, records } = recording(c)
    const h = startHealer(c, {}, meta)
    await h.settle()
    const release = c.nodes[3]!.holdPuts({ after: true }) // the rebuilt shard lands, then waits
    h.reportBadCopy(ref, c.nodes[0]!.nodeId, { code: 'CHUNK_MISSING' })
    await until(() => c.nodes[3]!.waiting === 1, 30_000, 'the rebuilt shard put')
    expect(c.holders(ref.ec!.shards[0]!.id)).toEqual([3])
    const replacement = await c.storeOn(randomChunk(4 * KiB), [1, 2])
    c.meta.commit({ op: 'chunk', ino, index: 0, ref: replacement, size: 4 * KiB, mtime: Date.now(), ctime: Date.now() })
    release()
    await h.settle()

    expect(records).toEqual([])
    expect(c.holders(ref.ec!.shards[0]!.id)).toEqual([])
    expect(h.status()).toMatchObject({ healedChunks: 0, underReplicated: 0, unavailable: 0, lost: 0 })
  })
})

describe('a stripe with several lost shards', () => {
  it('rebuilds two lost shards of an ec:2+2 stripe in one repair', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 6, replicas: 2 }))
    const data = randomChunk(33 * KiB + 5)
    const ino = await addStripeFile(c, 'f', [{ data, k: 2, m: 2, on: [0, 1, 2, 3] }])
    const ref = c.ref(ino, 0)
    await rm(c.chunkPath(0, ref.ec!.shards[0]!.id)) // a data shard
    await c.flipByte(3, ref.ec!.shards[3]!.id) // a parity shard
    const h = startHealer(c)
    await h.settle()
    h.reportBadCopy(ref, c.nodes[0]!.nodeId, { code: 'CHUNK_MISSING' })
    h.reportBadCopy(ref, c.nodes[3]!.nodeId, { code: 'CHUNK_CORRUPT' })
    await h.settle()

    const after = c.ref(ino, 0)
    const nodes = shardNodes(c, after)
    expect(nodes.slice(1, 3)).toEqual([1, 2])
    expect([nodes[0], nodes[3]].sort()).toEqual([4, 5])
    await expectStripeWhole(c, after, data)
    expect(h.status()).toMatchObject({ healedChunks: 1, badCopiesFound: 2, corruptRemoved: 1, lost: 0, failed: 0 })
  })

  it('counts a stripe with m + 1 lost shards unavailable and lost, records only its missing shards, and heals the others', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const gone = randomChunk(12 * KiB)
    const fine = randomChunk(12 * KiB)
    const goneIno = await addStripeFile(c, 'gone', [{ data: gone, k: 2, m: 1, on: [0, 1, 2] }])
    const fineIno = await addStripeFile(c, 'fine', [{ data: fine, k: 2, m: 1, on: [0, 1, 2] }])
    const goneRef = c.ref(goneIno, 0)
    await rm(c.chunkPath(0, goneRef.ec!.shards[0]!.id))
    await rm(c.chunkPath(1, goneRef.ec!.shards[1]!.id))
    await rm(c.chunkPath(0, c.ref(fineIno, 0).ec!.shards[0]!.id))
    const { meta, records } = recording(c)
    const h = startHealer(c, {}, meta)
    await h.settle()
    for (const ref of [goneRef, c.ref(fineIno, 0)]) h.reportBadCopy(ref, c.nodes[0]!.nodeId, { code: 'CHUNK_MISSING' })
    h.reportBadCopy(goneRef, c.nodes[1]!.nodeId, { code: 'CHUNK_MISSING' })
    await h.settle()

    expect(h.status()).toMatchObject({ lost: 1, unavailable: 1, underReplicated: 0, healedChunks: 1 })
    expect(h.status().failed).toBeGreaterThanOrEqual(1)
    // For the lost stripe, only that its missing shards are on no node (so it stays counted lost).
    expect(records.filter((r) => (r as { ino: number }).ino === goneIno)).toEqual([0, 1].map((shard) => ({ op: 'replicas', ino: goneIno, index: 0, id: goneRef.id, shard, nodes: [] })))
    expect(shardNodes(c, c.ref(goneIno, 0))).toEqual([undefined, undefined, 2])
    expect(c.holders(goneRef.ec!.shards[2]!.id)).toEqual([2]) // the one intact shard is kept
    expect(c.logs.join('\n')).toContain(`chunk ${goneRef.id} (inode ${goneIno}, chunk 0, ec 2+1) has 1 intact shard within reach; 2 are needed`)
    await expectStripeWhole(c, c.ref(fineIno, 0), fine)

    const recorded = records.length
    await h.settle() // looked at again: still lost, still no crash, nothing more recorded
    expect(h.status()).toMatchObject({ lost: 1, unavailable: 1 })
    expect(records).toHaveLength(recorded)
  })
})

describe('a lost stripe as the views see it', () => {
  it('only its shards found missing or corrupt are known bad: the intact one is not (dfs info, dfs status, /metrics)', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const ino = await addStripeFile(c, 'gone', [{ data: randomChunk(12 * KiB), k: 2, m: 2, on: [0, 1, 2, 3] }])
    const ref = c.ref(ino, 0)
    await rm(c.chunkPath(0, ref.ec!.shards[0]!.id))
    await rm(c.chunkPath(1, ref.ec!.shards[1]!.id))
    await c.flipByte(2, ref.ec!.shards[2]!.id)
    const h = startHealer(c)
    await h.settle()
    for (const i of [0, 1, 2]) h.reportBadCopy(ref, c.nodes[i]!.nodeId, { code: i === 2 ? 'CHUNK_CORRUPT' : 'CHUNK_MISSING' })
    await h.settle()
    expect(h.status()).toMatchObject({ lost: 1, unavailable: 1 })

    const node = (i: number) => c.nodes[i]!.nodeId
    expect(h.isKnownBad(node(2), ref.id), 'the corrupt shard, still listed').toBe(true)
    expect(h.isKnownBad(node(3), ref.id), 'the one intact shard: all that is left, not bad').toBe(false)
    const census = replicationCensus(c.meta.state, c.replicas, copyStateOf(c.registry, 60_000, Date.now(), h.isKnownBad))
    expect(census.byMissingShards, 'missing 3 shards of 4, not 4').toEqual([0, 0, 0, 1])
  })
})

describe('a replicated chunk that wants its own number of copies', () => {
  it('is healed to copies 3 when R is 2, and one that wants 1 copy is not copied', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const three = randomChunk(8 * KiB)
    const one = randomChunk(8 * KiB)
    const ino = await c.addFile('f', [three, one], [[0, 1, 2], [1]])
    const withCopies = (index: number, copies: number) => {
      const ref = c.ref(ino, index)
      c.meta.commit({ op: 'chunk', ino, index, ref: { ...ref, copies }, size: 16 * KiB, mtime: Date.now(), ctime: Date.now() })
    }
    withCopies(0, 3)
    withCopies(1, 1)
    const h = startHealer(c, { graceMs: 200 })
    await until(() => idle(h), 30_000, 'first scan')
    expect(h.status()).toMatchObject({ underReplicated: 0, overReplicated: 0, copiedChunks: 0 })

    await rm(c.dirs[0]!, { recursive: true, force: true })
    c.registry.markDead(c.nodes[0]!.nodeId, 'test: folder removed')
    await until(() => h.status().healedChunks === 1 && idle(h), 30_000, 'the copies-3 chunk healed')
    const ref: ChunkRef = c.ref(ino, 0)
    expect([...ref.nodes].sort()).toEqual([1, 2, 3].map((i) => c.nodes[i]!.nodeId).sort())
    for (const nodeId of ref.nodes) await verifyChunk(ref, await c.nodes[c.indexOf(nodeId)]!.get(ref.id))
    expect(c.ref(ino, 1).nodes).toEqual([c.nodes[1]!.nodeId])
    expect(c.holders(c.ref(ino, 1).id)).toEqual([1])
    expect(h.status()).toMatchObject({ underReplicated: 0, copiedChunks: 1, trimmedCopies: 0 })
  })
})
