// A client mount that is stopping waits for a NameNode that went away once in all (its
// --namenode-timeout), not once per request it still makes: a stop with buffered files would
// otherwise wait a timeout per pass and again for its sync. Against a stand-in NameNode
// (fakeNameNode.ts); the whole stop, with real processes, is test/multiclient/stopWithoutNameNode.test.ts.
// Nothing here is timed: "at once" means settled before the event loop's next turn.

import { describe, expect, it } from 'vitest'
import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { isDfsError } from '../../src/errors.js'
import { S_IFDIR } from '../../src/meta/namespace/types.js'
import { until } from '../helpers/cli.js'
import { FakeNameNode, type Incarnation, fakeNameNodeFixture } from './fakeNameNode.js'

const { secret, logged, fakes, clients } = fakeNameNodeFixture()

/** --namenode-timeout: short, so the tests that wait it out are quick; the answers compared are not timed. */
const TIMEOUT_MS = 3000

async function setup(timeoutMs = TIMEOUT_MS, incarnation: Incarnation = { instance: 'one' }): Promise<{ f: FakeNameNode; c: RemoteNameNode; port: number }> {
  const f = await FakeNameNode.start(secret, incarnation)
  fakes.push(f)
  const c = await RemoteNameNode.connect({ addresses: [f.address], secret, log: line => logged.push(line), timeoutMs })
  clients.push(c)
  return { f, c, port: Number(f.address.split(':').pop()) }
}

/** The NameNode goes away (its process ends): nothing listens on its port until it starts again. */
async function goAway(f: FakeNameNode): Promise<void> {
  const losses = () => logged.filter(line => line.startsWith('lost the NameNode')).length
  const before = losses()
  await f.close()
  fakes.splice(fakes.indexOf(f), 1)
  await until(async () => losses() > before, 60_000)
}

/** How a promise stands after the event loop's next turn: its error code, 'ok', or 'pending'. */
async function soon(p: Promise<unknown>): Promise<string> {
  let state = 'pending'
  p.then(() => { state = 'ok' }, err => { state = isDfsError(err) ? err.code : String(err) })
  await new Promise(resolve => setImmediate(resolve))
  return state
}

let names = 0
const mkdir = (c: RemoteNameNode) => c.commit({ op: 'mknod', parent: 1, name: `d${names++}`, mode: S_IFDIR | 0o755, uid: 0, gid: 0, time: 1 })

const code = (p: Promise<unknown>) => p.then(() => 'ok', err => (isDfsError(err) ? err.code : String(err)))

describe('a stopping client whose NameNode went away', () => {
  it('waits for it once: what waited fails when the wait ends, and what comes after fails at once', async () => {
    const { f, c } = await setup()
    await goAway(f)
    c.stopping()
    const first = mkdir(c)
    expect(await soon(first), 'within the one wait, a request waits').toBe('pending')
    expect(await code(first)).toBe('NAMENODE_UNAVAILABLE')
    expect(await soon(mkdir(c)), 'after it, at once').toBe('NAMENODE_UNAVAILABLE')
    expect(await soon(c.capacity()), 'any request').toBe('NAMENODE_UNAVAILABLE')
  })

  it('starts that wait when it loses the NameNode, if that comes after the stop began', async () => {
    const { f, c } = await setup()
    c.stopping()
    expect(await code(mkdir(c)), 'still connected: served').toBe('ok')
    await goAway(f)
    const waiting = mkdir(c)
    expect(await soon(waiting)).toBe('pending')
    expect(await code(waiting)).toBe('NAMENODE_UNAVAILABLE')
    expect(await soon(mkdir(c))).toBe('NAMENODE_UNAVAILABLE')
  })

  it('waits afresh for a NameNode lost again after it came back (each outage gets its timeout)', async () => {
    const { f, c, port } = await setup()
    c.stopping()
    f.dropClients() // a blip: the client reconnects at once
    await until(async () => logged.some(line => line.startsWith('reconnected')), 60_000)
    expect(await code(mkdir(c))).toBe('ok')
    await new Promise(resolve => setTimeout(resolve, TIMEOUT_MS + 500)) // the stop goes on storing past one timeout
    await goAway(f)
    const during = mkdir(c)
    expect(await soon(during), 'a new outage: waited for').toBe('pending')
    const back = await FakeNameNode.start(secret, { instance: 'one' }, port)
    fakes.push(back)
    expect(['ok', 'NAMENODE_UNAVAILABLE']).toContain(await code(during)) // back in time or not: the point is it waited
  })

  it('says a loss its NameNode change caused rather than that the NameNode did not answer, even after an fsync took it', async () => {
    const { f, c } = await setup(TIMEOUT_MS, { instance: 'one', history: { id: 'h1' } })
    await mkdir(c)
    await mkdir(c)
    // A standby promoted behind: its history forks from this client's at seq 0.
    f.restart({ instance: 'two', history: { id: 'h2', parent: 'h1', forkSeq: 0 } })
    await until(async () => logged.some(line => line.includes('the next fsync fails')), 60_000)
    await expect(c.sync(), 'an fsync takes it first').rejects.toMatchObject({ code: 'EIO' })
    await goAway(f)
    c.stopping()
    await expect(c.sync(), 'the stop is told again, though the NameNode is gone').rejects.toMatchObject({ code: 'EIO', message: /records 1.2/ })
  })

  it('says the loss when its sync must ask a NameNode that then does not answer', async () => {
    const { f, c } = await setup(TIMEOUT_MS, { instance: 'one', history: { id: 'h1' } })
    await mkdir(c)
    f.restart({ instance: 'two', history: { id: 'h2', parent: 'h1', forkSeq: 0 } })
    await until(async () => logged.some(line => line.includes('the next fsync fails')), 60_000)
    await mkdir(c) // answered by the new one, never synced: the stop's sync must ask
    await goAway(f)
    c.stopping()
    await expect(c.sync()).rejects.toMatchObject({ code: 'EIO', message: /record/ })
  })

  it('lets a NameNode that comes back within the wait take what waited, and serves after it', async () => {
    const { f, c, port } = await setup(120_000) // long: the reconnect must come within it, however busy the machine
    await goAway(f)
    c.stopping()
    const waiting = mkdir(c)
    const back = await FakeNameNode.start(secret, { instance: 'one' }, port)
    fakes.push(back)
    expect(await code(waiting)).toBe('ok')
    expect(await code(c.sync())).toBe('ok')
    expect(back.received.filter(m => m === 'sync'), 'the new commit was not synced yet: asked').toHaveLength(1)
  })

  it('asks no sync when one already covered all it committed, and asks one that did not', async () => {
    const { f, c } = await setup()
    await mkdir(c)
    await c.sync()
    const asked = () => f.received.filter(m => m === 'sync').length
    expect(asked()).toBe(1)
    c.stopping()
    expect(await code(c.sync()), 'nothing new').toBe('ok')
    expect(asked(), 'so nothing asked').toBe(1)
    await mkdir(c)
    expect(await code(c.sync())).toBe('ok')
    expect(asked(), 'a new commit: asked').toBe(2)
    await goAway(f)
    expect(await soon(c.sync()), 'nothing new, NameNode gone: at once').toBe('ok')
  })

  it('does not start the wait while the mount is not stopping: requests wait their own timeout each', async () => {
    const { f, c } = await setup()
    await goAway(f)
    const first = c.sync()
    expect(await code(first)).toBe('NAMENODE_UNAVAILABLE')
    expect(await soon(c.sync()), 'a mount that is not stopping still waits for its NameNode (and asks it even with nothing new)').toBe('pending')
  })
})
