// dfs policy apply at the NameNode, on a real cluster of local-folder nodes with a real MetaStore (no
// FUSE): replicas -> ec:2+1 -> replicas on 3 nodes keeps every byte, deletes the old pieces and
// leaves the overhead measured on disk at (k+m)/k, then R; a client that replaces a chunk during the
// conversion wins; cancel ends the job with every chunk converted or untouched; a node failing half
// way leaves the file readable; bad input changes nothing.
//
// Chunks are written and read by the cluster's ChunkStore, in any layout, as at the NameNode.

import { stat } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../../src/chunks/ChunkRef.js'
import { MIN_SHARD_BYTES, layoutOf, shardLength, storedBytes, storedIds } from '../../../src/chunks/layout.js'
import { ChunkLocks } from '../../../src/cluster/chunkLocks.js'
import { OrphanCollector } from '../../../src/cluster/healer/OrphanCollector.js'
import { type ConverterOptions, PolicyConverter } from '../../../src/cluster/convert/PolicyConverter.js'
import type { ConvertIO } from '../../../src/cluster/convert/convertChunk.js'
import { TokenBucket } from '../../../src/cluster/healer/TokenBucket.js'
import { dfsError } from '../../../src/errors.js'
import { POLICY_XATTR } from '../../../src/meta/namespace/policy.js'
import { type Inode, ROOT_INO, S_IFDIR, S_IFREG } from '../../../src/meta/namespace/types.js'
import { countLoopTurns } from '../../helpers/loopTurns.js'
import { sha256Of } from '../../helpers/sha256.js'
import { type HealCluster, makeHealCluster, randomChunk, until } from '../healFixtures.js'

const KiB = 1024
// The short chunks of the files below: still stripes under ec:2+1 (a chunk under k × MIN_SHARD_BYTES
// is stored as m + 1 copies; the tests of that rule are at the end).
const TAIL = 2 * MIN_SHARD_BYTES + 1000
const SMALL = 2 * MIN_SHARD_BYTES + 10

let cluster: HealCluster | undefined
let converter: PolicyConverter | undefined
afterEach(async () => {
  await converter?.stop()
  converter = undefined
  if (process.env.DFS_TEST_LOG && cluster) console.log(cluster.logs.join('\n'))
  await cluster?.cleanup()
  cluster = undefined
})

const now = () => Date.now()

function mkdir(c: HealCluster, parent: number, name: string): number {
  return (c.meta.commit({ op: 'mknod', parent, name, mode: S_IFDIR | 0o755, uid: 0, gid: 0, time: now() }) as Inode).ino
}

function setPolicy(c: HealCluster, dir: number, policy: string): void {
  c.meta.commit({ op: 'xattr', ino: dir, name: POLICY_XATTR, value: Buffer.from(policy).toString('base64'), flags: 0, time: now() })
}

/** A file of `chunks` chunks written as a client writes them: replicated in the cluster's R. */
async function addFile(c: HealCluster, dir: number, name: string, chunks: Buffer[]): Promise<number> {
  const { ino } = c.meta.commit({ op: 'mknod', parent: dir, name, mode: S_IFREG | 0o644, uid: 0, gid: 0, time: now() }) as Inode
  let size = 0
  for (const [index, bytes] of chunks.entries()) {
    const ref = await c.chunks.write(bytes)
    await c.chunks.sync([ref])
    size += bytes.length
    c.meta.commit({ op: 'chunk', ino, index, ref, base: null, size, grow: true, mtime: now(), ctime: now() })
  }
  await c.meta.sync()
  return ino
}

const refsOf = (c: HealCluster, ino: number): ChunkRef[] => (c.meta.state.inodes.get(ino)?.chunks ?? []).filter((r): r is ChunkRef => r !== null)

async function contentOf(c: HealCluster, io: ConvertIO, ino: number): Promise<Buffer> {
  const parts: Buffer[] = []
  for (const ref of refsOf(c, ino)) parts.push(await io.read(ref))
  return Buffer.concat(parts).subarray(0, c.meta.state.inodes.get(ino)!.size)
}

/** Chunk files on every node's disk, by id (pieces: copies and shards). */
async function piecesOnDisk(c: HealCluster): Promise<Set<string>> {
  const ids = new Set<string>()
  for (const node of c.nodes) for (const id of await node.inner.list()) ids.add(id)
  return ids
}

function referencedPieces(c: HealCluster): Set<string> {
  const ids = new Set<string>()
  for (const inode of c.meta.state.inodes.values()) for (const ref of inode.chunks ?? []) if (ref) for (const id of storedIds(ref)) ids.add(id)
  return ids
}

/** Bytes of the file's pieces as found on the nodes' disks, per byte of file data. */
async function measuredOverhead(c: HealCluster, ino: number): Promise<number> {
  let onDisk = 0
  for (const ref of refsOf(c, ino)) {
    for (const piece of ref.ec ? ref.ec.shards : [ref]) {
      for (const i of c.holders(piece.id)) onDisk += (await stat(c.chunkPath(i, piece.id))).size
    }
  }
  return onDisk / c.meta.state.inodes.get(ino)!.size
}

function startConverter(c: HealCluster, io: ConvertIO, options: ConverterOptions = {}, locks = new ChunkLocks()): PolicyConverter {
  converter = new PolicyConverter({
    meta: c.meta, io, replicas: c.replicas, nodeCount: () => c.registry.ids().length, locks, bandwidth: new TokenBucket(0), log: c.log,
    deleteChunks: (ids) => c.chunks.delete(ids),
    options,
  })
  return converter
}

/** /cold with a 5-chunk file (the last one short) and a 1-chunk file, and /hot beside it with one file. */
async function coldAndHot(c: HealCluster) {
  const cold = mkdir(c, ROOT_INO, 'cold')
  const hot = mkdir(c, ROOT_INO, 'hot')
  const big = [randomChunk(64 * KiB), randomChunk(64 * KiB), randomChunk(64 * KiB), randomChunk(64 * KiB), randomChunk(TAIL)]
  const files = {
    big: await addFile(c, cold, 'big', big),
    small: await addFile(c, mkdir(c, cold, 'sub'), 'small', [randomChunk(SMALL)]),
    hot: await addFile(c, hot, 'h', [randomChunk(64 * KiB)]),
  }
  return { cold, hot, files }
}

describe('dfs policy apply (PolicyConverter)', () => {
  it('replicas -> ec:2+1 -> replicas on 3 nodes: every byte kept, old pieces deleted, overhead (k+m)/k then R', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const io = c.chunks
    const { cold, files } = await coldAndHot(c)
    const before = new Map<number, string>()
    for (const ino of Object.values(files)) before.set(ino, sha256Of(await contentOf(c, io, ino)))
    const size = c.meta.state.inodes.get(files.big)!.size
    const mtime = c.meta.state.inodes.get(files.big)!.mtime
    const oldPieces = [...refsOf(c, files.big), ...refsOf(c, files.small)].flatMap(storedIds)
    const hotRefs = refsOf(c, files.hot)
    expect(await measuredOverhead(c, files.big)).toBe(2)

    setPolicy(c, cold, 'ec:2+1')
    const conv = startConverter(c, io)
    expect(conv.start('/cold')).toMatchObject({ id: 1, path: '/cold', policy: 'ec:2+1', state: 'running' })
    expect(() => conv.start('/cold'), 'a second job while one runs').toThrow(expect.objectContaining({ code: 'ALREADY_RUNNING' }))
    const done = (await conv.settle())!
    expect(done).toMatchObject({ state: 'done', filesTotal: 2, filesDone: 2, chunksTotal: 6, chunksDone: 6, failedChunks: 0, skippedChunks: 0 })
    expect(done.bytesTotal).toBe(4 * 64 * KiB + TAIL + SMALL)
    expect(done.bytesDone).toBe(done.bytesTotal)

    for (const ref of [...refsOf(c, files.big), ...refsOf(c, files.small)]) {
      expect(layoutOf(ref, 2)).toEqual({ kind: 'ec', k: 2, m: 1 })
      expect(new Set(ref.ec!.shards.flatMap((s) => s.nodes)).size, 'shards on distinct nodes').toBe(3)
    }
    expect(refsOf(c, files.hot), 'outside the directory: untouched').toEqual(hotRefs)
    for (const [ino, hash] of before) expect(sha256Of(await contentOf(c, io, ino)), `inode ${ino}`).toBe(hash)
    expect(c.meta.state.inodes.get(files.big)).toMatchObject({ size, mtime })
    // The old copies are gone from every node; nothing on disk that no file references.
    for (const id of oldPieces) expect(c.holders(id), `old piece ${id}`).toEqual([])
    expect(await piecesOnDisk(c)).toEqual(referencedPieces(c))
    // Bytes on disk per byte of data: 3 shards of half a chunk, plus < 8 bytes of padding per shard.
    const ecOverhead = await measuredOverhead(c, files.big)
    expect(ecOverhead).toBeGreaterThanOrEqual(1.5)
    expect(ecOverhead).toBeLessThan(1.5 + (3 * 8 * 5) / size)
    expect(storedBytes(refsOf(c, files.big)[4])).toBe(3 * shardLength(TAIL, 2))
    expect(done.storedBefore).toBe(2 * done.bytesTotal)
    expect(done.storedAfter).toBe([...refsOf(c, files.big), ...refsOf(c, files.small)].reduce((a, r) => a + storedBytes(r), 0))

    // A second apply finds nothing to do.
    conv.start('/cold')
    expect((await conv.settle())!).toMatchObject({ id: 2, state: 'done', filesTotal: 0, chunksTotal: 0, chunksDone: 0 })

    // And back: the policy removed, the cluster's R is in force again.
    const shards = [...refsOf(c, files.big), ...refsOf(c, files.small)].flatMap(storedIds)
    c.meta.commit({ op: 'xattr', ino: cold, name: POLICY_XATTR, value: null, flags: 0, time: now() })
    conv.start('/')
    expect((await conv.settle())!).toMatchObject({ state: 'done', policy: 'replicas:2', filesTotal: 2, chunksDone: 6, failedChunks: 0 })
    for (const ref of refsOf(c, files.big)) expect(layoutOf(ref, 2)).toEqual({ kind: 'replicas', copies: 2 })
    for (const [ino, hash] of before) expect(sha256Of(await contentOf(c, io, ino)), `inode ${ino}`).toBe(hash)
    for (const id of shards) expect(c.holders(id), `old shard ${id}`).toEqual([])
    expect(await piecesOnDisk(c)).toEqual(referencedPieces(c))
    expect(await measuredOverhead(c, files.big)).toBe(2)
  })

  it('a client replacing a chunk during its conversion wins: the converter records nothing for it and removes what it wrote', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const io = c.chunks
    const { cold, files } = await coldAndHot(c)
    setPolicy(c, cold, 'ec:2+1')
    const conv = startConverter(c, io, { concurrency: 1 })
    const first = refsOf(c, files.big)[0]
    const release = c.nodes[0].holdPuts() // the converter's shard puts wait here (the client's bypass the gate)
    conv.start('/cold')
    await until(() => c.nodes[0].waiting > 0, 30_000, 'the first shard put to wait')

    // The client's new version of chunk 0 commits while the converter is writing its stripe.
    const mine = randomChunk(64 * KiB)
    const ref = await c.storeOn(mine, [1, 2])
    const replaced = c.meta.commit({ op: 'chunk', ino: files.big, index: 0, ref, base: first.id, size: 64 * KiB, grow: true, mtime: now(), ctime: now() })
    expect((replaced as ChunkRef).id).toBe(first.id)
    await c.chunks.delete([first.id]) // as the NameNode deletes a chunk a commit dropped
    release()

    const done = (await conv.settle())!
    expect(done).toMatchObject({ state: 'done', chunksTotal: 6, chunksDone: 5, skippedChunks: 1, failedChunks: 0, filesDone: 2 })
    expect(refsOf(c, files.big)[0]).toEqual(ref)
    expect((await contentOf(c, io, files.big)).subarray(0, 64 * KiB).equals(mine)).toBe(true)
    // The stripe written for the old version is nobody's: deleted.
    expect(await piecesOnDisk(c)).toEqual(referencedPieces(c))
  })

  it('cancel: the job ends after the chunk in flight; every chunk converted or untouched, every byte kept', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const io = c.chunks
    const { cold, files } = await coldAndHot(c)
    const hash = sha256Of(await contentOf(c, io, files.big))
    setPolicy(c, cold, 'ec:2+1')
    const conv = startConverter(c, io, { concurrency: 1 })
    const release = c.nodes[0].holdPuts()
    conv.start('/cold')
    await until(() => c.nodes[0].waiting > 0, 30_000, 'a shard put to wait')
    const cancelled = conv.cancel()
    release()
    const s = await cancelled
    expect(s.state).toBe('cancelled')
    expect(s.chunksDone).toBeGreaterThanOrEqual(1)
    expect(s.chunksDone).toBeLessThan(s.chunksTotal)
    expect(sha256Of(await contentOf(c, io, files.big))).toBe(hash)
    expect(await piecesOnDisk(c)).toEqual(referencedPieces(c))
    await expect(conv.cancel()).rejects.toMatchObject({ code: 'NOT_RUNNING' })
    // Run again: it finishes the rest.
    conv.start('/cold')
    expect((await conv.settle())!).toMatchObject({ state: 'done', chunksTotal: 6 - s.chunksDone, failedChunks: 0 })
    expect(sha256Of(await contentOf(c, io, files.big))).toBe(hash)
  })

  it('a node failing half way: the chunks not converted keep their layout, the file stays readable', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const base = c.chunks
    const { cold, files } = await coldAndHot(c)
    const hash = sha256Of(await contentOf(c, base, files.big))
    setPolicy(c, cold, 'ec:2+1')
    const failing = c.nodes[2]
    let writes = 0
    const io: ConvertIO = {
      ...base,
      read: (ref) => base.read(ref),
      sync: (refs) => base.sync(refs),
      async write(data, layout) {
        // After two stripes, node 3 fails: its puts and its reads.
        if (++writes === 3) {
          failing.failPuts = 'NODE_UNAVAILABLE'
          failing.get = () => Promise.reject(dfsError('NODE_UNAVAILABLE', 'injected: node down'))
        }
        return await base.write(data, layout)
      },
    }
    const conv = startConverter(c, io, { concurrency: 1 })
    conv.start('/cold')
    const done = (await conv.settle())!
    expect(done.state).toBe('done')
    // Converted before the failure; after it, each chunk either failed (kept its copies) or, with a
    // store that writes a stripe with k of its k+m shards (the healer completes it), converted.
    expect(done.chunksDone).toBeGreaterThanOrEqual(2)
    expect(done.chunksDone + done.failedChunks).toBe(6)
    const layouts = [...refsOf(c, files.big), ...refsOf(c, files.small)].map((r) => layoutOf(r, 2).kind)
    expect(layouts.slice(0, 2)).toEqual(['ec', 'ec'])
    expect(layouts.filter((l) => l === 'replicas'), 'the chunks that failed, and no other').toHaveLength(done.failedChunks)
    // Read with node 3 down: degraded stripes, the other copy of replicated chunks.
    expect(sha256Of(await contentOf(c, io, files.big))).toBe(hash)
    if (done.failedChunks > 0) expect(c.logs.some((l) => /converting chunk \d+ .* failed; it keeps its layout/.test(l))).toBe(true)
  })

  it('never trades protection away: a chunk the store could write only short of its layout (k of k+m shards, fewer copies) keeps its old layout', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const io = c.chunks
    const { cold, files } = await coldAndHot(c)
    const hash = sha256Of(await contentOf(c, io, files.big))
    const refs = refsOf(c, files.big)
    // Node 3 takes no puts (full, failing): a stripe of ec:2+1 gets 2 shards, no parity. The file's
    // replicated chunks survive any one node's loss now; such stripes would not.
    c.nodes[2].failPuts = 'NODE_UNAVAILABLE'
    setPolicy(c, cold, 'ec:2+1')
    const conv = startConverter(c, io)
    conv.start('/cold')
    const done = (await conv.settle())!
    expect(done).toMatchObject({ state: 'done', chunksDone: 0, failedChunks: 6 })
    expect(refsOf(c, files.big), 'kept as they were').toEqual(refs)
    expect(await piecesOnDisk(c), 'nothing written is left').toEqual(referencedPieces(c))
    expect(c.logs.some((l) => /converting chunk \d+ .* failed; it keeps its layout: .*2 of 3 shards/.test(l))).toBe(true)

    // Back to copies with node 3 still refusing: a stripe (any one loss) is not traded for one copy.
    c.nodes[2].failPuts = undefined
    c.registry.markAlive(c.nodes[2].nodeId) // its failed puts made it suspect
    const again = startConverter(c, io)
    again.start('/cold')
    expect((await again.settle())!).toMatchObject({ state: 'done', chunksDone: 6, failedChunks: 0 })
    const stripes = refsOf(c, files.big)
    c.nodes[2].failPuts = 'NODE_UNAVAILABLE'
    c.nodes[1].failPuts = 'NODE_UNAVAILABLE'
    setPolicy(c, cold, 'replicas:2')
    const back = startConverter(c, io)
    back.start('/cold')
    expect((await back.settle())!).toMatchObject({ state: 'done', chunksDone: 0, failedChunks: 6 })
    expect(refsOf(c, files.big)).toEqual(stripes)
    expect(await piecesOnDisk(c)).toEqual(referencedPieces(c))
    expect(sha256Of(await contentOf(c, io, files.big))).toBe(hash)
  })

  it('the orphan collector leaves a converted chunk alone while the converter makes it durable (before the map names it)', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const io = c.chunks
    const { cold, files } = await coldAndHot(c)
    const hash = sha256Of(await contentOf(c, io, files.big))
    setPolicy(c, cold, 'ec:2+1')
    // Node 3 syncs the new stripe's shard, but its answer is slow (a TCP node across a busy link):
    // longer than the orphan grace, while nodes 1 and 2 have answered.
    let syncing = 0
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const slow = c.nodes[2]
    slow.sync = async (ids) => {
      await slow.inner.sync(ids)
      if (ids.some((id) => !referencedPieces(c).has(id))) {
        syncing++
        await gate
      }
    }
    let clock = Date.now()
    const orphans = new OrphanCollector({
      meta: c.meta, chunks: io, registry: c.registry, log: c.log, now: () => clock,
      options: { graceMs: 1000, intervalMs: 3_600_000 },
    })
    const conv = startConverter(c, io, { concurrency: 1 })
    conv.start('/cold')
    await until(() => syncing > 0, 30_000, 'the first new stripe to be syncing')
    await orphans.sweep() // sees the new shards on the nodes, referenced by nothing yet
    clock += 5000
    await orphans.sweep() // a grace period later: still referenced by nothing
    release()
    const done = (await conv.settle())!
    await orphans.stop()
    expect(done).toMatchObject({ state: 'done', chunksDone: 6, failedChunks: 0 })
    expect(orphans.status().orphansRemoved, 'nothing the converter wrote was taken').toBe(0)
    for (const id of referencedPieces(c)) expect(c.holders(id).length, `piece ${id} on a node`).toBeGreaterThan(0)
    expect(sha256Of(await contentOf(c, io, files.big))).toBe(hash)
  })

  it('a chunk store that cannot write the layout: the chunk keeps its layout, nothing it wrote is left', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const { cold, files } = await coldAndHot(c)
    const refs = refsOf(c, files.big)
    setPolicy(c, cold, 'ec:2+1')
    // A store that writes copies whatever the layout asked for (as the ChunkStore did before EC).
    const copiesOnly: ConvertIO = { read: (ref) => c.chunks.read(ref), sync: (refs) => c.chunks.sync(refs), write: (data) => c.chunks.write(data) }
    const conv = startConverter(c, copiesOnly)
    conv.start('/cold')
    const done = (await conv.settle())!
    expect(done).toMatchObject({ state: 'done', chunksDone: 0, failedChunks: 6 })
    expect(refsOf(c, files.big)).toEqual(refs)
    expect(await piecesOnDisk(c)).toEqual(referencedPieces(c))
  })

  it('bad input changes nothing: no such path, a file, a policy wider than the cluster', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const io = c.chunks
    const { cold, files } = await coldAndHot(c)
    const conv = startConverter(c, io)
    const refs = refsOf(c, files.big)
    expect(() => conv.start('/nope')).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    expect(() => conv.start('/cold/big')).toThrow(expect.objectContaining({ code: 'ENOTDIR' }))
    setPolicy(c, cold, 'ec:4+2')
    expect(() => conv.start('/cold')).toThrow(expect.objectContaining({ code: 'POLICY_TOO_WIDE', message: expect.stringMatching(/6 .*3/) }))
    expect(conv.status()).toBeUndefined()
    expect(refsOf(c, files.big)).toEqual(refs)
  })

  it('each file to the policy of its own directory: a subfolder with a policy of its own keeps it; a file with two names converts once', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const io = c.chunks
    const { cold, files } = await coldAndHot(c)
    const keep = mkdir(c, cold, 'keep')
    const kept = await addFile(c, keep, 'k', [randomChunk(64 * KiB), randomChunk(5)])
    setPolicy(c, cold, 'ec:2+1')
    setPolicy(c, keep, 'replicas:2')
    // /hot/h gets a second name under /cold: converted once, to the policy where the walk meets it
    // first (under /cold: a directory's entries are walked in the order they were made).
    c.meta.commit({ op: 'link', parent: cold, name: 'h-link', ino: files.hot, time: now() })
    const keptRefs = refsOf(c, kept)
    const hash = sha256Of(await contentOf(c, io, files.hot))
    // One directory entry per slice of the walk: it yields between every two.
    const conv = startConverter(c, io, { walkBatch: 1 })
    conv.start('/')
    const done = (await conv.settle())!
    expect(done).toMatchObject({ state: 'done', policy: 'replicas:2', filesTotal: 3, chunksTotal: 7, chunksDone: 7, failedChunks: 0 })
    expect(refsOf(c, kept), 'its own policy: untouched').toEqual(keptRefs)
    for (const ino of [files.big, files.small, files.hot]) for (const ref of refsOf(c, ino)) expect(layoutOf(ref, 2)).toEqual({ kind: 'ec', k: 2, m: 1 })
    expect(sha256Of(await contentOf(c, io, files.hot))).toBe(hash)
    expect(await piecesOnDisk(c)).toEqual(referencedPieces(c))
  })

  it('holds the chunk lock the healer and rebalancer use: a chunk under repair waits', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const io = c.chunks
    const { cold, files } = await coldAndHot(c)
    setPolicy(c, cold, 'ec:2+1')
    const locks = new ChunkLocks()
    const first = refsOf(c, files.big)[0]
    const releaseRepair = locks.tryAcquire(first.id)!
    const conv = startConverter(c, io, { concurrency: 1 }, locks)
    conv.start('/cold')
    // Nothing converts while the first chunk is held (one worker, in order): many turns of the event loop later, still nothing.
    await until(() => conv.status()!.phase === 'converting', 30_000, 'the count to end')
    const turns = countLoopTurns()
    await until(() => turns.count >= 200, 30_000, '200 turns of the event loop')
    turns.stop()
    expect(conv.status()!.chunksDone).toBe(0)
    expect(refsOf(c, files.big)[0]).toEqual(first)
    releaseRepair()
    expect((await conv.settle())!).toMatchObject({ state: 'done', chunksDone: 6 })
  })

  describe('a small chunk (under k × 4 KiB) under an ec policy is stored as m + 1 copies', () => {
    it('ec:2+1 with R = 2: a small chunk already 2 copies is left alone; the big one becomes a stripe', async () => {
      const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
      const io = c.chunks
      const cold = mkdir(c, ROOT_INO, 'cold')
      const file = await addFile(c, cold, 'f', [randomChunk(64 * KiB), randomChunk(2 * MIN_SHARD_BYTES - 1)])
      const hash = sha256Of(await contentOf(c, io, file))
      const tail = refsOf(c, file)[1]
      setPolicy(c, cold, 'ec:2+1')
      const conv = startConverter(c, io)
      conv.start('/cold')
      expect((await conv.settle())!).toMatchObject({ state: 'done', filesTotal: 1, chunksTotal: 1, chunksDone: 1, bytesTotal: 64 * KiB, failedChunks: 0 })
      expect(layoutOf(refsOf(c, file)[0], 2)).toEqual({ kind: 'ec', k: 2, m: 1 })
      expect(refsOf(c, file)[1], 'the small chunk: untouched').toEqual(tail)
      expect(sha256Of(await contentOf(c, io, file))).toBe(hash)
      expect(await piecesOnDisk(c)).toEqual(referencedPieces(c))
      // A second apply finds nothing to do.
      conv.start('/cold')
      expect((await conv.settle())!).toMatchObject({ state: 'done', filesTotal: 0, chunksTotal: 0 })
    })

    it('ec:4+2 with R = 2: a small 2-copy chunk becomes 3 copies (ref.copies = 3), the big one a stripe', async () => {
      const c = (cluster = await makeHealCluster({ nodes: 6, replicas: 2 }))
      const io = c.chunks
      const cold = mkdir(c, ROOT_INO, 'cold')
      const file = await addFile(c, cold, 'f', [randomChunk(64 * KiB), randomChunk(4 * MIN_SHARD_BYTES - 1)])
      const hash = sha256Of(await contentOf(c, io, file))
      const oldTail = refsOf(c, file)[1]
      setPolicy(c, cold, 'ec:4+2')
      const conv = startConverter(c, io)
      conv.start('/cold')
      expect((await conv.settle())!).toMatchObject({ state: 'done', chunksTotal: 2, chunksDone: 2, failedChunks: 0 })
      const [big, tail] = refsOf(c, file)
      expect(layoutOf(big, 2)).toEqual({ kind: 'ec', k: 4, m: 2 })
      expect(tail.ec).toBeUndefined()
      expect(tail.copies).toBe(3)
      expect(new Set(tail.nodes).size).toBe(3)
      for (const id of storedIds(oldTail)) expect(c.holders(id), `old copy ${id}`).toEqual([])
      expect(sha256Of(await contentOf(c, io, file))).toBe(hash)
      expect(await piecesOnDisk(c)).toEqual(referencedPieces(c))
      conv.start('/cold')
      expect((await conv.settle())!).toMatchObject({ state: 'done', chunksTotal: 0 })
    })
  })
})
