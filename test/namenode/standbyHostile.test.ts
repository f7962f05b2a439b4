// A primary facing standbys that misbehave: two that authenticate in the same moment, and one whose
// acks cannot be true. One standby follows at a time, and an fsync is never acknowledged on the
// word of a standby for records it cannot have.

import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { Standby } from '../../src/namenode/standby.js'
import { connectTool } from '../../src/client/callNameNode.js'
import { dfsError } from '../../src/errors.js'
import { S_IFDIR } from '../../src/meta/namespace/types.js'
import { MessageReader, NAMENODE_PROTOCOL_VERSION, clientProof, newNonce, send } from '../../src/protocol/wire.js'
import { makeTempDir } from '../helpers/tmp.js'
import { TEST_SECRET, startTestNameNode } from './fixtures.js'
import { until } from '../helpers/cli.js'

const secret = TEST_SECRET
const quiet = () => {}
const cleanups: Array<() => Promise<unknown> | unknown> = []

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function primary(standbyTimeoutMs = 60_000, log: (m: string) => void = quiet) {
  const dir = makeTempDir('dfs-standby-hostile-').path
  const { host, server } = await startTestNameNode(dir, { standbyTimeoutMs, log })
  cleanups.push(async () => { await server.close(); await host.close() })
  const client = await RemoteNameNode.connect({ addresses: [`tcp://127.0.0.1:${server.port}`], secret, log: quiet, timeoutMs: 60_000 }, 2_000)
  cleanups.push(() => client.close())
  return { host, server, client, dir }
}

const mkdir = (name: string) => ({ op: 'mknod' as const, parent: 1, name, mode: S_IFDIR | 0o755, uid: 0, gid: 0, time: 1 })

type Heard = { t: string; [k: string]: unknown }

/** A raw standby connection, stopped after the server's hello: auth() sends its auth message. */
function rawStandby(port: number, id: string, onMessage: (m: Heard, socket: Socket) => void) {
  const socket = connect({ host: '127.0.0.1', port })
  cleanups.push(() => socket.destroy())
  const reader = new MessageReader(() => 1 << 30)
  const nonce = newNonce()
  const heard: Heard[] = []
  let challenge: string | undefined
  let closed = false
  socket.on('error', () => {})
  socket.on('close', () => { closed = true })
  socket.on('data', data => {
    for (const m of reader.push(data)) {
      if (m.t === 'hello') challenge = m.challenge
      else { heard.push(m as never); onMessage(m as never, socket) }
    }
  })
  return {
    socket, heard,
    get ready() { return challenge !== undefined },
    get closed() { return closed },
    auth: () => send(socket, { t: 'auth', version: NAMENODE_PROTOCOL_VERSION, nonce, proof: clientProof(secret, challenge!, nonce), client: id, standby: { lastSeq: 0 } }),
  }
}

const eventually = (what: () => boolean) => until(async () => what(), 60_000, 20)

describe('a primary and standbys that misbehave', () => {
  it('a standby that comes and goes over and over is told a few times, not once per coming and going', async () => {
    const p = await primary()
    for (let i = 0; i < 10; i++) {
      const s = rawStandby(p.server.port, `loop${i}`, (m, socket) => { if (m.t === 'snap' && m.done) socket.destroy() })
      await eventually(() => s.ready)
      s.auth()
      await eventually(() => s.closed && p.server.standbyStatus().state === 'lost')
    }
    const told = p.host.events.recent().filter(e => e.kind === 'standby')
    expect(told).toHaveLength(6)
  })

  it('two standbys that authenticate in the same moment: one follows, the other is refused', async () => {
    const p = await primary()
    await p.client.commit(mkdir('a'))
    const ack = (m: Heard, socket: Socket) => { if (m.t === 'follow') send(socket, { t: 'ack', seq: m.seq as number }) }
    const one = rawStandby(p.server.port, 'one', ack)
    const two = rawStandby(p.server.port, 'two', ack)
    await eventually(() => one.ready && two.ready)
    one.auth()
    two.auth()
    const outcome = (s: typeof one) => s.heard.some(m => m.t === 'follow') ? 'follows' : s.heard.find(m => m.t === 'error')?.code
    await eventually(() => outcome(one) !== undefined && outcome(two) !== undefined)
    expect([outcome(one), outcome(two)].sort()).toEqual(['STANDBY_TAKEN', 'follows'])
    // The one that follows is the one the primary waits for.
    const follower = outcome(one) === 'follows' ? one : two
    await eventually(() => p.server.standbyStatus().state === 'following')
    expect(p.server.standbyStatus().peer).toBe(`127.0.0.1:${follower.socket.localPort}`)
  })

  for (const [what, bad] of [
    ['a record this NameNode has not written yet', (seq: number) => seq + 1_000_000],
    ['not a record number', () => 'x'],
    ['a negative record number', () => -1],
  ] as const) {
    it(`drops a standby whose ack names ${what}, and an fsync is not acknowledged on its word`, async () => {
      const p = await primary(60_000)
      let snapshotSeq = 0
      const liar = rawStandby(p.server.port, 'liar', (m, socket) => {
        if (m.t === 'follow') snapshotSeq = m.seq as number
        if (m.t === 'snap' && m.done) send(socket, { t: 'ack', seq: snapshotSeq })
      })
      await eventually(() => liar.ready)
      liar.auth()
      await eventually(() => p.server.standbyStatus().state === 'following')
      send(liar.socket, { t: 'ack', seq: bad(p.host.cluster.meta.lastSeq) as number })
      await eventually(() => liar.closed)
      expect(liar.heard.find(m => m.t === 'error')).toMatchObject({ code: 'PROTOCOL_ERROR', message: /not a record this NameNode has written/ })
      expect(p.server.standbyStatus()).toMatchObject({ state: 'lost', why: expect.stringMatching(/not a record this NameNode has written/) })
      // Alone now: the fsync is this NameNode's own, and the DataNodes are told how far it got.
      await p.client.commit(mkdir('after'))
      await p.client.sync()
      expect(p.server.standbyStatus().behind).toBeGreaterThan(0)
    })
  }

  it('a standby whose journal failed (a full disk) starts over on a reopened folder once it can write again', async () => {
    const p = await primary()
    const lines: string[] = []
    const s = await Standby.start({ meta: join(p.dir, 'standby'), primary: `tcp://127.0.0.1:${p.server.port}`, secret, log: m => lines.push(m), retryMs: 50 })
    cleanups.push(() => s.close().catch(() => {}))
    await eventually(() => p.server.standbyStatus().state === 'following')
    // What the journal does when a write fails with ENOSPC: the store fails and refuses every change
    // from then on (the space is back at once here; a real disk frees up later).
    ;(s as unknown as { store: { fail(err: Error): void } }).store.fail(dfsError('ENOSPC', 'metadata journal cannot be written (ENOSPC: no space left on device, write)', {}))
    await p.client.commit(mkdir('after-the-failure'))
    await eventually(() => lines.some(l => /following stopped: .*ENOSPC/.test(l)))
    await p.client.commit(mkdir('later'))
    await eventually(() => s.status.lastSeq === p.host.cluster.meta.lastSeq && p.server.standbyStatus().state === 'following')
    expect(lines.filter(l => /took a snapshot/.test(l)).length).toBeGreaterThanOrEqual(2)
  })

  it('a standby the primary keeps refusing (another one follows) says so once, not on every try', async () => {
    const primaryLog: string[] = []
    const p = await primary(60_000, m => primaryLog.push(m))
    const address = `tcp://127.0.0.1:${p.server.port}`
    const first = await Standby.start({ meta: join(p.dir, 'first'), primary: address, secret, log: quiet, retryMs: 50 })
    cleanups.push(() => first.close())
    await eventually(() => p.server.standbyStatus().state === 'following')
    const lines: string[] = []
    const second = await Standby.start({ meta: join(p.dir, 'second'), primary: address, secret, log: m => lines.push(m), retryMs: 50 })
    cleanups.push(() => second.close())
    await eventually(() => primaryLog.filter(l => /another standby follows/.test(l)).length >= 3)
    expect(lines.filter(l => /refused this standby/.test(l))).toHaveLength(1)
  })

  it('a primary address that is not a NameNode (a DataNode\'s port) is named as such, by the standby and by a tool', async () => {
    // A server in another protocol: binary frames, as a DataNode sends on connect.
    const other = createServer(socket => { socket.on('error', () => {}); socket.write(Buffer.from([0, 0, 0, 8, 0xff, 1, 2, 3, 4, 5, 6, 7])) })
    await new Promise<void>(resolve => other.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise(resolve => other.close(resolve)))
    const address = `tcp://127.0.0.1:${(other.address() as { port: number }).port}`
    const lines: string[] = []
    const s = await Standby.start({ meta: join(makeTempDir('dfs-standby-hostile-').path, 'sb'), primary: address, secret, log: m => lines.push(m), retryMs: 50 })
    cleanups.push(() => s.close())
    await eventually(() => lines.some(l => l.includes(`${address} is not a dfs NameNode`)))
    await expect(connectTool([address], secret)).rejects.toMatchObject({ code: 'NAMENODE_UNAVAILABLE', message: expect.stringContaining(`${address} is not a dfs NameNode`) })
  })
})
