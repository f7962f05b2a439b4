// The sole writer's lease (src/namenode/soleLease.ts, docs/protocol.md): a client that is the only
// one committing answers a lookup that misses from its copy, without a refresh; another client's
// commit first takes the lease away (or waits until it ran out), so a name another client made
// before a lookup began is still always found.

import { afterEach, describe, expect, it, vi } from 'vitest'
import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { SoleLease } from '../../src/namenode/soleLease.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { startTestNameNode, type RunningNameNode } from '../namenode/fixtures.js'
import { mkdir, watchRequests } from './leaseFixtures.js'
import { closeAll, tcpClient } from './tcpClients.js'


let running: RunningNameNode | undefined
const remotes: RemoteNameNode[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  await closeAll(remotes, running)
  running = undefined
})

const client = (port: number) => tcpClient(running!, remotes, port)

describe('the sole writer\'s lease', () => {
  it('another client\'s commit takes it away first: the holder\'s next miss asks the NameNode again and finds the name', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-lease-').path, { soleLeaseMs: 60_000 })
    const a = await client(running.server.port)
    const b = await client(running.server.port)
    const requests = watchRequests(running.server, new Map([[a.remote.clientId, 'a'], [b.remote.clientId, 'b']]))

    await a.fs.mkdir('/mine', 0o755)
    await expect(a.fs.getattr('/nothing')).rejects.toMatchObject({ code: 'ENOENT' })
    expect(requests).toEqual(['a:commit']) // the miss was answered from a's copy: a holds the lease

    await b.fs.mkdir('/theirs', 0o755)
    // b's commit waited for a to give the lease up.
    expect(requests).toEqual(['a:commit', 'b:commit', 'a:revoked'])
    expect(a.fs.locate('/theirs')?.ino).toBeDefined()
    // a no longer holds it (b committed a moment ago): a miss is a round trip again.
    await expect(a.fs.getattr('/still-nothing')).rejects.toMatchObject({ code: 'ENOENT' })
    expect(requests.at(-1)).toBe('a:refresh')
  })

  it('a holder that does not answer holds another client\'s commit only until its lease ran out, and then does not trust it either', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-lease-').path, { soleLeaseMs: 300 })
    const a = await client(running.server.port)
    const b = await client(running.server.port)
    const requests = watchRequests(running.server, new Map([[a.remote.clientId, 'a'], [b.remote.clientId, 'b']]))
    await a.remote.commit(mkdir('mine'))
    // a's process stops reading (frozen, or its network gone quiet): the revoke never reaches it.
    const socket = (a.remote as unknown as { socket: { pause(): void; resume(): void } }).socket
    socket.pause()
    await b.remote.commit(mkdir('theirs'))
    expect(requests).toEqual(['a:commit', 'b:commit'])
    socket.resume()
    // a's own clock ended its lease before the NameNode's did: its miss asks, and finds the name.
    await a.fs.getattr('/theirs')
    expect(requests).toContain('a:refresh')
  })

  it('a holder that leaves (an unmount) gives it up with its `leave`: the next client\'s commit does not wait for it to run out', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-lease-').path, { soleLeaseMs: 60_000 })
    const a = await client(running.server.port)
    const b = await client(running.server.port)
    const requests = watchRequests(running.server, new Map([[a.remote.clientId, 'a'], [b.remote.clientId, 'b']]))
    await a.remote.commit(mkdir('mine'))
    const lease = (running.server as unknown as { lease: SoleLease<unknown> }).lease
    expect(lease.holding).toBeDefined()
    await a.remote.close()
    await vi.waitFor(() => expect(requests).toContain('a:leave'), { timeout: 10_000 })
    expect(lease.holding).toBeUndefined()
    // Held, it would wait the minute out: the test would time out.
    await b.remote.commit(mkdir('theirs'))
    expect(requests).toEqual(['a:commit', 'a:leave', 'b:commit'])
  })

  it('goes to one holder at a time, and not to either of two clients that both commit', async () => {
    const revokes: string[] = []
    const lease = new SoleLease<string>(1000, holder => revokes.push(holder))
    expect(lease.grant('a', 0, 1)).toBe(1000)
    expect(lease.grant('b', 2, 3)).toBe(0)
    expect(lease.beforeCommit('a', 4)).toBeUndefined() // the holder commits freely
    const waiting = lease.beforeCommit('b', 5)
    expect(waiting).toBeInstanceOf(Promise)
    expect(revokes).toEqual(['a'])
    expect(lease.grant('a', 6, 7)).toBe(0) // not while it is being taken away
    lease.revoked('a')
    await waiting
    expect(lease.beforeCommit('b', 8)).toBeUndefined()
    // Both committed within the lease's length: neither gets it.
    expect(lease.grant('a', 9, 10)).toBe(0)
    expect(lease.grant('b', 9, 10)).toBe(0)
    // Once the other's last commit is a lease's length old, it is granted again.
    expect(lease.grant('a', 1100, 1100)).toBe(1000)
  })
})
