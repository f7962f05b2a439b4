// The TCP transport: the shared DataNode contract against a real server on an ephemeral port, then
// what only a network transport has (pipelining, a server that dies or hangs, reconnecting, the
// cluster and node checks of the handshake).

import { randomBytes } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { folderWriterCounts } from '../../src/datanode/folderWriter.js'
import { memoryCounts } from '../../src/util/sha256.js'
import { encodeFrame, type Frame, FrameDecoder, FLAG_REPLY } from '../../src/datanode/tcp/frame.js'
import { decodeAuth, newChallenge, Op, PROTOCOL_VERSION, serverProof, MAX_FRAME } from '../../src/datanode/tcp/protocol.js'
import { TcpDataNode } from '../../src/datanode/tcp/TcpDataNode.js'
import { codeOf, describeDataNode } from './describeDataNode.js'
import { CLUSTER, SECRET, TestServers, sleep } from './tcpHelpers.js'
import { sha256Of } from '../helpers/sha256.js'

describeDataNode('TcpDataNode', async () => {
  const servers = new TestServers()
  const { dir, url } = await servers.start()
  const node = await servers.connect(url)
  // Deletes are taken only from the holder of the node's claim (fencing): this client is the NameNode.
  await node.claim({ claim: { epoch: 1, token: 'aa' }, seq: 0 })
  return {
    node,
    destroy: () => rm(dir, { recursive: true, force: true }),
    cleanup: () => servers.cleanup(),
  }
})

describe('TcpDataNode over a real server', () => {
  const servers = new TestServers()
  afterEach(() => servers.cleanup())

  it('learns the node id and cluster from the handshake', async () => {
    const { server, url } = await servers.start()
    const node = await servers.connect(url)
    expect(node.nodeId).toBe(server.nodeId)
    expect(node.clusterId).toBe(CLUSTER)
    expect(node.address).toBe(url)
    expect(node.connected).toBe(true)
  })

  it('answers 200 concurrent puts and gets on one connection with the right bytes', async () => {
    const { server, url } = await servers.start()
    const node = await servers.connect(url)
    const chunks = Array.from({ length: 200 }, (_, i) => ({ id: newChunkId(), data: randomBytes(1 + ((i * 7919) % 300_000)) }))
    await Promise.all(chunks.map((c) => node.put(c.id, c.data, sha256Of(c.data))))
    const got = await Promise.all(chunks.map((c) => node.get(c.id)))
    got.forEach((data, i) => expect(Buffer.compare(data, chunks[i]!.data), `chunk ${i}`).toBe(0))
    // Mixed, interleaved: gets of old chunks while new ones are put.
    const more = Array.from({ length: 100 }, () => ({ id: newChunkId(), data: randomBytes(50_000) }))
    const mixed = await Promise.all([...more.map((c) => node.put(c.id, c.data, sha256Of(c.data))), ...chunks.slice(0, 100).map((c) => node.get(c.id))])
    mixed.slice(100).forEach((data, i) => expect(Buffer.compare(data as Buffer, chunks[i]!.data)).toBe(0))
    expect((await node.list()).length).toBe(300)
    expect(server.connectionCount).toBe(1)
  })

  it('reuses the memory of the chunks a server stored and sent, with the right bytes in every reply', async () => {
    // A server takes each large chunk that arrives into memory of its own (frame.ts); once the put
    // has settled, or the reply carrying a chunk has left, that memory serves the next chunk instead
    // of fresh memory, whose first touch is dear on a VM (util/sha256.ts giveBack).
    const { url } = await servers.start()
    const node = await servers.connect(url)
    const chunks = Array.from({ length: 12 }, () => ({ id: newChunkId(), data: randomBytes(1024 * 1024) }))
    const before = { ...memoryCounts }
    for (const c of chunks) await node.put(c.id, c.data, sha256Of(c.data))
    const puts = { ...memoryCounts }
    expect(puts.recycled - before.recycled).toBe(12)
    expect(puts.fresh - before.fresh).toBeLessThanOrEqual(2)
    // Each reply is read on this side into memory of its own, handed to the caller and never reused
    // under it: a later reply, sent from the memory the server gave back, must not change it.
    const got: Buffer[] = []
    for (const c of chunks) got.push(await node.get(c.id))
    got.forEach((data, i) => expect(Buffer.compare(data, chunks[i]!.data), `chunk ${i}`).toBe(0))
    expect(memoryCounts.recycled - puts.recycled).toBe(12)
  })

  it('says a new small chunk is fresh, so the server\'s folder writer stores it in place; a repair\'s put is renamed into place', async () => {
    const { url } = await servers.start()
    const node = await servers.connect(url)
    const data = randomBytes(4096)
    const [fresh, repair] = [newChunkId(), newChunkId()]
    const before = { ...folderWriterCounts }
    await node.put(fresh, data, sha256Of(data), { fresh: true })
    expect(folderWriterCounts.written - before.written).toBe(1)
    expect(folderWriterCounts.replaced - before.replaced).toBe(0)
    // Whole or nothing: beside its name, then renamed over it.
    await node.put(repair, data, sha256Of(data))
    expect(folderWriterCounts.written - before.written).toBe(1)
    expect(folderWriterCounts.replaced - before.replaced).toBe(1)
    for (const id of [fresh, repair]) expect(Buffer.compare(await node.get(id), data)).toBe(0)
  })

  it('lists more ids than fit in one reply frame', async () => {
    const { dir, url } = await servers.start()
    // 70 000 chunk files made directly (faster than 70 000 puts): LIST needs two reply frames.
    const { writeFile } = await import('node:fs/promises')
    const ids = Array.from({ length: 70_000 }, newChunkId)
    for (let i = 0; i < ids.length; i += 1000) {
      await Promise.all(ids.slice(i, i + 1000).map((id) => writeFile(join(dir, 'chunks', id.slice(0, 2), id), '')))
    }
    const node = await servers.connect(url)
    const listed = await node.list()
    expect(listed.length).toBe(70_000)
    expect(new Set(listed)).toEqual(new Set(ids))
  })

  it('fails everything in flight at once with NODE_UNAVAILABLE when the server goes away, and says so', async () => {
    const { server, url } = await servers.start()
    // A request timeout longer than the test's: whatever fails here failed because the connection
    // closed (the message says so), not because a timer ran out.
    const node = await servers.connect(url, { requestTimeoutMs: 10 * 60_000 })
    const drops: unknown[] = []
    node.on('disconnect', (err) => drops.push(err))
    const ids = Array.from({ length: 50 }, newChunkId)
    const bytes = randomBytes(200_000)
    await Promise.all(ids.map((id) => node.put(id, bytes, sha256Of(bytes))))
    const inFlight = ids.map((id) => node.get(id).then(() => 'ok', (err: unknown) => err))
    await server.close()
    const results = await Promise.all(inFlight)
    const failures = results.filter((r) => r !== 'ok')
    expect(failures.length).toBeGreaterThan(0)
    for (const f of failures) expect(f).toMatchObject({ code: 'NODE_UNAVAILABLE', message: expect.stringMatching(/closed/) })
    expect(drops).toHaveLength(1)
    expect(drops[0]).toMatchObject({ code: 'NODE_UNAVAILABLE' })
    expect(node.connected).toBe(false)
    expect(await codeOf(node.ping())).toBe('NODE_UNAVAILABLE')
  })

  it('reconnects on demand after the server restarts on the same port', async () => {
    const first = await servers.start()
    const node = await servers.connect(first.url)
    const id = newChunkId()
    await node.put(id, Buffer.from('survives a restart'), sha256Of(Buffer.from('survives a restart')))
    const events: string[] = []
    node.on('disconnect', () => events.push('disconnect'))
    node.on('connect', () => events.push('connect'))
    await first.server.close()
    await sleep(50)
    expect(await codeOf(node.get(id))).toBe('NODE_UNAVAILABLE') // nobody listens now
    await servers.start({ dir: first.dir, listen: `127.0.0.1:${first.server.port}` })
    expect((await node.get(id)).toString()).toBe('survives a restart')
    await node.ping()
    expect(events).toEqual(['disconnect', 'connect'])
  })

  it('refuses a server that now serves another node (folder wiped and re-created)', async () => {
    const first = await servers.start()
    const node = await servers.connect(first.url)
    await first.server.close()
    await rm(first.dir, { recursive: true })
    await mkdir(first.dir)
    const second = await servers.start({ dir: first.dir, listen: `127.0.0.1:${first.server.port}` })
    expect(second.server.nodeId).not.toBe(node.nodeId)
    const err = await node.ping().catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NODE_UNAVAILABLE', context: { nodeId: node.nodeId, found: second.server.nodeId } })
    expect(String((err as Error).message)).toMatch(/wiped/)
  })

  it('refuses a node of another cluster with META_FOREIGN', async () => {
    const { url } = await servers.start({ clusterId: 'cluster-a' })
    const err = await servers.connect(url, { clusterId: 'cluster-b' }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'META_FOREIGN' })
    expect(String((err as Error).message)).toMatch(/cluster-a, not cluster-b/)
  })

  it('a new node joins the cluster of its first client, and refuses others after that', async () => {
    const { server, dir, url } = await servers.start({ clusterId: undefined })
    expect(server.clusterId).toBeUndefined()
    const announced = server.nodeId
    const tool = await servers.connect(url, { clusterId: undefined }) // looks, does not join
    expect(tool.clusterId).toBe('')
    expect(await codeOf(tool.list())).toBe('NODE_UNAVAILABLE')
    const node = await servers.connect(url, { clusterId: 'cluster-x' })
    expect(node.nodeId).toBe(announced)
    expect(server.clusterId).toBe('cluster-x')
    await node.put(newChunkId(), Buffer.from('joined'), sha256Of(Buffer.from('joined')))
    expect(await codeOf(servers.connect(url, { clusterId: 'cluster-y' }))).toBe('META_FOREIGN')
    // The folder now carries the identity: a restart without --cluster serves it as that node.
    await server.close()
    const again = await servers.start({ dir, clusterId: undefined })
    expect(again.server.nodeId).toBe(announced)
    expect(again.server.clusterId).toBe('cluster-x')
  })

  it('refuses a wrong secret with NODE_UNAVAILABLE naming the secret file', async () => {
    const { url } = await servers.start()
    const err = await servers.connect(url, { secret: 'not the secret' }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NODE_UNAVAILABLE' })
    expect(String((err as Error).message)).toMatch(/secret/)
  })

  it('says nobody listens when the port is closed', async () => {
    const { server, url } = await servers.start()
    await server.close()
    const err = await TcpDataNode.connect(url, { secret: SECRET, connectTimeoutMs: 1000 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NODE_UNAVAILABLE', context: { errno: 'ECONNREFUSED' } })
  })

  it('refuses malformed addresses with BAD_ARGUMENT', async () => {
    for (const bad of ['127.0.0.1:7000', 'tcp://127.0.0.1', 'tcp://127.0.0.1:99999', 'tcp://127.0.0.1:0', 'tcp://a b:1', 'http://x:1']) {
      expect(await codeOf(TcpDataNode.connect(bad, { secret: SECRET })), bad).toBe('BAD_ARGUMENT')
    }
  })

  it('connects lazily when created from a known node id', async () => {
    const { server, url } = await servers.start()
    const node = servers.own(TcpDataNode.create(url, { secret: SECRET, clusterId: CLUSTER, nodeId: server.nodeId }))
    expect(node.connected).toBe(false)
    await node.ping()
    expect(node.connected).toBe(true)
    const wrong = servers.own(TcpDataNode.create(url, { secret: SECRET, clusterId: CLUSTER, nodeId: 'someone-else' }))
    expect(await codeOf(wrong.ping())).toBe('NODE_UNAVAILABLE')
  })

  it('keeps a long request alive through the server\'s keepalives (a slow disk is not a hung node)', async () => {
    const { server, url } = await servers.start()
    // A silence limit of 2 s (keepalives every 500 ms): wide enough that a busy machine's stall of a
    // few hundred milliseconds, which delays the server's keepalive and the client's check alike,
    // cannot pass for a hung node.
    const node = await servers.connect(url, { requestTimeoutMs: 2_000 })
    const id = newChunkId()
    await node.put(id, Buffer.from('x'), sha256Of(Buffer.from('x')))
    // Make sync slow on the server (it runs in this process): 6 s, three times the client's silence limit.
    const original = LocalFolderNode.prototype.sync
    LocalFolderNode.prototype.sync = async function (this: LocalFolderNode, ids: string[]) {
      await sleep(6_000)
      return original.call(this, ids)
    }
    try {
      await node.sync([id])
    } finally {
      LocalFolderNode.prototype.sync = original
    }
    expect(node.connected).toBe(true)
    expect(server.connectionCount).toBe(1)
  })
})

/**
 * A stand-in server that completes the handshake and then never answers: a hung DataNode (SIGSTOP),
 * or with `destroyAll`, one that dies with requests in flight.
 */
class SilentServer {
  readonly server: Server
  readonly sockets = new Set<Socket>()
  /** The requests it swallowed. */
  readonly requests: Frame[] = []
  port = 0

  constructor(readonly nodeId = 'silent-node') {
    this.server = createServer((socket) => this.#serve(socket))
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as { port: number }).port
  }

  #serve(socket: Socket): void {
    this.sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => this.sockets.delete(socket))
    const challenge = newChallenge()
    const decoder = new FrameDecoder(MAX_FRAME)
    let authed = false
    socket.write(encodeFrame({ version: PROTOCOL_VERSION, op: Op.HELLO, flags: 0, status: 0, requestId: 0 }, challenge))
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk)
      for (let f = decoder.next(); f; f = decoder.next()) {
        if (authed) {
          this.requests.push(f) // swallowed
          continue
        }
        const auth = decodeAuth(f.payload)!
        const reply = Buffer.concat([serverProof(Buffer.from(SECRET), challenge, auth.nonce), Buffer.from(JSON.stringify({ nodeId: this.nodeId, clusterId: CLUSTER, maxPayload: 1 << 28 }))])
        socket.write(encodeFrame({ version: PROTOCOL_VERSION, op: Op.AUTH, flags: FLAG_REPLY, status: 0, requestId: 0 }, reply))
        authed = true
      }
    })
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy()
  }

  async close(): Promise<void> {
    this.destroyAll()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

describe('TcpDataNode against a server that stops answering', () => {
  const servers = new TestServers()
  afterEach(() => servers.cleanup())

  it('fails in-flight requests at once when the connection is cut', async () => {
    const silent = servers.own(new SilentServer())
    await silent.listen()
    // The request timeout outlasts the test: each failure must come from the cut (its message says "closed").
    const node = await servers.connect(`tcp://127.0.0.1:${silent.port}`, { requestTimeoutMs: 10 * 60_000 })
    const big = randomBytes(1_000_000)
    const calls = [node.get(newChunkId()), node.put(newChunkId(), big, sha256Of(big)), node.list(), node.sync([newChunkId()]), node.ping()]
    const results = calls.map((p) => p.then(() => 'ok', (err: unknown) => err))
    await sleep(100)
    silent.destroyAll()
    const errors = await Promise.all(results)
    for (const err of errors) expect(err).toMatchObject({ code: 'NODE_UNAVAILABLE', message: expect.stringMatching(/closed/) })
  })

  it('sends no FRESH flag to a server that did not say it takes one (servers before it refuse any flag)', async () => {
    // The stand-in's handshake answer is an older server's: no `freshPuts`.
    const silent = servers.own(new SilentServer())
    await silent.listen()
    const node = await servers.connect(`tcp://127.0.0.1:${silent.port}`, { requestTimeoutMs: 10 * 60_000 })
    const data = randomBytes(100)
    const put = node.put(newChunkId(), data, sha256Of(data), { fresh: true }).catch(() => {}) // fails at cleanup
    for (const deadline = Date.now() + 30_000; silent.requests.length === 0 && Date.now() < deadline;) await sleep(10)
    expect(silent.requests.map((f) => ({ op: f.op, flags: f.flags }))).toEqual([{ op: Op.PUT, flags: 0 }])
    silent.destroyAll()
    await put
  })

  it('gives up on a hung node after the request timeout, bulk and small requests alike', async () => {
    const silent = servers.own(new SilentServer())
    await silent.listen()
    const node = await servers.connect(`tcp://127.0.0.1:${silent.port}`, { requestTimeoutMs: 300 })
    const disconnects: unknown[] = []
    node.on('disconnect', (err) => disconnects.push(err))
    const started = Date.now()
    const results = await Promise.all([node.ping(), node.get(newChunkId()), node.list()].map((p) => p.then(() => 'ok', (err: unknown) => err)))
    const took = Date.now() - started
    // Given up by the timer (the messages say so), and not before it ran out; how much later a busy
    // machine gets round to it is no bug.
    for (const err of results) expect(err).toMatchObject({ code: 'NODE_UNAVAILABLE', message: expect.stringMatching(/within 300 ms|stopped answering/) })
    expect(took).toBeGreaterThanOrEqual(280)
    expect(disconnects.length).toBe(1) // the silent connection was dropped: the next call reconnects
  })

  it('times out a handshake that never completes', async () => {
    // A listener that accepts and says nothing.
    const sockets = new Set<Socket>()
    const mute = createServer((socket) => {
      sockets.add(socket)
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
    servers.own({
      close: () => {
        for (const s of sockets) s.destroy()
        return new Promise<void>((resolve) => mute.close(() => resolve()))
      },
    })
    const port = (mute.address() as { port: number }).port
    const err = await TcpDataNode.connect(`tcp://127.0.0.1:${port}`, { secret: SECRET, connectTimeoutMs: 300 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NODE_UNAVAILABLE', message: expect.stringMatching(/did not complete the handshake within 300 ms/) })
  })
})
