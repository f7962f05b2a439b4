// A client mounted with several NameNode addresses after its NameNode changed (restarted, or a
// standby promoted): its fsync fails only for commits the new NameNode's history does not hold
// (seq above the welcome's startSeq), and once; it finds the serving NameNode by itself, past
// addresses that refuse clients (NOT_PRIMARY), have nothing listening, say nothing, or say goodbye.
// Against a stand-in NameNode (fakeNameNode.ts), no FUSE; the real server is in
// test/namenode/server.test.ts and the real processes in test/multiclient/failover.test.ts.

import { describe, expect, it } from 'vitest'
import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { connectTool } from '../../src/client/callNameNode.js'
import { S_IFDIR } from '../../src/meta/namespace/types.js'
import { freePort } from '../../src/util/freePort.js'
import { until } from '../helpers/cli.js'
import { FakeNameNode, type Incarnation, fakeNameNodeFixture } from './fakeNameNode.js'

const { secret, logged, fakes, clients } = fakeNameNodeFixture()

async function fake(incarnation: Incarnation): Promise<FakeNameNode> {
  const f = await FakeNameNode.start(secret, incarnation)
  fakes.push(f)
  return f
}

async function client(addresses: string[], extra: { handshakeSilenceMs?: number } = {}, firstTimeoutMs = 60_000): Promise<RemoteNameNode> {
  const c = await RemoteNameNode.connect({ addresses, secret, log: line => logged.push(line), timeoutMs: 120_000, ...extra }, firstTimeoutMs)
  clients.push(c)
  return c
}

/** An address where nothing listens. */
async function deadAddress(): Promise<string> {
  return `tcp://127.0.0.1:${await freePort()}`
}

let names = 0
const mkdir = () => ({ op: 'mknod' as const, parent: 1, name: `d${names++}`, mode: S_IFDIR | 0o755, uid: 0, gid: 0, time: 1 })

describe('fsync after the NameNode changed', () => {
  it('succeeds when the new NameNode\'s history holds every commit the old one answered (seq <= startSeq)', async () => {
    const nn = await fake({ instance: 'X', startSeq: 0 })
    const c = await client([nn.address])
    await c.commit(mkdir())
    await c.commit(mkdir()) // seq 2, not synced
    nn.restart({ instance: 'Y', startSeq: 2 })
    await c.sync()
    await c.commit(mkdir())
    await c.sync()
  })

  it('fails once, naming what was lost, when the new history ends before a commit the old one answered', async () => {
    const nn = await fake({ instance: 'X', startSeq: 0 })
    const c = await client([nn.address])
    await c.commit(mkdir())
    await c.sync() // seq 1 durable at X
    await c.commit(mkdir()) // seq 2, not synced
    nn.restart({ instance: 'Y', startSeq: 1 })
    await expect(c.sync()).rejects.toMatchObject({ code: 'EIO', message: /history ends at record 1, before this client's changes the old one journaled \(records 2–2\)/ })
    await c.sync() // reported once
    await c.commit(mkdir())
    await c.sync()
    expect(logged.some(line => /records 2–2/.test(line))).toBe(true)
  })

  it('reports a loss of records an fsync had already returned for (a standby promoted while behind)', async () => {
    const nn = await fake({ instance: 'X', startSeq: 0 })
    const c = await client([nn.address])
    await c.commit(mkdir())
    await c.commit(mkdir())
    await c.sync() // seqs 1, 2 durable at X
    nn.restart({ instance: 'Y', startSeq: 1 })
    await expect(c.sync()).rejects.toMatchObject({ code: 'EIO', message: /an fsync had reported durable \(up to record 2\)/ })
    await c.sync()
  })

  it('judges a sync that was waiting during the change by the same rule', async () => {
    const nn = await fake({ instance: 'X', startSeq: 0, holdSyncs: true })
    const c = await client([nn.address])
    await c.commit(mkdir()) // seq 1
    const kept = c.sync()
    await until(async () => nn.received.includes('sync'), 60_000, 20)
    nn.restart({ instance: 'Y', startSeq: 1 })
    await kept

    await c.commit(mkdir()) // seq 2 at Y
    nn.restart({ instance: 'Z', startSeq: 1, holdSyncs: true })
    const lost = c.sync()
    await until(async () => nn.welcomes === 3 && nn.received.filter(m => m === 'sync').length === 3, 60_000, 20)
    nn.restart({ instance: 'W', startSeq: 1 })
    await expect(lost).rejects.toMatchObject({ code: 'EIO' })
  })

  it('a NameNode that says no startSeq vouches only for what a sync covered (as before seqs)', async () => {
    const nn = await fake({ instance: 'X', startSeq: 0 })
    const c = await client([nn.address])
    await c.commit(mkdir())
    await c.sync()
    nn.restart({ instance: 'Y' })
    await c.sync()
    await c.commit(mkdir())
    nn.restart({ instance: 'Z' })
    await expect(c.sync()).rejects.toMatchObject({ code: 'EIO' })
  })

  it('a clean restart keeps the history: nothing was lost, whatever the seqs', async () => {
    const nn = await fake({ instance: 'X', startSeq: 0, history: { id: 'H' } })
    const c = await client([nn.address])
    await c.commit(mkdir())
    await c.commit(mkdir())
    nn.restart({ instance: 'Y', startSeq: 0, history: { id: 'H' } })
    await c.sync()
  })

  it('a fork of the client\'s history keeps its records up to the fork and loses the rest', async () => {
    const nn = await fake({ instance: 'X', startSeq: 0, history: { id: 'H' } })
    const c = await client([nn.address])
    await c.commit(mkdir())
    await c.commit(mkdir()) // seq 2
    nn.restart({ instance: 'Y', startSeq: 2, history: { id: 'H2', parent: 'H', forkSeq: 2 } })
    await c.sync()
    await c.commit(mkdir()) // seq 3 in H2
    nn.restart({ instance: 'Z', startSeq: 2, history: { id: 'H3', parent: 'H2', forkSeq: 2 } })
    await expect(c.sync()).rejects.toMatchObject({ code: 'EIO', message: /history ends at record 2, before this client's changes the old one journaled \(records 3–3\)/ })
  })

  it('closes the hole of two changes while the client was away: a fork of a history it never saw counts what no fsync covered as lost', async () => {
    // X answers seq 101 and dies before writing it; Y starts at 100 (fork H2), journals its own
    // 101 and 102, dies; Z starts at 102 (fork H3 of H2). startSeq alone (102 >= 101) would say "kept".
    const nn = await fake({ instance: 'X', startSeq: 0, history: { id: 'H1' } })
    const c = await client([nn.address])
    nn.seq = 100
    await c.commit(mkdir()) // seq 101
    nn.restart({ instance: 'Z', startSeq: 102, history: { id: 'H3', parent: 'H2', forkSeq: 102 } })
    await expect(c.sync()).rejects.toMatchObject({ code: 'EIO', message: /more than once .* may be lost/ })
    await c.sync()
  })

  it('the same NameNode again (a network blip) is no change at all', async () => {
    const nn = await fake({ instance: 'X', startSeq: 0 })
    const c = await client([nn.address])
    await c.commit(mkdir())
    nn.restart({ instance: 'X', startSeq: 0 })
    await c.sync()
  })
})

describe('finding the primary among the --namenode addresses', () => {
  it('mounts when the first address has nothing listening, or refuses clients as not the primary', async () => {
    const primary = await fake({ instance: 'P', startSeq: 0 })
    await client([await deadAddress(), primary.address])
    const standby = await fake({ instance: 'S', refuse: { code: 'NOT_PRIMARY', message: 'a standby serves no clients' } })
    await client([standby.address, primary.address])
    expect(primary.welcomes).toBe(2)
  })

  it('mounts when the first address accepts connections and says nothing, even past the first connect\'s deadline', async () => {
    const silent = await fake({ instance: 'H', silent: true })
    const primary = await fake({ instance: 'P', startSeq: 0 })
    // The silent address uses up the whole deadline; the next one still gets its try.
    await client([silent.address, primary.address], { handshakeSilenceMs: 200 }, 1)
    expect(primary.welcomes).toBe(1)
  })

  it('a refusal no retry can change (the secret) at every address fails the mount without waiting out its deadline', async () => {
    const a = await fake({ instance: 'A', refuse: { code: 'NAMENODE_UNAVAILABLE', message: 'client does not hold the cluster secret' } })
    const b = await fake({ instance: 'B', refuse: { code: 'NAMENODE_UNAVAILABLE', message: 'client does not hold the cluster secret' } })
    await expect(RemoteNameNode.connect({ addresses: [a.address, b.address], secret, log: () => {}, timeoutMs: 1000 }, 3_600_000))
      .rejects.toMatchObject({ code: 'NAMENODE_UNAVAILABLE', message: /cluster secret/ })
  })

  it('after a promotion, operations wait and carry on at the next address; the old primary refusing (NOT_PRIMARY) does not stop the search', async () => {
    const a = await fake({ instance: 'A', startSeq: 0 })
    const b = await fake({ instance: 'S', refuse: { code: 'NOT_PRIMARY', message: 'a standby serves no clients' } })
    const c = await client([a.address, b.address])
    await c.commit(mkdir())
    await c.commit(mkdir())
    await c.sync()
    await c.commit(mkdir()) // seq 3, unsynced
    // A goes (superseded); the standby B, which held everything up to 3, is promoted.
    a.restart({ instance: 'A', refuse: { code: 'NOT_PRIMARY', message: 'a newer NameNode took over' } })
    const during = c.commit(mkdir())
    b.seq = 3
    b.incarnation = { instance: 'B', startSeq: 3 }
    await during
    expect(b.received).toContain('commit')
    await c.sync()
  })

  it('a NameNode that ends the connection with an error (superseded) sends the client to the next address', async () => {
    const a = await fake({ instance: 'A', startSeq: 0 })
    const b = await fake({ instance: 'B', startSeq: 0 })
    const c = await client([a.address, b.address])
    expect(a.welcomes).toBe(1)
    a.incarnation = { instance: 'A', refuse: { code: 'SUPERSEDED', message: 'a newer NameNode took over' } }
    a.sayGoodbye('SUPERSEDED', 'a newer NameNode took over')
    await c.commit(mkdir())
    expect(b.received).toContain('commit')
    await c.sync()
    expect(logged.some(line => /a newer NameNode took over/.test(line))).toBe(true)
  })

  it('a tool (dfs status --namenode a,b) passes over a NameNode that is not the primary, and names it when it is the only one', async () => {
    const standby = await fake({ instance: 'S', refuse: { code: 'NOT_PRIMARY', message: 'a standby serves no clients' } })
    const primary = await fake({ instance: 'P', startSeq: 0 })
    const tool = await connectTool([standby.address, primary.address], secret)
    expect(tool.address).toBe(primary.address)
    tool.close()
    await expect(connectTool([standby.address], secret)).rejects.toMatchObject({ code: 'NOT_PRIMARY', message: /a standby serves no clients/ })
  })
})
