// Creates answered ahead (docs/protocol.md, RemoteNameNode.createAhead): under the sole writer's
// lease a client answers a create from its copy and does not wait for the NameNode's answer. Each
// test holds the NameNode's handling of a request at a gate, so "answered before the NameNode took
// it" is an order of events, not a race with a clock.

import { Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { FileSystem } from '../../src/fs/FileSystem.js'
import type { SoleLease } from '../../src/namenode/soleLease.js'
import { until } from '../helpers/cli.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { TEST_SECRET, startTestNameNode, type RunningNameNode } from '../namenode/fixtures.js'
import { mkdir } from './leaseFixtures.js'
import { CHUNK, closeAll, tcpClient } from './tcpClients.js'

let running: RunningNameNode | undefined
const remotes: RemoteNameNode[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  await closeAll(remotes, running)
  running = undefined
})

const file = (name: string, parent = 1) => ({ op: 'mknod' as const, parent, name, mode: 0o100644, uid: 0, gid: 0, time: 1 })

/** The NameNode's state, and what it journaled. */
const nameNodeState = () => running!.host.cluster.meta.state
const journaled = () => running!.host.cluster.meta.lastSeq

/**
 * `hold(name)` holds the NameNode's handling of every `commit` of a record named `name` until the
 * gate's `open()` (one spy for all the gates of a test).
 */
function gates(server: object) {
  const held = new Map<string, { opened: Promise<void>; reached: boolean; count: number }>()
  const serve = (server as { serve: (...args: unknown[]) => void }).serve
  vi.spyOn(server as { serve: (...args: unknown[]) => void }, 'serve').mockImplementation(function (this: unknown, ...args: unknown[]) {
    const a = args[4] as { record?: { name?: string; op?: string } } | undefined
    const key = a?.record?.op === 'chunk' ? '(chunk)' : a?.record?.name
    const gate = args[3] === 'commit' && key !== undefined ? held.get(key) : undefined
    if (gate) {
      gate.reached = true
      gate.count++
      void gate.opened.then(() => serve.apply(this, args))
      return
    }
    return serve.apply(this, args)
  })
  return {
    /** `name`: a record's name, or '(chunk)' for every chunk record. */
    hold(name: string) {
      let open!: () => void
      const gate = { opened: new Promise<void>(resolve => { open = resolve }), reached: false, count: 0 }
      held.set(name, gate)
      return { open, reached: () => gate.reached, count: () => gate.count }
    },
  }
}

/** A client with a log kept, and a file system over it. */
async function loggedClient(port: number) {
  const lines: string[] = []
  const remote = await RemoteNameNode.connect({ addresses: [`tcp://127.0.0.1:${port}`], secret: TEST_SECRET, log: m => lines.push(m), timeoutMs: 60_000 })
  remotes.push(remote)
  clearInterval((remote as unknown as { pingTimer: NodeJS.Timeout }).pingTimer)
  const fs = new FileSystem({ meta: remote, chunks: running!.host.cluster.chunks, chunkSize: CHUNK, dirtyLimit: 16 * CHUNK, owner: { uid: 0, gid: 0 }, log: () => {} })
  return { remote, fs, lines }
}

describe('creates answered ahead', () => {
  it('under the lease a create is answered before the NameNode took it, with the inode number the NameNode then gives it', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
    const { remote, fs, lines } = await loggedClient(running.server.port)
    const socket = (remote as unknown as { socket: Socket }).socket
    await fs.mkdir('/d', 0o755) // the lease comes with this answer
    const held = gates(running.server).hold('f')
    const seq = journaled()

    const fh = await fs.create('/d/f', 0o644)
    // Answered, and the NameNode has not taken it: it holds it at the gate.
    expect(journaled()).toBe(seq)
    const mine = await fs.getattr('/d/f')
    await fs.write(fh, Buffer.from('hello'), 0)
    const flushed = fs.flush(fh) // the chunk's commit goes behind the create's: it waits for it
    held.open()
    await flushed
    await fs.release(fh)

    const d = nameNodeState().children.get(1)!.get('d')!
    expect(nameNodeState().children.get(d)!.get('f')).toBe(mine.ino)
    expect(nameNodeState().inodes.get(mine.ino)!.size).toBe(5)
    // The record came back and was not applied twice: the copies agree.
    await remote.refresh()
    expect(remote.state.nextIno).toBe(nameNodeState().nextIno)
    expect(remote.state.inodes.get(d)).toEqual(nameNodeState().inodes.get(d))
    expect([...remote.state.children.get(d)!.keys()]).toEqual(['f'])
    expect((remote as unknown as { socket: Socket }).socket).toBe(socket) // no snapshot taken afresh
    expect(lines.filter(line => line.includes('resynchronising'))).toEqual([])
    await remote.sync()
  })

  it('a create that fails in the copy is refused there and nothing is sent', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
    const { remote, fs } = await tcpClient(running, remotes)
    await fs.mkdir('/d', 0o755)
    const seq = journaled()
    await expect(fs.mkdir('/d', 0o755)).rejects.toMatchObject({ code: 'EEXIST' })
    await expect(fs.create('/none/f', 0o644)).rejects.toMatchObject({ code: 'ENOENT' })
    await remote.sync()
    expect(journaled()).toBe(seq)
  })

  it('without the lease (another client committed) a create waits for the NameNode\'s answer', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
    const a = await tcpClient(running, remotes)
    const b = await tcpClient(running, remotes)
    await a.fs.mkdir('/a', 0o755)
    await b.fs.mkdir('/b', 0o755) // takes a's lease away; b gets none (a committed a moment ago)
    const held = gates(running.server).hold('f')
    let answered = false
    const created = a.fs.create('/a/f', 0o644).then(fh => { answered = true; return fh })
    await until(async () => held.reached(), 10_000, 1)
    await new Promise(resolve => setImmediate(resolve))
    expect(answered).toBe(false)
    held.open()
    await a.fs.release(await created)
  })

  it('a create waits for its answer while another commit of this client is unanswered, and with less than half the lease left', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
    const { remote, fs } = await tcpClient(running, remotes)
    await fs.mkdir('/d', 0o755)
    await fs.mkdir('/e', 0o755)
    // A rename not answered yet: its record, not in this copy, goes first at the NameNode.
    const gate = gates(running.server)
    const renaming = gate.hold('e')
    const renamed = fs.rename('/e', '/d/f')
    await until(async () => renaming.reached(), 10_000, 1)
    const held = gate.hold('f')
    let answered = false
    const created = fs.create('/d/f', 0o644).then(fh => { answered = true; return fh }, err => { answered = true; throw err })
    await until(async () => held.reached(), 10_000, 1)
    await new Promise(resolve => setImmediate(resolve))
    expect(answered).toBe(false)
    renaming.open()
    held.open()
    await renamed
    // At the NameNode the rename went first: the name is taken, as the create is told.
    await expect(created).rejects.toMatchObject({ code: 'EEXIST' })

    // A lease with less than half of it left.
    const internals = remote as unknown as { soleUntil: number; leaseMs: number }
    await fs.mkdir('/g', 0o755)
    internals.soleUntil = performance.now() + internals.leaseMs / 4
    const late = gate.hold('h')
    let done = false
    const made = fs.mkdir('/h', 0o755).then(() => { done = true })
    await until(async () => late.reached(), 10_000, 1)
    await new Promise(resolve => setImmediate(resolve))
    expect(done).toBe(false)
    late.open()
    await made
  })

  it('a create the NameNode refuses (its lease had ended there) is lost loudly: the copy is taken afresh, its open file and the next fsync fail, and its number is free to be used again', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
    const a = await loggedClient(running.server.port)
    const b = await tcpClient(running, remotes)
    await a.fs.mkdir('/d', 0o755) // a holds the lease
    // The lease ends at the NameNode while a still trusts it (its requests delayed, say), and b
    // makes a file: the inode number a's copy would give next is taken.
    const lease = (running.server as unknown as { lease: SoleLease<unknown> }).lease
    lease.revoked(lease.holding)
    await b.remote.commit(file('theirs'))
    const seq = journaled()

    const fh = await a.fs.create('/d/mine', 0o644) // a does not know yet: answered ahead
    const ino = (await a.fs.getattr('/d/mine')).ino
    await a.fs.write(fh, Buffer.from('lost'), 0)
    await expect(a.fs.flush(fh)).rejects.toMatchObject({ code: 'CREATE_AHEAD_REFUSED' })
    await expect(a.fs.write(fh, Buffer.from('more'), 0)).rejects.toMatchObject({ code: 'CREATE_AHEAD_REFUSED' })
    await expect(a.fs.read(fh, Buffer.alloc(4), 0)).rejects.toMatchObject({ code: 'CREATE_AHEAD_REFUSED' })
    await a.fs.release(fh)
    await expect(a.remote.sync()).rejects.toMatchObject({ code: 'EIO', message: expect.stringContaining(`inode ${ino}`) })
    expect(a.lines.some(line => line.includes('did not take a create this client had answered ahead') && line.includes('resynchronising'))).toBe(true)
    // The copy was taken afresh: b's file is there, a's is not, and the two agree.
    await until(async () => (a.remote as unknown as { connected: boolean }).connected && a.remote.state.children.get(1)!.has('theirs'), 10_000)
    expect(a.remote.state.children.get(a.remote.state.children.get(1)!.get('d')!)!.has('mine')).toBe(false)
    expect(a.remote.state.nextIno).toBe(nameNodeState().nextIno)
    expect(journaled()).toBe(seq) // nothing journaled for it

    // The number is free to be used again: the next file a makes may get it, and works.
    const fh2 = await a.fs.create('/d/other', 0o644)
    const other = (await a.fs.getattr('/d/other')).ino
    await a.fs.write(fh2, Buffer.from('kept'), 0)
    await a.fs.flush(fh2)
    await a.fs.release(fh2)
    await a.fs.chmod('/d/other', 0o600)
    await a.remote.sync()
    expect(nameNodeState().inodes.get(other)).toMatchObject({ size: 4, mode: 0o100600 })
  })

  it('a file made (ahead, again after a reconnect) in a folder the NameNode did not take is refused too, not written into the folder that got its number', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
    const a = await tcpClient(running, remotes)
    const b = await tcpClient(running, remotes)
    await a.fs.mkdir('/base', 0o755) // a holds the lease
    const socket = (a.remote as unknown as { socket: Socket }).socket
    socket.cork() // a's requests are delayed
    await a.fs.mkdir('/base/mine', 0o755) // ahead: N
    const fh = await a.fs.create('/base/mine/secret', 0o644) // ahead: N + 1, in N
    const lease = (running.server as unknown as { lease: SoleLease<unknown> }).lease
    lease.revoked(lease.holding) // a's lease ends at the NameNode meanwhile
    await b.fs.mkdir('/theirs', 0o755) // and b's folder gets N
    socket.destroy() // a reconnects and sends both again, without `ahead`
    await a.fs.write(fh, Buffer.from('private'), 0)
    await expect(a.fs.flush(fh)).rejects.toMatchObject({ code: 'CREATE_AHEAD_REFUSED' })
    await a.fs.release(fh)
    await expect(a.remote.sync()).rejects.toMatchObject({ code: 'EIO' })
    const theirs = nameNodeState().children.get(1)!.get('theirs')!
    expect([...nameNodeState().children.get(theirs)!.keys()]).toEqual([])
    expect(nameNodeState().children.get(nameNodeState().children.get(1)!.get('base')!)!.has('mine')).toBe(false)
    // What a can do with b's folder is not held against it.
    await a.fs.mkdir('/theirs/from-a', 0o755)
    expect(nameNodeState().children.get(theirs)!.has('from-a')).toBe(true)
  })

  it('a lost file\'s open handle never reads the inode that got its number: not when the fresh snapshot has it, nor when it comes after', async () => {
    for (const when of ['before the snapshot', 'after it']) {
      await closeAll(remotes, running)
      vi.restoreAllMocks()
      running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
      const a = await tcpClient(running, remotes)
      const b = await tcpClient(running, remotes)
      await a.fs.mkdir('/d', 0o755) // a holds the lease
      const lease = (running.server as unknown as { lease: SoleLease<unknown> }).lease
      const gate = gates(running.server)
      const socket = (a.remote as unknown as { socket: Socket }).socket
      socket.cork()
      const name = `mine-${when === 'after it' ? 2 : 1}`
      const fh = await a.fs.create(`/d/${name}`, 0o644) // ahead; never reaches the NameNode on this connection
      const ino = (await a.fs.getattr(`/d/${name}`)).ino
      const held = gate.hold(name) // sent again after the reconnect, and held there
      lease.revoked(lease.holding)
      const theirs = async () => {
        const bfh = await b.fs.create(`/theirs-${name}`, 0o644)
        expect((await b.fs.getattr(`/theirs-${name}`)).ino).toBe(ino)
        await b.fs.write(bfh, Buffer.from('B-SECRET'), 0)
        await b.fs.flush(bfh)
        await b.fs.release(bfh)
      }
      if (when === 'before the snapshot') await theirs()
      socket.destroy()
      await until(async () => (a.remote as unknown as { connected: boolean }).connected, 10_000)
      if (when === 'after it') {
        await until(async () => held.reached(), 10_000, 1)
        await theirs()
        await until(async () => a.remote.state.inodes.get(ino)?.size === 8, 10_000)
      }
      expect(a.remote.state.inodes.get(ino)?.size).toBe(8) // the number is b's file in a's copy
      await expect(a.fs.read(fh, Buffer.alloc(16), 0)).rejects.toMatchObject({ code: 'CREATE_AHEAD_REFUSED' })
      held.open()
      await a.fs.release(fh)
      await expect(a.remote.sync()).rejects.toMatchObject({ code: 'EIO' })
    }
  })

  it('a commit of a lost file still unanswered when the connection was dropped is not sent again', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
    const a = await tcpClient(running, remotes)
    await a.fs.mkdir('/d', 0o755)
    const chunks = gates(running.server).hold('(chunk)') // never answered on this connection
    const lease = (running.server as unknown as { lease: SoleLease<unknown> }).lease
    lease.revoked(lease.holding)
    const socket = (a.remote as unknown as { socket: Socket }).socket
    socket.cork() // the refusal cannot come before the chunk's commit has gone out
    const fh = await a.fs.create('/d/mine', 0o644) // answered ahead; the NameNode refuses it
    await a.fs.write(fh, Buffer.from('lost'), 0)
    const flushed = a.fs.flush(fh)
    flushed.catch(() => {})
    const pending = (a.remote as unknown as { pending: Map<number, { args: { record?: { op: string } } }> }).pending
    await until(async () => [...pending.values()].some(p => p.args.record?.op === 'chunk'), 10_000, 1)
    socket.uncork()
    await until(async () => chunks.reached(), 10_000, 1)
    // The refusal drops the connection for a fresh copy; the chunk's commit is still unanswered.
    await until(async () => (a.remote as unknown as { connected: boolean }).connected && !a.remote.state.children.get(a.remote.state.children.get(1)!.get('d')!)!.has('mine'), 10_000)
    await expect(flushed).rejects.toMatchObject({ code: 'CREATE_AHEAD_REFUSED' })
    await (a.remote as unknown as { request(m: string): Promise<unknown> }).request('refresh') // behind anything sent again
    expect(chunks.count()).toBe(1)
    await a.fs.release(fh)
  })

  it('a create the NameNode took whose answer was lost with the connection is answered from the fresh snapshot, not sent again', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
    const { remote, fs } = await tcpClient(running, remotes)
    await fs.mkdir('/d', 0o755)
    const socket = (remote as unknown as { socket: Socket }).socket
    socket.pause() // the client reads nothing more on this connection
    const seq = journaled()
    const fh = await fs.create('/d/f', 0o644)
    const ino = (await fs.getattr('/d/f')).ino
    await until(async () => journaled() > seq, 10_000, 1) // the NameNode took it; its answer waits unread
    socket.destroy()
    await fs.write(fh, Buffer.from('kept'), 0)
    await fs.flush(fh)
    await fs.release(fh)
    await remote.sync() // nothing lost
    expect(nameNodeState().inodes.get(ino)).toMatchObject({ size: 4 })
    expect(nameNodeState().children.get(nameNodeState().children.get(1)!.get('d')!)!.get('f')).toBe(ino)
  })

  it('a create answered ahead that never reached the NameNode goes again after the reconnect, with the number it was given and without the lease', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
    const { remote, fs } = await tcpClient(running, remotes)
    await fs.mkdir('/d', 0o755)
    const socket = (remote as unknown as { socket: Socket }).socket
    socket.cork() // what the client writes from here stays in the client
    const fh = await fs.create('/d/f', 0o644)
    const ino = (await fs.getattr('/d/f')).ino
    const other = await fs.create('/d/other', 0o644)
    const opened = remote.opened((await fs.getattr('/d')).ino) // another request with an inode number, unanswered
    socket.destroy() // and is lost with the connection
    // When it connects again it gets no lease (as if another client had just committed): the create
    // sent again must not need one.
    const lease = (running.server as unknown as { lease: SoleLease<unknown> }).lease
    vi.spyOn(lease, 'grant').mockReturnValue(0)
    await fs.write(fh, Buffer.from('kept'), 0)
    await fs.flush(fh) // waits for the reconnect; the create goes first
    await fs.release(fh)
    await fs.release(other)
    await opened // sent again as it was
    const d = nameNodeState().children.get(1)!.get('d')!
    expect(nameNodeState().children.get(d)!.get('f')).toBe(ino)
    expect(nameNodeState().inodes.get(ino)!.size).toBe(4)
    await remote.refresh()
    expect(remote.state.inodes.get(ino)!.size).toBe(4)
    expect(remote.state.nextIno).toBe(nameNodeState().nextIno)
    await remote.sync()
  })
})

describe('another client\'s lookup while the holder answers creates ahead', () => {
  it('a name the holder made before the lookup began is found: the lookup\'s refresh waits for the holder to give the lease up, and its pings do not', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
    const a = await tcpClient(running, remotes)
    const b = await tcpClient(running, remotes)
    const lease = (running.server as unknown as { lease: SoleLease<unknown> }).lease
    await a.fs.mkdir('/a', 0o755) // a holds the lease (b commits nothing)
    // What a writes from here stays in its socket: a create on its way to the NameNode.
    const socket = (a.remote as unknown as { socket: Socket }).socket
    socket.cork()
    await a.fs.mkdir('/a/new', 0o755) // answered ahead
    const internals = b.remote as unknown as { request(m: string, args?: Record<string, unknown>): Promise<unknown> }
    await internals.request('refresh', { ping: true }) // a ping is answered at once
    let settled = false
    const found = b.fs.getattr('/a/new').finally(() => { settled = true })
    // b's copy misses it: its refresh waits for a's `revoked`, which comes after a's create.
    await until(async () => lease.holding !== undefined && (running!.server as unknown as { clients: Map<string, { gate?: unknown }> }).clients.get(b.remote.clientId)?.gate !== undefined, 10_000, 1)
    await new Promise(resolve => setImmediate(resolve))
    expect(settled).toBe(false)
    socket.uncork()
    await expect(found).resolves.toMatchObject({ mode: 0o40755 })
  })

  it('so does a lookup of an in-process session (a NameNode that also serves its own mount) while a lease granted before it opened lasts', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
    const a = await tcpClient(running, remotes)
    await a.fs.mkdir('/a', 0o755) // a holds the lease
    const local = running.host.inProcessSession()
    const socket = (a.remote as unknown as { socket: Socket }).socket
    socket.cork()
    await a.fs.mkdir('/a/new', 0o755) // answered ahead, on its way
    let settled = false
    const refreshed = local.refresh().finally(() => { settled = true })
    await until(async () => (running!.server as unknown as { lease: { revoking?: unknown } }).lease.revoking !== undefined, 10_000, 1)
    await new Promise(resolve => setImmediate(resolve))
    expect(settled).toBe(false)
    socket.uncork()
    await refreshed
    expect(running.host.cluster.meta.state.children.get(running.host.cluster.meta.state.children.get(1)!.get('a')!)!.has('new')).toBe(true)
    await local.close()
  })
})

describe('the NameNode\'s checks of a create answered ahead', () => {
  it('refuses a number that is not its next, an `ahead` from a session without the lease, and a number on another record; journals nothing', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-ahead-').path, { soleLeaseMs: 60_000 })
    const a = await tcpClient(running, remotes)
    const b = await tcpClient(running, remotes)
    await a.remote.commit(mkdir('x'))
    await b.remote.commit(mkdir('y')) // a's lease is gone; b holds none either
    const request = (remote: RemoteNameNode, args: Record<string, unknown>) =>
      (remote as unknown as { request(m: string, a: Record<string, unknown>): Promise<unknown> }).request('commit', args)
    const seq = journaled()
    const next = nameNodeState().nextIno
    await expect(request(a.remote, { record: file('f'), ino: next + 1 })).rejects.toMatchObject({ code: 'CREATE_AHEAD_REFUSED' })
    await expect(request(a.remote, { record: file('f'), ino: next, ahead: true })).rejects.toMatchObject({ code: 'CREATE_AHEAD_REFUSED' })
    await expect(request(a.remote, { record: { op: 'setattr', ino: 1, mode: 0o40755, ctime: 2 }, ino: 1 })).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' })
    expect(journaled()).toBe(seq)
    // The right number, without `ahead` (a create sent again after a reconnect): taken.
    await expect(request(a.remote, { record: file('f'), ino: next })).resolves.toMatchObject({ ino: next })
  })
})
