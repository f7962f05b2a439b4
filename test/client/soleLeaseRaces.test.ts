// Attacks on the sole writer's lease (src/namenode/soleLease.ts, RemoteNameNode.refresh): a `revoked`
// the NameNode reads late must not end a lease the client was granted after it (and trusts); a
// client whose monotonic clock stood still (a suspend: CLOCK_MONOTONIC does not count it) must not
// go on trusting a lease the NameNode's clock ended long ago.

import { afterEach, describe, expect, it, vi } from 'vitest'
import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { startTestNameNode, type RunningNameNode } from '../namenode/fixtures.js'
import { mkdir, watchRequests } from './leaseFixtures.js'
import { closeAll, tcpClient } from './tcpClients.js'

const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

let running: RunningNameNode | undefined
const remotes: RemoteNameNode[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  await closeAll(remotes, running)
  running = undefined
})

const client = (port: number) => tcpClient(running!, remotes, port)
const socketOf = (remote: RemoteNameNode) => (remote as unknown as { socket: { pause(): void; resume(): void } }).socket

describe('the sole writer\'s lease under races', () => {
  it('a late `revoked` (for a lease that ran out) does not leave the client trusting a lease the NameNode no longer counts', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-lease-race-').path, { soleLeaseMs: 400 })
    const a = await client(running.server.port)
    const b = await client(running.server.port)
    const requests = watchRequests(running.server, new Map([[a.remote.clientId, 'a'], [b.remote.clientId, 'b']]))
    await a.remote.commit(mkdir('mine')) // a holds the lease
    // a stops reading (frozen, slow): b's commit waits out a's lease at the NameNode.
    socketOf(a.remote).pause()
    await b.remote.commit(mkdir('theirs'))
    await sleep(500) // b's commit is now a lease's length old: a may be granted the lease again
    // a's own clock ended its lease: its refresh is a round trip, answered (with a new lease)
    // before a reads the old revoke; a then sends `revoked` for the old one, which the NameNode
    // reads after it granted the new one.
    const refreshed = a.remote.refresh()
    await sleep(100)
    socketOf(a.remote).resume()
    await refreshed
    await sleep(50)
    expect(requests).toEqual(['a:commit', 'b:commit', 'a:refresh', 'a:revoked'])
    // b commits again, while a's next record is still on its way (a not reading).
    socketOf(a.remote).pause()
    await b.remote.commit(mkdir('late'))
    // b's mkdir returned: a lookup on a that begins now must find the name.
    const found = a.fs.getattr('/late')
    found.catch(() => {})
    await sleep(20)
    socketOf(a.remote).resume()
    await expect(found).resolves.toMatchObject({ mode: expect.any(Number) })
  })

  it('a client whose monotonic clock stood still (a suspend) while the wall clock moved on does not trust its lease', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-lease-race-').path, { soleLeaseMs: 2000 })
    const a = await client(running.server.port)
    const requests = watchRequests(running.server, new Map([[a.remote.clientId, 'a']]))
    await a.remote.commit(mkdir('mine'))
    await expect(a.fs.getattr('/nothing')).rejects.toMatchObject({ code: 'ENOENT' })
    expect(requests).toEqual(['a:commit']) // a holds the lease
    // The host slept for a minute: CLOCK_MONOTONIC (performance.now) did not count it, the wall clock did.
    const wall = Date.now()
    vi.spyOn(Date, 'now').mockImplementation(() => wall + 60_000)
    await expect(a.fs.getattr('/nothing')).rejects.toMatchObject({ code: 'ENOENT' })
    expect(requests).toEqual(['a:commit', 'a:refresh'])
  })

  it('a client that unmounts while its commit waits for another\'s lease leaves at once (its `leave` is not dropped behind that commit)', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-lease-race-').path, { soleLeaseMs: 1500 })
    const a = await client(running.server.port)
    const b = await client(running.server.port)
    await a.remote.commit(mkdir('mine')) // a holds the lease
    socketOf(a.remote).pause() // and does not answer the revoke
    const waiting = b.remote.commit(mkdir('theirs'))
    waiting.catch(() => {})
    await sleep(100)
    expect(running.host.nameNode.sessionCount).toBe(2)
    await b.remote.close() // b unmounts: its commit fails (EIO), its session must end now
    await sleep(2000) // past a's lease: the held commit was dropped (b's connection closed)
    expect(running.host.nameNode.sessionCount).toBe(1)
    socketOf(a.remote).resume()
  })

  it('a holder that reconnects gives its lease up at once (it stopped trusting it when it lost the connection): a waiting commit goes ahead', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-lease-race-').path, { soleLeaseMs: 60_000 })
    const a = await client(running.server.port)
    const b = await client(running.server.port)
    await a.remote.commit(mkdir('mine')) // a holds the lease
    ;(a.remote as unknown as { socket: { destroy(): void } }).socket.destroy() // a's connection drops; a reconnects by itself
    const started = performance.now()
    await b.remote.commit(mkdir('theirs'))
    expect(performance.now() - started).toBeLessThan(20_000)
    expect(a.fs.locate('/theirs')?.ino).toBeDefined()
  })

  it('an in-process session opened while a client holds the lease: its commit does not go unseen by the holder', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-lease-race-').path, { soleLeaseMs: 1000 })
    const a = await client(running.server.port)
    await a.remote.commit(mkdir('mine')) // a holds the lease
    const local = running.host.inProcessSession()
    socketOf(a.remote).pause() // the record is on its way to a
    await local.commit(mkdir('local'))
    const found = a.fs.getattr('/local')
    found.catch(() => {})
    await sleep(20)
    socketOf(a.remote).resume()
    await expect(found).resolves.toMatchObject({ mode: expect.any(Number) })
    local.close?.()
  })

  it('a NameNode started after another (a restart, a promotion) lets no commit go ahead while a client may still trust a lease the last one granted', async () => {
    const dir = tempDirForTest('dfs-lease-race-').path
    running = await startTestNameNode(dir, { soleLeaseMs: 5000 })
    const port = running.server.port
    const a = await client(port)
    await a.remote.commit(mkdir('mine')) // a holds the lease
    // a does not notice its NameNode go (cut off: the connection's end never reaches it).
    const cut = (a.remote as unknown as { socket: { removeAllListeners(e: string): void } }).socket
    cut.removeAllListeners('close')
    cut.removeAllListeners('data')
    await running.server.close()
    await running.host.close()
    running = await startTestNameNode(dir, { soleLeaseMs: 5000, port })
    const b = await client(port)
    await b.remote.commit(mkdir('after'))
    // b's mkdir returned: a lookup on a that begins now must find the name.
    const found = a.fs.getattr('/after')
    found.catch(() => {})
    await sleep(20)
    // Later a notices (its connection's end, or the silence): it reconnects, to the new NameNode.
    ;(a.remote as unknown as { lost(address: string): void }).lost(`tcp://127.0.0.1:${port}`)
    await expect(found).resolves.toMatchObject({ mode: expect.any(Number) })
  })
})
