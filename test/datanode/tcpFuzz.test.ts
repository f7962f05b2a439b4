// Fuzz the DataNode server: at least 10 000 random frames from a seeded generator, on connections
// that authenticated and on ones that did not: random op codes, flags, statuses, ids, payloads and
// lengths, garbage, truncated frames and impossible lengths. The server must not crash, must close or
// answer every bad connection, and afterwards must still serve a good client, with nothing outside
// its folder changed and nothing but the node's own files inside it.

import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { encodeFrame } from '../../src/datanode/tcp/frame.js'
import { Op, PROTOCOL_VERSION } from '../../src/datanode/tcp/protocol.js'
import { listingOutside, RawClient, SECRET, TestServers } from './tcpHelpers.js'
import { sha256Of } from '../helpers/sha256.js'

const SEED = Number(process.env.DFS_FUZZ_SEED ?? 20_240_601)
const FRAMES = 10_000
const WORKERS = 4

/** mulberry32: a small seeded generator, so a failing run can be repeated with DFS_FUZZ_SEED. */
function rng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const bytes = (n: number) => {
    const b = Buffer.alloc(n)
    for (let i = 0; i < n; i++) b[i] = int(256)
    return b
  }
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
  return { next, int, bytes, pick }
}
type Rng = ReturnType<typeof rng>

const KNOWN_OPS = Object.values(Op)
const NASTY_IDS = ['../../../../etc/', '/etc/passwd\0\0\0\0\0', '..\\..\\..\\..\\win', '................'].map((s) => Buffer.from(s.padEnd(16, '/')).subarray(0, 16))

interface Fuzzed {
  bytes: Buffer
  /** The frame does not end where its length says (the stream is broken after it). */
  breaksStream: boolean
}

function randomFrame(r: Rng, knownIds: readonly string[]): Fuzzed {
  const kind = r.next()
  if (kind < 0.1) return { bytes: r.bytes(1 + r.int(300)), breaksStream: true } // garbage
  if (kind < 0.15) {
    // An impossible or unkept declared length.
    const length = r.pick([0, 1, 23, 24 + r.int(1000), 0x7fffffff, 0xffffffff, 256 * 1024 * 1024 + 25, r.int(2 ** 32)])
    const head = Buffer.alloc(4)
    head.writeUInt32BE(length >>> 0)
    return { bytes: Buffer.concat([head, r.bytes(r.int(64))]), breaksStream: true }
  }
  const op = r.next() < 0.8 ? r.pick(KNOWN_OPS) : r.int(256)
  const chunkId = r.next() < 0.5 && knownIds.length > 0 ? Buffer.from(r.pick(knownIds), 'hex') : r.next() < 0.2 ? r.pick(NASTY_IDS) : r.bytes(16)
  const payloadLength = r.pick([0, 0, 1, 15, 16, 32, 100, r.int(4096), r.int(70_000)])
  const frame = encodeFrame(
    {
      version: r.next() < 0.9 ? PROTOCOL_VERSION : r.int(256),
      op,
      flags: r.next() < 0.8 ? 0 : r.int(256),
      status: r.next() < 0.8 ? 0 : r.int(256),
      requestId: r.int(2 ** 32),
      chunkId,
    },
    r.bytes(payloadLength),
  )
  if (kind < 0.22) return { bytes: frame.subarray(0, r.int(frame.length)), breaksStream: true } // truncated
  return { bytes: frame, breaksStream: false }
}

describe('DataNodeServer fuzz', () => {
  const servers = new TestServers()
  afterEach(() => servers.cleanup())

  it(`survives ${FRAMES} random frames (seed ${SEED})`, { timeout: 300_000 }, async () => {
    const log: string[] = []
    const { server, dir, parent, url } = await servers.start({ handshakeTimeoutMs: 500, frameIdleTimeoutMs: 100, log: (m) => log.push(m) })
    const good = await servers.connect(url)
    const knownIds = Array.from({ length: 8 }, newChunkId)
    const contents = new Map(knownIds.map((id) => [id, randomBytes(1000)]))
    for (const [id, data] of contents) await good.put(id, data, sha256Of(data))
    const before = await listingOutside(parent, dir)

    let sent = 0
    const stats = { authenticated: 0, unauthenticated: 0, replies: 0, closedByServer: 0 }
    // replies: frames the server sent back on authenticated connections (answers, error replies)
    // Done after FRAMES frames, however long a busy machine takes (the test's own timeout is the
    // "eventually"); how fast the server gets through them is no test's business.
    const started = Date.now()
    const done = () => sent >= FRAMES

    const worker = async (index: number): Promise<void> => {
      const r = rng(SEED + index)
      while (!done()) {
        const client = servers.own(await RawClient.connect(server.port))
        const authenticate = r.next() < 0.75
        if (authenticate) {
          expect((await client.authenticate(SECRET))?.status).toBe(0)
          stats.authenticated += 1
          // Batches of random frames, each followed by a PING whose reply shows the server got there.
          while (!done() && !client.isClosed) {
            let broken = false
            for (let i = 0; i < 20 && !broken; i++) {
              const f = randomFrame(r, knownIds)
              client.write(f.bytes)
              sent += 1
              broken = f.breaksStream
            }
            const sentinel = client.send({ op: Op.PING, requestId: 0xfffffff0 + index })
            const answered = await client.waitFor(() => client.replies(sentinel).length > 0, broken ? 50 : 2000)
            stats.replies += client.frames.length
            client.frames.length = 0
            if (!answered) break
          }
        } else {
          stats.unauthenticated += 1
          await client.waitFor((fs) => fs.length > 0, 1000)
          for (let i = 1 + r.int(3); i > 0; i--) {
            client.write(randomFrame(r, knownIds).bytes)
            sent += 1
          }
          await client.waitClosed(50)
          // Nothing but HELLO goes to a client that has not authenticated.
          expect(client.frames.filter((f) => f.op !== Op.HELLO)).toEqual([])
        }
        if (client.isClosed) stats.closedByServer += 1
        client.close()
      }
    }
    await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(i)))
    const took = Date.now() - started

    expect(sent).toBeGreaterThanOrEqual(FRAMES)
    expect(stats.unauthenticated).toBeGreaterThan(50)
    expect(stats.authenticated).toBeGreaterThan(50)
    // Every bad frame was a refusal the server expected, never a failure it did not.
    expect(log.filter((line) => /unexpected/.test(line))).toEqual([])
    if (process.env.DFS_TEST_VERBOSE) console.log({ sent, took, ...stats, logLines: log.length, sample: log.slice(0, 5) })

    // A good client (the one connected before, and a new one) is still served the right bytes.
    await good.ping()
    const fresh = await servers.connect(url)
    for (const id of contents.keys()) {
      // A fuzzed PUT or DELETE may have hit a known id (an authenticated client may do that).
      if (await fresh.has(id)) await fresh.get(id)
    }
    const probe = newChunkId()
    await fresh.put(probe, Buffer.from('after the fuzz'), sha256Of(Buffer.from('after the fuzz')))
    expect((await good.get(probe)).toString()).toBe('after the fuzz')

    // Nothing outside the folder changed; inside, only the node's own files (checked after the server
    // has finished every request, so no put is halfway).
    await servers.cleanupClients()
    await server.close()
    expect(await listingOutside(parent, dir)).toEqual(before)
  })
})
