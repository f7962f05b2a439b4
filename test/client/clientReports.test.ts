// What a mount counts and reports to its NameNode: FUSE op latencies (OpStats), chunk I/O per node
// (the chunk store), when the reporter sends (injected clock), and the report over the wire: a
// NameNode lists the client, a malformed report is refused without harm, a reconnect is the same client.

import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ClientReporter } from '../../src/client/clientReporter.js'
import { OpStats } from '../../src/client/opStats.js'
import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import type { ClientReport } from '../../src/protocol/api.js'
import { LATENCY_BOUNDS_SECONDS, type ClientCounters } from '../../src/protocol/clientStats.js'
import { MessageReader, NAMENODE_PROTOCOL_VERSION, clientProof, newNonce, send, type Message } from '../../src/protocol/wire.js'
import { makeCluster, type TestCluster } from '../chunks/fakes.js'
import { until } from '../helpers/cli.js'
import { makeTempDir } from '../helpers/tmp.js'
import { TEST_SECRET, startTestNameNode, type RunningNameNode } from '../namenode/fixtures.js'
import { closeAll } from './tcpClients.js'

describe('OpStats', () => {
  it('puts each latency in the bucket whose bound is the first at or above it; the last bucket takes the rest', () => {
    const stats = new OpStats()
    stats.record('read', 0.00005)
    stats.record('read', 0.0001)
    stats.record('read', 0.0002)
    stats.record('read', 60)
    stats.record('write', 0.003)
    const snap = stats.snapshot()
    const read = snap.read!
    expect(read.count).toBe(4)
    expect(read.sum).toBeCloseTo(60.00035)
    expect(read.counts).toHaveLength(LATENCY_BOUNDS_SECONDS.length + 1)
    expect(read.counts[0]).toBe(2)
    expect(read.counts[1]).toBe(1)
    expect(read.counts[LATENCY_BOUNDS_SECONDS.length]).toBe(1)
    expect(snap.write!.counts[LATENCY_BOUNDS_SECONDS.indexOf(0.005)]).toBe(1)
    // A snapshot is a copy: later ops do not change it.
    stats.record('read', 0.5)
    expect(read.count).toBe(4)
  })
})

describe('ChunkStore node I/O', () => {
  let cluster: TestCluster | undefined
  afterEach(async () => { await cluster?.cleanup() })

  it('counts bytes and chunks written to and read from each node; cache hits are not node I/O', async () => {
    cluster = await makeCluster(3, { cacheBytes: 1 << 20 })
    const data = randomBytes(10_000)
    const ref = await cluster.store.write(data)
    const io = cluster.store.nodeIo()
    expect(Object.keys(io).sort()).toEqual([...ref.nodes].sort())
    for (const nodeId of ref.nodes) expect(io[nodeId]).toEqual({ readBytes: 0, writeBytes: 10_000, reads: 0, writes: 1 })
    await cluster.store.read(ref) // from the cache
    expect(cluster.store.nodeIo()).toEqual(io)
    cluster.store.cache.delete(ref.id)
    await cluster.store.read(ref)
    const after = cluster.store.nodeIo()
    const readFrom = ref.nodes.filter(n => after[n]!.reads === 1)
    expect(readFrom).toHaveLength(1)
    expect(after[readFrom[0]!]!.readBytes).toBe(10_000)
  })
})

describe('ClientReporter', () => {
  const about = { host: 'box', mountpoint: '/mnt', pid: 1, startedAt: 0 }

  it('reports at once, while counters move, once more after they stop, and after a quiet spell', () => {
    let t = 0
    let ops = 0
    const sent: ClientReport[] = []
    const counters = (): ClientCounters => ({ ops: { read: { counts: [], sum: 0, count: ops } }, nodes: {}, failovers: 0 })
    const reporter = new ClientReporter({ session: { report: r => sent.push(r) }, about, counters, quietMs: 10_000, now: () => t })
    reporter.start()
    expect(sent).toHaveLength(1)
    const tick = (moved: boolean) => {
      t += 2_000
      if (moved) ops++
      reporter.tick()
      return sent.length
    }
    expect(tick(false)).toBe(1) // nothing moved
    expect(tick(true)).toBe(2)
    expect(tick(true)).toBe(3)
    expect(tick(false)).toBe(4) // the one after they stopped: the rate falls to zero
    expect(tick(false)).toBe(4)
    expect(tick(false)).toBe(4)
    expect(tick(false)).toBe(4)
    expect(tick(false)).toBe(4)
    expect(tick(false)).toBe(5) // 10 s since the last one
    reporter.stop()
    expect(sent).toHaveLength(6)
    expect(sent.at(-1)!.about).toEqual(about)
  })
})

describe('client reports over the NameNode protocol', () => {
  let running: RunningNameNode | undefined
  const remotes: RemoteNameNode[] = []
  afterEach(async () => {
    await closeAll(remotes, running)
    running = undefined
  })

  const counters = (n: number): ClientCounters => {
    const counts = new Array<number>(LATENCY_BOUNDS_SECONDS.length + 1).fill(0)
    counts[0] = n
    return { ops: { getattr: { counts, sum: 0, count: n } }, nodes: { n1: { readBytes: n, writeBytes: 0, reads: n, writes: 0 } }, failovers: 0 }
  }

  it('the NameNode lists a reporting mount; a reconnect is the same client, which reports again at once', async () => {
    running = await startTestNameNode(makeTempDir('dfs-clients-').path)
    const { host, server } = running
    const remote = await RemoteNameNode.connect({ addresses: [`tcp://127.0.0.1:${server.port}`], secret: TEST_SECRET, log: () => {}, timeoutMs: 60_000 })
    remotes.push(remote)
    remote.report({ about: { host: 'box', mountpoint: '/mnt/one', pid: 7, startedAt: 1 }, counters: counters(3) })
    await until(async () => host.clients.list().length === 1, 30_000)
    expect(host.clients.list()[0]).toMatchObject({ id: remote.clientId, host: 'box', mountpoint: '/mnt/one', pid: 7, connected: true, inProcess: false })
    expect(host.status('here').clients).toHaveLength(1)
    expect(host.events.recent().map(e => e.kind)).toContain('client-connected')

    // Drop its connection from the server side: it reconnects by itself and sends its last report again.
    const connectedAt = host.clients.list()[0]!.connectedAt
    const reports = vi.spyOn(host.clients, 'report')
    for (const socket of (server as unknown as { sockets: Set<import('node:net').Socket> }).sockets) socket.destroy()
    await remote.refresh() // answered once it reconnected
    await until(async () => reports.mock.calls.length > 0, 30_000)
    expect(reports.mock.calls[0]![0]).toBe(remote.clientId)
    expect(host.clients.list()[0]!.connected).toBe(true)
    expect(host.clients.list()).toHaveLength(1)
    expect(host.clients.list()[0]!.connectedAt).toBe(connectedAt)
    expect(host.events.recent().filter(e => e.kind === 'client-connected')).toHaveLength(1)

    // A clean close says `leave`: gone at once, not a grace period (60 s here) later.
    await remote.close()
    await until(async () => host.clients.list().length === 0, 30_000)
    expect(host.events.recent()[0]).toMatchObject({ kind: 'client-gone', clientId: remote.clientId, message: expect.stringContaining('box:/mnt/one') })
    expect(host.clients.remoteTotals().ops.getattr!.count).toBe(3)
  })

  it('a NameNode that stops ends its clients once: the connections its close drops arm no grace period', async () => {
    running = await startTestNameNode(makeTempDir('dfs-clients-').path)
    const { host, server } = running
    const remote = await RemoteNameNode.connect({ addresses: [`tcp://127.0.0.1:${server.port}`], secret: TEST_SECRET, log: () => {}, timeoutMs: 60_000 })
    remotes.push(remote)
    remote.report({ about: { host: 'box', mountpoint: '/mnt/one', pid: 7, startedAt: 1 }, counters: counters(1) })
    await until(async () => host.clients.list().length === 1, 30_000)
    const disconnected = vi.spyOn(host.clients, 'disconnected')
    await server.close()
    // Each connection's close is handled (its socket leaves the server's set, then disconnected()) after that.
    const sockets = (server as unknown as { sockets: Set<unknown> }).sockets
    await until(async () => sockets.size === 0, 30_000)
    expect(host.clients.list()).toEqual([])
    expect(disconnected).not.toHaveBeenCalled()
    expect(host.events.recent().filter(e => e.kind === 'client-gone')).toHaveLength(1)
    await host.close()
    running = undefined
  })

  it('a malformed report is refused with PROTOCOL_ERROR and nothing is kept; the connection carries on', async () => {
    running = await startTestNameNode(makeTempDir('dfs-clients-').path)
    const { host, server } = running
    const socket = connect(server.port, '127.0.0.1')
    const reader = new MessageReader(() => 1 << 30)
    const replies: Message[] = []
    socket.on('data', d => {
      for (const m of reader.push(d)) {
        replies.push(m)
        if (m.t === 'hello') {
          const nonce = newNonce()
          send(socket, { t: 'auth', version: NAMENODE_PROTOCOL_VERSION, nonce, proof: clientProof(TEST_SECRET, m.challenge, nonce), client: 'hostile' })
        }
      }
    })
    try {
      await until(async () => replies.some(m => m.t === 'snap' && m.done), 30_000)
      const ops: Record<string, unknown> = {}
      for (let i = 0; i < 10_000; i++) ops[`op${i}`] = { counts: [], sum: 0, count: 0 }
      send(socket, { t: 'req', id: 1, m: 'clientReport', a: { about: { host: 'h', mountpoint: '/m', pid: 1, startedAt: 0 }, counters: { ops, nodes: {}, failovers: 0 } } })
      send(socket, { t: 'req', id: 2, m: 'refresh' })
      await until(async () => replies.some(m => m.t === 'res' && m.id === 2), 30_000)
      expect(replies.find(m => m.t === 'res' && m.id === 1)).toMatchObject({ ok: false, e: { code: 'PROTOCOL_ERROR' } })
      expect(host.clients.list()).toEqual([])
    } finally {
      socket.destroy()
    }
  })
})
