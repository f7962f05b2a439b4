// A new small chunk is written in place, under its final name (folderWriter.ts), not renamed into
// place from a temp file: until its put settles the node must act as if it were not there, for a
// NameNode's orphan sweep over TCP (which cannot know what a remote client is writing), a reader, and
// a delete; and a client's FRESH flag must not skew the node's tally. (From a hostile review.)
//
// The folder writer thread is given a gate (node:worker_threads wrapped below): while the gate is shut,
// the thread's write(2) stores the first half of the chunk and then waits, as a write(2) blocked in the
// kernel would (dirty-page throttling, a slow NFS/FUSE/USB disk, a disk in error recovery). The main
// thread of the DataNode keeps serving, and keeps sending KEEPALIVE, so a TCP client's PUT (a bulk op:
// no deadline, only progress) keeps waiting.

import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { newClaimToken } from '../../src/datanode/claim.js'
import { OrphanCollector, type OrphanCollectorDeps } from '../../src/cluster/healer/OrphanCollector.js'
import { CLUSTER, SECRET, TestServers } from './tcpHelpers.js'
import { TcpDataNode } from '../../src/datanode/tcp/TcpDataNode.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { sha256Of } from '../helpers/sha256.js'

const shared = vi.hoisted(() => ({ gate: new Int32Array(new SharedArrayBuffer(8)) }))

vi.mock('node:worker_threads', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:worker_threads')>()
  const PRELUDE = `{
    const fs = require('node:fs')
    const gate = new Int32Array(require('node:worker_threads').workerData)
    const write = fs.writeSync
    fs.writeSync = function (fd, data, off, len, pos) {
      if (Atomics.load(gate, 0) === 0) return write.apply(fs, arguments)
      const n = write.call(fs, fd, data, off, Math.max(1, len >> 1), pos)
      Atomics.store(gate, 1, 1)
      while (Atomics.load(gate, 0) === 1) Atomics.wait(gate, 0, 1, 50)
      Atomics.store(gate, 1, 0)
      return n
    }
  }
`
  class GatedWorker extends actual.Worker {
    constructor(source: string | URL, options?: import('node:worker_threads').WorkerOptions) {
      if (options?.eval && typeof source === 'string') {
        super(PRELUDE + source, { ...options, workerData: shared.gate.buffer })
      } else {
        super(source, options)
      }
    }
  }
  return { ...actual, default: { ...actual, Worker: GatedWorker }, Worker: GatedWorker }
})

const shut = () => Atomics.store(shared.gate, 0, 1)
const open = () => {
  Atomics.store(shared.gate, 0, 0)
  Atomics.notify(shared.gate, 0)
}
async function heldMidWrite(): Promise<void> {
  for (const deadline = Date.now() + 30_000; Atomics.load(shared.gate, 1) !== 1;) {
    if (Date.now() > deadline) throw new Error('the writer thread never reached the gate')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const servers = new TestServers()
afterEach(async () => {
  open()
  await servers.cleanup()
})

async function chunkFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'chunks'), { recursive: true })).map((n) => n.split('/').pop()!).filter((n) => n.length > 2)
}

describe('a fresh small put written in place, seen mid-write', () => {
  it('a remote client\'s put that returned OK leaves its chunk on the node, though the NameNode\'s orphan collector swept meanwhile', async () => {
    const { dir, url } = await servers.start()
    // The `dfs mount --namenode` client: it writes chunks; the NameNode knows nothing of its puts in flight.
    const client = await servers.connect(url)
    // The NameNode: holds the claim (deletes), runs the orphan collector.
    const nameNode = await servers.connect(url)
    await nameNode.claim({ claim: { epoch: 1, token: newClaimToken() }, seq: 0 })
    const clock = { now: 1_000_000 }
    const GRACE = 30_000
    const deps: OrphanCollectorDeps = {
      meta: { state: { inodes: new Map() } as unknown as OrphanCollectorDeps['meta']['state'], sync: async () => {} },
      chunks: { isWriting: () => false }, // the client's write is in another process
      registry: {
        get: (id: string) => (id === nameNode.nodeId ? nameNode : undefined),
        ids: () => [nameNode.nodeId],
        health: () => 'alive',
        on: () => {},
        off: () => {},
      } as unknown as OrphanCollectorDeps['registry'],
      log: () => {},
      options: { graceMs: GRACE },
      now: () => clock.now,
    }
    const collector = new OrphanCollector(deps)

    const data = randomBytes(64 * 1024)
    const id = newChunkId()
    shut()
    const put = client.put(id, data, sha256Of(data), { fresh: true }) // as ChunkStore.#writeCopies does
    await heldMidWrite()
    // A put in flight is not listed (as a temp file was not).
    const listedMidWrite = (await nameNode.list()).includes(id)
    await collector.sweep() // sees it, unreferenced, not being written (as far as it can know)
    clock.now += GRACE + 1
    await collector.sweep() // due: deleted
    const removed = collector.status().orphansRemoved
    open()
    await put // the client is told: stored
    // ... and would now commit the chunk with this node listed.

    const stored = await client.get(id).then((b) => Buffer.compare(b, data) === 0, (err: { code?: string }) => err.code)
    const usage = await client.usage()
    const files = await chunkFiles(dir)
    expect({ listedMidWrite, removed, stored, files }).toEqual({ listedMidWrite: false, removed: 0, stored: true, files: [id] })
    expect({ chunks: usage.chunks, used: usage.used }).toEqual({ chunks: 1, used: data.length })
  })

  it('the chunk tally stays exact when a delete meets a fresh put in flight', async () => {
    const { dir, url } = await servers.start()
    const client = await servers.connect(url)
    await client.claim({ claim: { epoch: 1, token: newClaimToken() }, seq: 0 })
    const data = randomBytes(100 * 1024)
    const id = newChunkId()
    shut()
    const put = client.put(id, data, sha256Of(data), { fresh: true })
    await heldMidWrite()
    await client.delete(id)
    open()
    await put
    const usage = await client.usage()
    const files = await chunkFiles(dir)
    // The put lands after the delete (as a rename into place would): the chunk is there, counted once.
    expect(files).toEqual([id])
    expect({ chunks: usage.chunks, used: usage.used }).toEqual({ chunks: 1, used: data.length })
  })
})

describe('the same on a local node folder', () => {
  it('a fresh put that resolved leaves its whole chunk, though list/get/delete came while it was written', async () => {
    const dir = await servers.temp.make('dfs-local-')
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    try {
      const data = randomBytes(64 * 1024)
      const id = newChunkId()
      shut()
      const put = node.put(id, data, sha256Of(data), { fresh: true })
      await heldMidWrite()
      const listed = (await node.list()).includes(id)
      const had = await node.has(id)
      const got = await node.get(id).then((b) => b.length, (err: { code?: string }) => err.code)
      await node.delete(id)
      open()
      await put
      const after = await node.get(id).then((b) => Buffer.compare(b, data) === 0, (err: { code?: string }) => err.code)
      expect({ listed, had, got, after }).toEqual({ listed: false, had: false, got: 'CHUNK_MISSING', after: true })
      expect(await node.usage()).toMatchObject({ chunks: 1, used: data.length })
    } finally {
      open()
      await node.close()
    }
  })
})

describe('FLAG_FRESH from a TCP client', () => {
  it('a FRESH put of a large chunk over an id the node holds keeps the tally exact', async () => {
    const { dir, url } = await servers.start()
    const client = await TcpDataNode.connect(url, { secret: SECRET, clusterId: CLUSTER })
    servers.own(client)
    const id = newChunkId()
    const first = randomBytes(200 * 1024)
    const second = randomBytes(300 * 1024)
    await client.put(id, first, sha256Of(first))
    // A buggy or hostile client says FRESH for an id the node holds (>= 128 KiB: the renaming path).
    await client.put(id, second, sha256Of(second), { fresh: true })
    const usage = await client.usage()
    const files = await chunkFiles(dir)
    expect(files).toEqual([id])
    expect({ chunks: usage.chunks, used: usage.used }).toEqual({ chunks: 1, used: second.length })
  })

  it('a FRESH put of a small chunk over an id the node holds replaces it: a retried put whose first try landed', async () => {
    const { dir, url } = await servers.start()
    const client = await TcpDataNode.connect(url, { secret: SECRET, clusterId: CLUSTER })
    servers.own(client)
    const id = newChunkId()
    const first = randomBytes(4096)
    const second = randomBytes(1000)
    await client.put(id, first, sha256Of(first), { fresh: true })
    await client.put(id, second, sha256Of(second), { fresh: true })
    expect(await client.get(id)).toEqual(second)
    const usage = await client.usage()
    expect(await chunkFiles(dir)).toEqual([id])
    expect({ chunks: usage.chunks, used: usage.used }).toEqual({ chunks: 1, used: second.length })
  })
})
