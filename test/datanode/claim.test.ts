// Fencing on a DataNode (src/datanode/claim.ts): a node takes a NameNode epoch claim only when the
// claimant's metadata folder is not behind it, and deletes only for the holder of its current claim.
// Puts and gets need no claim.

import { mkdir, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { type ClaimRequest, type NodeClaim, claimRefusal, claimedRecord, fencedError, refuseClaim } from '../../src/datanode/claim.js'
import { readNodeClaim } from '../../src/datanode/claimFile.js'
import { type DfsError, dfsError } from '../../src/errors.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { Op } from '../../src/datanode/tcp/protocol.js'
import { STATUS_CODES } from '../../src/datanode/tcp/protocol.js'
import { sha256Of } from '../helpers/sha256.js'
import { codeOf } from './describeDataNode.js'
import { RawClient, SECRET, TestServers } from './tcpHelpers.js'
import { TempDirs } from './tempDirs.js'

const CLUSTER = 'cluster-claim-test'
const e1 = { epoch: 1, token: 'a1' }
const e2 = { epoch: 2, token: 'b2' }
const e2other = { epoch: 2, token: 'c2' }
const e3 = { epoch: 3, token: 'd3' }
const record = (claim: { epoch: number; token: string }, seqWatermark = 10): NodeClaim => ({ ...claim, seqWatermark })

describe('the claim rule', () => {
  const refused = (r: NodeClaim | undefined, req: ClaimRequest, heldBy?: string) => refuseClaim(r, req, 'node_1', heldBy)?.code

  it('takes a claim from a node of no claim, from its own basis, and from a node that missed claims', () => {
    expect(refused(undefined, { claim: e1, seq: 0 })).toBeUndefined()
    expect(refused(record(e1), { claim: e2, basis: e1, seq: 10 })).toBeUndefined()
    expect(refused(record(e1), { claim: e3, basis: e2, seq: 10 })).toBeUndefined()
  })

  it('takes its own claim again (a reconnect, a watermark refresh), held or not', () => {
    expect(refused(record(e2, 50), { claim: e2, basis: e1, seq: 3 }, '127.0.0.1:1')).toBeUndefined()
  })

  it('refuses a metadata folder whose basis is behind the node: a later epoch, another claim of its epoch, or none at all', () => {
    expect(refused(record(e3), { claim: e3, basis: e2, seq: 10 })).toBeUndefined() // its own
    expect(refused(record(e3), { claim: { epoch: 3, token: 'ff' }, basis: e2, seq: 10 })).toBe('EPOCH_BEHIND')
    expect(refused(record(e2other), { claim: e3, basis: e2, seq: 10 })).toBe('EPOCH_BEHIND')
    expect(refused(record(e1), { claim: { epoch: 1, token: 'ee' }, seq: 10 })).toBe('EPOCH_BEHIND')
  })

  it('refuses a copy while the claim it shares is held by a live session, then a copy whose journal ends before the watermark', () => {
    expect(refused(record(e2, 5), { claim: e3, basis: e2, seq: 5 }, '127.0.0.1:4242')).toBe('EPOCH_HELD')
    expect(refused(record(e2, 6), { claim: e3, basis: e2, seq: 5 })).toBe('EPOCH_BEHIND')
    expect(refused(record(e2, 5), { claim: e3, basis: e2, seq: 5 })).toBeUndefined()
    // A repaired folder (journal cut) may be below the watermark, once.
    expect(refused(record(e2, 6), { claim: e3, basis: e2, seq: 5, afterRepair: true })).toBeUndefined()
  })

  it('says its numbers in its message too, for a refusal that came over the wire (message only)', () => {
    const ahead = refuseClaim(record(e3), { claim: { epoch: 3, token: '99' }, basis: e2, seq: 1 }, 'n')!
    const behind = refuseClaim(record(e2, 9), { claim: e3, basis: e2, seq: 5 }, 'n')!
    const wire = (err: DfsError) => dfsError(err.code, `tcp://127.0.0.1:7001: ${err.message}`, { node: 'tcp://127.0.0.1:7001', remote: true })
    expect(claimRefusal(wire(ahead))).toEqual({ epoch: 3 })
    // No journal numbers in a refusal that is not about them, here as over the wire.
    expect(claimRefusal(ahead)).toEqual({ epoch: 3 })
    expect(claimRefusal(wire(behind))).toEqual({ epoch: 2, seqWatermark: 9, seq: 5 })
    expect(claimRefusal(behind)).toEqual({ epoch: 2, seqWatermark: 9, seq: 5 })
    expect(claimRefusal(wire(fencedError('n', 'epoch 4 claimed it after this connection did', newChunkId())))).toEqual({ epoch: 4 })
  })

  it('a repaired or restored folder let in below the watermark can start again: the new claim keeps its own seq, not the old watermark', () => {
    const repaired: ClaimRequest = { claim: e3, basis: e2, seq: 5, afterRepair: true }
    expect(refused(record(e2, 50), repaired)).toBeUndefined()
    const after = claimedRecord(record(e2, 50), repaired)!
    expect(after).toEqual({ ...e3, seqWatermark: 5 })
    // It ran on to seq 7 (its refreshes raise the watermark) and stopped; its next start claims e4.
    const ran = claimedRecord(after, { claim: e3, basis: e2, seq: 7 })!
    expect(ran.seqWatermark).toBe(7)
    expect(refused(ran, { claim: { epoch: 4, token: 'e4' }, basis: e3, seq: 7 })).toBeUndefined()
    // A copy of it from before it ran is still behind.
    expect(refused(ran, { claim: { epoch: 4, token: 'f4' }, basis: e3, seq: 6 })).toBe('EPOCH_BEHIND')
    // The same claim refreshed never lowers its watermark.
    expect(claimedRecord(ran, { claim: e3, basis: e2, seq: 6 })).toBeUndefined()
    // A node that was down when the restored folder first claimed still holds the old history's
    // claim and watermark: the folder's later starts are not measured against it.
    expect(refused(record(e2, 50), { claim: { epoch: 4, token: 'e4' }, basis: e3, seq: 7 })).toBeUndefined()
  })

  it('says what happened in one line', () => {
    const err = refuseClaim(record(e3), { claim: { epoch: 3, token: '99' }, basis: e2, seq: 1 }, 'tcp://127.0.0.1:7001')!
    expect(err.message).toMatch(/^a newer NameNode \(epoch 3\) took over: this metadata folder is behind the cluster \(a former primary, a copy or a restored backup\): node tcp:\/\/127\.0\.0\.1:7001 was claimed by epoch 3.*can read but never delete$/)
    expect(err.message).not.toContain('\n')
  })
})

describe('a local node folder', () => {
  const temp = new TempDirs()
  const open: LocalFolderNode[] = []
  afterEach(async () => {
    for (const node of open.splice(0)) await node.close()
    await temp.cleanup()
  })
  async function folder(): Promise<string> {
    const dir = join(await temp.make(), 'node_1')
    await mkdir(dir)
    return dir
  }
  async function openNode(dir: string, now?: () => number): Promise<LocalFolderNode> {
    const node = await LocalFolderNode.open(dir, { clusterId: CLUSTER, create: true, ...(now ? { now } : {}) })
    open.push(node)
    return node
  }
  async function putOne(node: LocalFolderNode): Promise<string> {
    const id = newChunkId()
    await node.put(id, Buffer.from('live data'), sha256Of(Buffer.from('live data')))
    return id
  }

  it('records the claim beside dfs-node.json', async () => {
    const dir = await folder()
    const node = await openNode(dir)
    await node.claim({ claim: e1, seq: 7 })
    expect(await readNodeClaim(dir)).toEqual({ ...e1, seqWatermark: 7 })
    await node.claim({ claim: e1, seq: 12 })
    expect((await node.claimRecord())?.seqWatermark).toBe(12)
    expect(await readNodeClaim(dir)).toEqual({ ...e1, seqWatermark: 12 })
  })

  it('raises the watermark in place: no new name in the folder, the file keeps its inode', async () => {
    const dir = await folder()
    const node = await openNode(dir)
    await node.claim({ claim: e1, seq: 1 })
    const before = await stat(join(dir, 'dfs-claim.json'))
    const names = await readdir(dir)
    for (let seq = 2; seq <= 6; seq++) await node.claim({ claim: e1, seq })
    expect(await readdir(dir)).toEqual(names)
    // A replacement (a temp name renamed over it) would be another inode.
    expect((await stat(join(dir, 'dfs-claim.json'))).ino).toBe(before.ino)
    expect(await readNodeClaim(dir)).toEqual({ ...e1, seqWatermark: 6 })
  })

  it('keeps the claim before a write that a crash tore (the slot it went to does not verify)', async () => {
    const dir = await folder()
    const node = await openNode(dir)
    await node.claim({ claim: e1, seq: 3 })
    await node.claim({ claim: e1, seq: 9 })
    const file = join(dir, 'dfs-claim.json')
    const bytes = await readFile(file)
    const newest = bytes.indexOf('"seqWatermark":9')
    expect(newest).toBeGreaterThan(0)
    // Half of the newest slot's line as it was before: the crash cut the write there.
    for (const [i, byte] of [...Buffer.from('"seqWatermark":4')].entries()) bytes[newest + i] = byte
    await writeFile(file, bytes)
    expect(await readNodeClaim(dir)).toEqual({ ...e1, seqWatermark: 3 })
    // Both slots damaged: nothing to go back to.
    await writeFile(file, Buffer.alloc(bytes.length, 0xff))
    expect(await codeOf(readNodeClaim(dir))).toBe('NODE_FOLDER_INVALID')
  })

  it('reads a claim file of an older dfs (one JSON object) and replaces it whole at the next raise', async () => {
    const dir = await folder()
    const node = await openNode(dir)
    await writeFile(join(dir, 'dfs-claim.json'), `${JSON.stringify({ format: 1, ...e1, seqWatermark: 5, claimedAt: new Date().toISOString() }, null, 2)}\n`)
    expect(await node.claimRecord()).toEqual({ ...e1, seqWatermark: 5 })
    await node.claim({ claim: e1, seq: 4 }) // below the watermark: nothing to write
    expect(JSON.parse(await readFile(join(dir, 'dfs-claim.json'), 'utf8'))).toMatchObject({ format: 1, seqWatermark: 5 })
    await node.claim({ claim: e1, seq: 8 })
    expect(await readNodeClaim(dir)).toEqual({ ...e1, seqWatermark: 8 })
    expect((await readFile(join(dir, 'dfs-claim.json'), 'utf8')).split('\n').filter((line) => line.trim() !== '')).toHaveLength(1)
  })

  it('does not make the file again while it may be rm -rf that took it: a removal of the whole folder ends empty', async () => {
    let now = 0
    const dir = await folder()
    const node = await openNode(dir, () => now)
    await node.claim({ claim: e1, seq: 1 })
    await putOne(node)
    // rm -rf lists the folder, removes what it listed, and removes the folder last. A raise between
    // the claim file's removal and the rmdir must not leave a new name behind.
    const listed = await readdir(dir)
    await rm(join(dir, 'dfs-claim.json'))
    expect(await codeOf(node.claim({ claim: e1, seq: 2 }))).toBe('NODE_FOLDER_INVALID')
    await rm(join(dir, 'chunks', '00'), { recursive: true })
    now += 60_000 // rm stopped here for a minute: the folder is not whole
    expect(await codeOf(node.claim({ claim: e1, seq: 3 }))).toBe('NODE_FOLDER_INVALID')
    for (const name of listed) await rm(join(dir, name), { recursive: true, force: true })
    expect(await codeOf(node.claim({ claim: e1, seq: 4 }))).toBe('NODE_UNAVAILABLE')
    await rmdir(dir)
  })

  it('writes a claim file that went missing again once the rest of the folder has stayed whole for a second', async () => {
    let now = 0
    const dir = await folder()
    const node = await openNode(dir, () => now)
    await node.claim({ claim: e1, seq: 1 })
    const id = await putOne(node)
    await rm(join(dir, 'dfs-claim.json'))
    expect(await codeOf(node.delete(id))).toBe('FENCED')
    expect(await codeOf(node.claim({ claim: e1, seq: 2 }))).toBe('NODE_FOLDER_INVALID')
    now += 999
    expect(await codeOf(node.claim({ claim: e1, seq: 2 }))).toBe('NODE_FOLDER_INVALID')
    now += 1
    await node.claim({ claim: e1, seq: 2 })
    expect(await readNodeClaim(dir)).toEqual({ ...e1, seqWatermark: 2 })
    await node.delete(id)
    // Gone again later: the second counts from then, not from the first time.
    await rm(join(dir, 'dfs-claim.json'))
    now += 60_000
    expect(await codeOf(node.claim({ claim: e1, seq: 3 }))).toBe('NODE_FOLDER_INVALID')
  })

  it('a NameNode that opens the cluster again claims a folder whose claim file was removed', async () => {
    const dir = await folder()
    const node = await openNode(dir)
    await node.claim({ claim: e1, seq: 1 })
    await rm(join(dir, 'dfs-claim.json'))
    const id = await putOne(node)
    expect(await codeOf(node.delete(id))).toBe('FENCED')
    await node.claim({ claim: e2, basis: e1, seq: 1 })
    expect(await readNodeClaim(dir)).toEqual({ ...e2, seqWatermark: 1 })
    await node.delete(id)
  })

  it('refuses deletes once a later epoch claimed the folder, and the chunk stays', async () => {
    const dir = await folder()
    const old = await openNode(dir)
    await old.claim({ claim: e1, seq: 0 })
    const id = await putOne(old)
    const next = await openNode(dir) // another process on the folder (no lock in this test)
    await next.claim({ claim: e2, basis: e1, seq: 0 })
    expect(await codeOf(old.delete(id))).toBe('FENCED')
    expect(await old.has(id)).toBe(true)
    // Puts and gets need no claim.
    expect((await old.get(id)).toString()).toBe('live data')
    await putOne(old)
    await next.delete(id)
    expect(await next.has(id)).toBe(false)
  })

  it('refuses deletes from a process that never claimed a claimed folder', async () => {
    const dir = await folder()
    const owner = await openNode(dir)
    await owner.claim({ claim: e1, seq: 0 })
    const id = await putOne(owner)
    const stranger = await openNode(dir)
    expect(await codeOf(stranger.delete(id))).toBe('FENCED')
    expect(await owner.has(id)).toBe(true)
  })
})

describe('a DataNode server', () => {
  const servers = new TestServers()
  afterEach(() => servers.cleanup())
  const status = (name: (typeof STATUS_CODES)[number]) => STATUS_CODES.indexOf(name)

  it('refuses a DELETE on a connection that has not claimed the node, and the chunk stays', async () => {
    const { server, url } = await servers.start()
    const owner = await servers.connect(url)
    await owner.claim({ claim: e1, seq: 0 })
    const id = newChunkId()
    await owner.put(id, Buffer.from('live data'), sha256Of(Buffer.from('live data')))

    const raw = servers.own(await RawClient.connect(server.port))
    expect((await raw.authenticate(SECRET, 'cluster-tcp-test'))?.status).toBe(0)
    const del = raw.send({ op: Op.DELETE, chunkId: Buffer.from(id, 'hex') })
    const reply = (await raw.reply(del))!
    expect(reply.status).toBe(status('FENCED'))
    expect(reply.payload.toString()).toMatch(/has not claimed it/)
    expect(await owner.has(id)).toBe(true)
    // A client that only puts and reads needs no claim.
    const reader = await servers.connect(url)
    expect((await reader.get(id)).toString()).toBe('live data')
    expect(await codeOf(reader.delete(id))).toBe('FENCED')
    await owner.delete(id)
    expect(await reader.has(id)).toBe(false)
  })

  it('refuses a copy of the claim while its holder is connected (EPOCH_HELD)', async () => {
    const { url } = await servers.start()
    const owner = await servers.connect(url)
    await owner.claim({ claim: e2, basis: e1, seq: 4 })
    const copy = await servers.connect(url)
    const err = await copy.claim({ claim: { epoch: 3, token: 'c3' }, basis: e2, seq: 4 }).catch((e: unknown) => e as Error & { code: string })
    expect(err?.code).toBe('EPOCH_HELD')
    expect(err?.message).toMatch(/held by a running NameNode of epoch 2 \(connected from 127\.0\.0\.1:\d+\)/)
    await owner.close()
    // Its holder gone, the same claim is taken (a restart with the same folder would be).
    await expect.poll(async () => (await copy.claim({ claim: { epoch: 3, token: 'c3' }, basis: e2, seq: 4 }).then(() => 'ok', (e: { code: string }) => e.code)), { timeout: 30_000 }).toBe('ok')
  })

  it('counts the claim as held only by a connection it hears from (a half-open one of a dead host does not hold it)', async () => {
    const { url } = await servers.start({ claimHoldMs: 200 })
    const silent = await servers.connect(url)
    await silent.claim({ claim: e2, basis: e1, seq: 4 })
    const next = await servers.connect(url)
    // Still connected, but silent for longer than claimHoldMs: the claim is taken.
    await expect.poll(async () => (await next.claim({ claim: e3, basis: e2, seq: 4 }).then(() => 'ok', (e: { code: string }) => e.code)), { timeout: 30_000, interval: 100 }).toBe('ok')
    expect(silent.connected).toBe(true)
    const id = newChunkId()
    await next.put(id, Buffer.from('x'), sha256Of(Buffer.from('x')))
    expect(await codeOf(silent.delete(id))).toBe('FENCED')
  })

  it('fences an old-epoch NameNode: its reconnect cannot claim again, and its deletes are refused', async () => {
    const { server, dir, url } = await servers.start()
    const old = await servers.connect(url)
    await old.claim({ claim: e1, seq: 0 })
    const id = newChunkId()
    await old.put(id, Buffer.from('live data'), sha256Of(Buffer.from('live data')))
    const fenced = new Promise<{ code: string }>((resolve) => old.once('fenced', resolve))
    // The server restarts (the old NameNode's connection drops), and the next epoch claims the node first.
    await server.close()
    await servers.start({ dir, listen: `127.0.0.1:${server.port}` })
    const next = await servers.connect(url)
    await next.claim({ claim: e2, basis: e1, seq: 0 })
    expect(await codeOf(old.delete(id))).toBe('FENCED')
    expect((await fenced).code).toBe('EPOCH_BEHIND')
    expect(await next.has(id)).toBe(true)
    await next.delete(id)
    expect(await next.has(id)).toBe(false)
  })
})
