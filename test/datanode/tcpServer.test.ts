// The DataNode server against clients that do not follow the protocol: no or wrong secret, garbage,
// impossible lengths, truncated and stalled frames, nonsense requests, a client that never reads.
// Each time: that connection gets an error reply or is closed, nothing is served to a client without
// the secret, a good client is still served, and nothing appears outside the node folder.

import { randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { encodeFrame, encodeHeader, FLAG_FRESH, FLAG_REPLY, type Frame } from '../../src/datanode/tcp/frame.js'
import { HANDSHAKE_MAX_FRAME, MAX_FRAME, Op, PROTOCOL_VERSION, STATUS_CODES } from '../../src/datanode/tcp/protocol.js'
import { codeOf } from './describeDataNode.js'
import { listingOutside, RawClient, SECRET, type StartedServer, TestServers, sleep } from './tcpHelpers.js'
import { sha256Of } from '../helpers/sha256.js'

const status = (name: (typeof STATUS_CODES)[number]) => STATUS_CODES.indexOf(name)
const u32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

describe('DataNodeServer on bad input', () => {
  const servers = new TestServers()
  let s: StartedServer
  let before: string[]
  let stored: { id: string; data: Buffer }

  beforeEach(async () => {
    s = await servers.start({ handshakeTimeoutMs: 300, frameIdleTimeoutMs: 300 })
    const good = await servers.connect(s.url)
    stored = { id: newChunkId(), data: randomBytes(10_000) }
    await good.put(stored.id, stored.data, sha256Of(stored.data))
    await good.close()
    before = await listingOutside(s.parent, s.dir)
  })

  afterEach(async () => {
    try {
      // Whatever the test did, a good client is still served and nothing outside the folder changed.
      const good = await servers.connect(s.url)
      expect(Buffer.compare(await good.get(stored.id), stored.data)).toBe(0)
      await good.ping()
      expect(await listingOutside(s.parent, s.dir)).toEqual(before)
    } finally {
      await servers.cleanup()
    }
  })

  async function raw(): Promise<RawClient> {
    return servers.own(await RawClient.connect(s.server.port))
  }

  async function authed(): Promise<RawClient> {
    const client = await raw()
    const reply = await client.authenticate(SECRET)
    expect(reply?.status).toBe(0)
    return client
  }

  /** Frames other than HELLO: what a client without the secret was told. */
  const told = (client: RawClient) => client.frames.filter((f) => f.op !== Op.HELLO)

  describe('before authentication', () => {
    it('closes on a wrong secret without a word', async () => {
      const client = await raw()
      expect(await client.authenticate('wrong secret')).toBeUndefined()
      expect(await client.waitClosed()).toBe(true)
      expect(told(client)).toEqual([])
    })

    it('closes on a request sent without authenticating (no secret), serving nothing', async () => {
      const client = await raw()
      client.send({ op: Op.GET, chunkId: Buffer.from(stored.id, 'hex') })
      client.send({ op: Op.PING })
      expect(await client.waitClosed()).toBe(true)
      expect(told(client)).toEqual([])
    })

    it('closes on garbage', async () => {
      for (const garbage of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), randomBytes(5000), Buffer.from('\x00\x00\x00\x00')]) {
        const client = await raw()
        client.write(garbage)
        expect(await client.waitClosed(), garbage.subarray(0, 20).toString('hex')).toBe(true)
        expect(told(client)).toEqual([])
      }
    })

    it('closes on a handshake frame larger than the handshake limit, before it arrives', async () => {
      const client = await raw()
      client.write(u32(HANDSHAKE_MAX_FRAME + 1))
      expect(await client.waitClosed()).toBe(true)
    })

    it('closes a client that never finishes the handshake', async () => {
      const client = await raw()
      const started = Date.now()
      client.write(u32(200)) // a frame that never comes
      expect(await client.waitClosed()).toBe(true)
      expect(Date.now() - started).toBeGreaterThanOrEqual(250) // not before the handshake timeout (300 ms)
      const silent = await raw() // and one that says nothing at all
      expect(await silent.waitClosed()).toBe(true)
    })

    it('closes on an AUTH with a malformed body or a proof of the wrong length', async () => {
      for (const payload of [Buffer.alloc(0), randomBytes(63), Buffer.concat([randomBytes(64), Buffer.from('not json')]), Buffer.concat([randomBytes(64), Buffer.from('{"clusterId":7}')])]) {
        const client = await raw()
        await client.waitFor((fs) => fs.length > 0)
        client.send({ op: Op.AUTH, requestId: 0 }, payload)
        expect(await client.waitClosed()).toBe(true)
        expect(told(client)).toEqual([])
      }
    })
  })

  describe('after authentication', () => {
    it('answers an unknown op, stray flags or a stray payload with BAD_REQUEST and carries on', async () => {
      const client = await authed()
      const ids = [
        client.send({ op: 0x7f }),
        client.send({ op: Op.PING, flags: FLAG_REPLY }),
        client.send({ op: Op.GET, flags: FLAG_FRESH, chunkId: randomBytes(16) }), // FRESH is a PUT's alone
        client.send({ op: Op.PING, status: 3 }),
        client.send({ op: Op.HAS, chunkId: randomBytes(16) }, Buffer.from('unexpected')),
        client.send({ op: Op.SYNC }, randomBytes(15)),
        client.send({ op: Op.PUT, chunkId: randomBytes(16) }, randomBytes(31)), // shorter than its SHA-256
        client.send({ op: Op.HELLO }),
        client.send({ op: Op.AUTH }),
      ]
      for (const id of ids) expect((await client.reply(id))?.status, `request ${id}`).toBe(status('BAD_REQUEST'))
      const ping = client.send({ op: Op.PING })
      const reply = await client.reply(ping)
      expect(reply?.status).toBe(0)
      expect(reply?.payload.toString()).toBe(s.server.nodeId)
      expect(client.isClosed).toBe(false)
    })

    it('answers with the dfs error code of the failure', async () => {
      const client = await authed()
      const missing = client.send({ op: Op.GET, chunkId: randomBytes(16) })
      const reply = (await client.reply(missing))!
      expect(reply.status).toBe(status('CHUNK_MISSING'))
      expect(reply.payload.toString()).toMatch(/does not have chunk/)
      const syncMissing = client.send({ op: Op.SYNC }, randomBytes(32))
      expect((await client.reply(syncMissing))?.status).toBe(status('CHUNK_MISSING'))
    })

    it('keeps "../" in a chunk id field inside the folder: any 16 bytes are just a hex name', async () => {
      const client = await authed()
      const traversal = Buffer.from('../../../../etc/')
      expect(traversal.length).toBe(16)
      const bytes = Buffer.from('not /etc')
      const put = client.send({ op: Op.PUT, chunkId: traversal }, Buffer.concat([Buffer.from(sha256Of(bytes), 'hex'), bytes]))
      expect((await client.reply(put))?.status).toBe(0)
      const name = traversal.toString('hex')
      expect(await readFile(join(s.dir, 'chunks', name.slice(0, 2), name), 'utf8')).toBe('not /etc')
      const sync = client.send({ op: Op.SYNC }, Buffer.concat([traversal, Buffer.from('/etc/passwd\0\0\0\0\0')]))
      expect((await client.reply(sync))?.status).toBe(status('CHUNK_MISSING'))
      const claim = client.send({ op: Op.CLAIM }, Buffer.from(JSON.stringify({ claim: { epoch: 1, token: 'aa' }, seq: 0 })))
      expect((await client.reply(claim))?.status).toBe(0)
      const del = client.send({ op: Op.DELETE, chunkId: traversal })
      expect((await client.reply(del))?.status).toBe(0)
    })

    it('closes on a declared length over the limit, before allocating it', async () => {
      for (const length of [MAX_FRAME + 1, 0xffffffff]) {
        const client = await authed()
        const memory = process.memoryUsage().arrayBuffers
        client.write(u32(length))
        expect(await client.waitClosed()).toBe(true)
        expect(process.memoryUsage().arrayBuffers - memory).toBeLessThan(64 * 1024 * 1024)
      }
    })

    it('closes on a length shorter than a header, or a frame of another version', async () => {
      const short = await authed()
      short.write(Buffer.concat([u32(3), Buffer.from('abc')]))
      expect(await short.waitClosed()).toBe(true)
      const version = await authed()
      version.write(encodeFrame({ version: PROTOCOL_VERSION + 1, op: Op.PING, flags: 0, status: 0, requestId: 9 }))
      expect(await version.waitClosed()).toBe(true)
      expect(version.replies(9)).toEqual([])
    })

    it('survives a truncated frame followed by a close', async () => {
      const client = await authed()
      const id = newChunkId()
      const frame = encodeFrame({ version: PROTOCOL_VERSION, op: Op.PUT, flags: 0, status: 0, requestId: 5, chunkId: Buffer.from(id, 'hex') }, randomBytes(100_000))
      client.write(frame.subarray(0, 50_000))
      await sleep(50)
      client.close()
      await client.closed
      await sleep(50)
      const good = await servers.connect(s.url)
      expect(await good.has(id)).toBe(false)
    })

    it('closes a client that sends half a frame and stalls, and serves others meanwhile', async () => {
      const client = await authed()
      const frame = encodeFrame({ version: PROTOCOL_VERSION, op: Op.PUT, flags: 0, status: 0, requestId: 5, chunkId: randomBytes(16) }, randomBytes(10_000))
      client.write(frame.subarray(0, 5000))
      const good = await servers.connect(s.url)
      await good.ping()
      expect(Buffer.compare(await good.get(stored.id), stored.data)).toBe(0)
      // Closed by the frame idle timeout (300 ms); the wait is a generous "eventually", not a bound.
      expect(await client.waitClosed()).toBe(true)
      expect(good.connected).toBe(true)
    })

    it('closes on random garbage, and other connections go on', async () => {
      const good = await servers.connect(s.url)
      for (let i = 0; i < 20; i++) {
        const client = await authed()
        client.write(randomBytes(1 + Math.floor(Math.random() * 10_000)))
        await client.waitFor(() => false, 30)
        client.close()
      }
      await good.ping()
      expect(await good.has(stored.id)).toBe(true)
    })

    it('stops reading from a client that does not read its replies, and serves them all once it does', async () => {
      const chunk = randomBytes(512 * 1024)
      const id = newChunkId()
      const good = await servers.connect(s.url)
      await good.put(id, chunk, sha256Of(chunk))
      const client = await authed()
      client.socket.pause() // never read
      const count = 800 // 400 MiB of replies, if the server kept producing them
      const memory = process.memoryUsage().arrayBuffers
      const requests = Buffer.concat(Array.from({ length: count }, (_, i) =>
        encodeHeader({ version: PROTOCOL_VERSION, op: Op.GET, flags: 0, status: 0, requestId: 1000 + i, chunkId: Buffer.from(id, 'hex') }, 0)))
      client.write(requests)
      await sleep(500)
      const grown = process.memoryUsage().arrayBuffers - memory
      expect(grown).toBeLessThan(120 * 1024 * 1024)
      // Others are still served while that client is stalled.
      expect(await good.has(id)).toBe(true)
      client.socket.resume()
      expect(await client.waitFor((fs) => fs.filter((f) => f.op === Op.GET).length === count, 20_000)).toBe(true)
      const replies: Frame[] = client.frames.filter((f) => f.op === Op.GET)
      expect(new Set(replies.map((f) => f.requestId)).size).toBe(count)
      for (const f of replies) expect(f.payload.equals(chunk)).toBe(true)
    })
  })

  it('never lets a request name a path outside the folder through the client either', async () => {
    const good = await servers.connect(s.url)
    for (const bad of ['../x', '../../../../etc/passwd', `${'a'.repeat(31)}/`, 'A'.repeat(32)]) {
      expect(await codeOf(good.put(bad, Buffer.from('x'), sha256Of(Buffer.from('x'))))).toBe('CHUNK_ID_INVALID')
    }
    expect((await readdir(s.parent)).sort()).toEqual(['node_1'])
  })
})
