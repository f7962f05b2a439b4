// The NameNode protocol end to end, in one process and without FUSE: a NameNode host behind its TCP
// server, clients as RemoteNameNode sessions. What one client commits the others see after their
// next refresh; a wrong secret, garbage and malformed records are refused without harm to anyone
// else; a client whose NameNode restarts carries on by itself.

import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { dfsError } from '../../src/errors.js'
import { NameNodeHost } from '../../src/namenode/openNameNode.js'
import { NameNodeServer } from '../../src/namenode/server.js'
import { S_IFDIR, S_IFREG, type Inode } from '../../src/meta/namespace/types.js'
import { MAX_PUSH_BYTES, MessageReader, NAMENODE_PROTOCOL_VERSION, clientProof, newNonce, send } from '../../src/protocol/wire.js'
import { until } from '../helpers/cli.js'
import { makeTempDir } from '../helpers/tmp.js'
import { TEST_SECRET, openTestHost, startTestNameNode } from './fixtures.js'

const secret = TEST_SECRET
const quiet = () => {}

interface Running { host: NameNodeHost; server: NameNodeServer }
let running: Running | undefined
const clients: RemoteNameNode[] = []

const startNameNode = (dir: string, port = 0): Promise<Running> => startTestNameNode(dir, { port })

async function stopNameNode(): Promise<void> {
  const r = running
  running = undefined
  await r?.server.close()
  await r?.host.close()
}

async function client(port: number, key = secret): Promise<RemoteNameNode> {
  const c = await RemoteNameNode.connect({ addresses: [`tcp://127.0.0.1:${port}`], secret: key, log: quiet, timeoutMs: 60_000 }, 2_000)
  clients.push(c)
  return c
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close()
  await stopNameNode()
})

const mkdir = (name: string, time = 1) => ({ op: 'mknod' as const, parent: 1, name, mode: S_IFDIR | 0o755, uid: 0, gid: 0, time })

describe('NameNode protocol', () => {
  it('serialises namespace changes: one create of a name wins, and every client sees it after refresh', async () => {
    running = await startNameNode(makeTempDir('dfs-nn-').path)
    const [a, b] = [await client(running.server.port), await client(running.server.port)]
    const results = await Promise.allSettled([a.commit(mkdir('x')), b.commit(mkdir('x'))])
    expect(results.map(r => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    expect((results.find(r => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'EEXIST' })
    const made = (results.find(r => r.status === 'fulfilled') as PromiseFulfilledResult<Inode>).value
    // The answer came after the record: the committing client's copy already has it.
    for (const c of [a, b]) {
      await c.refresh()
      expect(c.state.children.get(1)?.get('x')).toBe(made.ino)
    }
    await a.commit({ op: 'rename', parent: 1, name: 'x', newParent: 1, newName: 'y', time: 2 })
    await b.refresh()
    expect([...b.state.children.get(1)!.keys()]).toEqual(['y'])
  })

  it('refuses a client without the secret, garbage and malformed records, and serves the others on', async () => {
    running = await startNameNode(makeTempDir('dfs-nn-').path)
    const port = running.server.port
    await expect(client(port, Buffer.from('wrong'))).rejects.toMatchObject({ code: 'NAMENODE_UNAVAILABLE', message: /does not hold the cluster secret/ })
    const good = await client(port)
    // Raw garbage: an oversized length before authentication, then not JSON.
    for (const bytes of [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from('\0\0\0\x05hello')]) {
      await new Promise<void>(resolve => {
        const s = connect(port, '127.0.0.1', () => s.write(bytes))
        s.resume().on('error', () => {}).on('close', () => resolve())
      })
    }
    await expect(good.commit({ op: 'mknod', parent: 1, name: 'f', mode: 'rw' as never, uid: 0, gid: 0, time: 1 }))
      .rejects.toMatchObject({ code: 'PROTOCOL_ERROR', message: /field "mode" of a mknod record is not a int/ })
    await expect(good.commit({ op: 'replicas', ino: 1, index: 0, id: 'x', nodes: [] } as never)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' })
    const f = await good.commit({ op: 'mknod', parent: 1, name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }) as Inode
    expect(good.state.inodes.get(f.ino)?.mode).toBe(S_IFREG | 0o644)
  })

  it('a client whose NameNode restarts reconnects by itself; what was durable is there, and requests made meanwhile are served', async () => {
    const dir = makeTempDir('dfs-nn-').path
    running = await startNameNode(dir)
    const port = running.server.port
    const a = await client(port)
    await a.commit(mkdir('before'))
    await a.sync()
    await stopNameNode()
    const during = a.commit(mkdir('during', 2)) // waits for the NameNode to come back
    running = await startNameNode(dir, port)
    await during
    await a.refresh()
    expect([...a.state.children.get(1)!.keys()].sort()).toEqual(['before', 'during'])
  })

  it('sends a namespace of many files in several snapshot messages, and a client with many files open reconnects', async () => {
    const dir = makeTempDir('dfs-nn-').path
    running = await startNameNode(dir)
    const port = running.server.port
    const a = await client(port)
    const files: Inode[] = []
    for (let i = 0; i < 3000; i++) {
      const name = `a-long-file-name-so-the-snapshot-grows-${i}`.padEnd(200, 'x')
      files.push(await a.commit({ op: 'mknod', parent: 1, name, mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }, { open: true }) as Inode)
    }
    await a.sync()
    await stopNameNode()
    running = await startNameNode(dir, port)
    await a.refresh() // waits for the reconnect
    const b = await client(port)
    expect(b.state.children.get(1)?.size).toBe(3000)
    // The 3,000 opens came back with a: an unlink now keeps the file (its last open is a's).
    await b.commit({ op: 'unlink', parent: 1, name: [...b.state.children.get(1)!.keys()][0], dir: false, time: 2 })
    await b.refresh()
    expect(b.state.inodes.has(files[0].ino)).toBe(true)
  })

  it('an fsync after the NameNode restarted succeeds when the new one\'s journal holds what the old one answered (a clean stop wrote it)', async () => {
    const dir = makeTempDir('dfs-nn-').path
    running = await startNameNode(dir)
    const port = running.server.port
    const a = await client(port)
    await a.commit(mkdir('answered-by-the-old-one'))
    const seq = running.host.cluster.meta.lastSeq
    await stopNameNode()
    const sync = a.sync()
    running = await startNameNode(dir, port)
    expect(running.host.startSeq).toBe(seq)
    await sync
    await a.commit(mkdir('answered-by-the-new-one', 2))
    await a.sync()
    await a.refresh()
    expect([...a.state.children.get(1)!.keys()].sort()).toEqual(['answered-by-the-new-one', 'answered-by-the-old-one'])
  })

  it('asks for an orphan sweep when a client session ends without its client, not when the client left (a sweep lists every node)', async () => {
    const host = await openTestHost(makeTempDir('dfs-nn-').path, { reopenGraceMs: 60_000 })
    const server = await NameNodeServer.start({ host, listen: '127.0.0.1:0', secret, log: quiet, sessionGraceMs: 50 })
    running = { host, server }
    const sweeps = vi.spyOn(host.services.healer.orphans, 'requestSweep')
    const left = await client(server.port)
    await left.commit(mkdir('a'))
    await left.close()
    await until(async () => host.nameNode.sessionCount === 0, 10_000, 10)
    expect(sweeps).toHaveBeenCalledTimes(0)

    // A client that goes without a word (killed): its session ends after the grace period, with a sweep.
    const killed = await client(server.port)
    await killed.commit(mkdir('b'))
    ;(killed as unknown as { closing: boolean }).closing = true // no reconnect, no leave: as if the process died
    ;(killed as unknown as { socket: Socket }).socket.destroy()
    await until(async () => host.nameNode.sessionCount === 0, 10_000, 10)
    expect(sweeps).toHaveBeenCalledTimes(1)
  })

  it('asks for an orphan sweep when a client that left had a commit still held (it is dropped with the connection: its chunks were never recorded)', async () => {
    const host = await openTestHost(makeTempDir('dfs-nn-').path, { reopenGraceMs: 60_000 })
    const server = await NameNodeServer.start({ host, listen: '127.0.0.1:0', secret, log: quiet, sessionGraceMs: 50, soleLeaseMs: 2_000 })
    running = { host, server }
    const sweeps = vi.spyOn(host.services.healer.orphans, 'requestSweep')
    // The sole writer, which will not answer the revoke: its lease holds the other's commit back.
    const sole = await client(server.port)
    await sole.commit(mkdir('a'))
    ;(sole as unknown as { socket: Socket }).socket.pause()
    const leaver = await client(server.port)
    const held = leaver.commit(mkdir('b'))
    held.catch(() => {})
    await until(async () => [...(server as unknown as { clients: Map<string, { gate?: unknown }> }).clients.values()].some((c) => c.gate !== undefined), 10_000, 5)
    await leaver.close() // an unmount that could not wait: the commit goes unanswered
    await until(async () => host.nameNode.sessionCount === 1, 10_000, 10)
    expect(sweeps).toHaveBeenCalledTimes(1)
    ;(sole as unknown as { socket: Socket }).socket.resume()
    // Once the lease is given up, the held commit is dropped, not applied: whatever it stored is an orphan.
    await until(async () => ![...(server as unknown as { clients: Map<string, { gate?: unknown }> }).clients.values()].some((c) => c.gate !== undefined), 10_000, 10)
    expect(host.nameNode.state.children.get(1)!.has('b')).toBe(false)
  })

  it('answers a commit with the journal seq of its record and a sync with the seq it made durable; the welcome says where its history started', async () => {
    const dir = makeTempDir('dfs-nn-').path
    running = await startNameNode(dir)
    const port = running.server.port
    const replies: Record<string, unknown>[] = []
    const raw = await rawClient(port, replies)
    send(raw, { t: 'req', id: 1, m: 'commit', a: { record: mkdir('x') } })
    send(raw, { t: 'req', id: 2, m: 'sync' })
    await until(async () => replies.length === 3, 60_000, 20)
    raw.destroy()
    const seq = running.host.cluster.meta.lastSeq
    expect(replies[0]).toMatchObject({ t: 'welcome', startSeq: 0 })
    expect(replies[1]).toMatchObject({ t: 'res', id: 1, ok: true, seq })
    expect(replies[2]).toMatchObject({ t: 'res', id: 2, ok: true, seq })
    await stopNameNode()
    running = await startNameNode(dir, port)
    const again: Record<string, unknown>[] = []
    ;(await rawClient(port, again)).destroy()
    expect(again[0]).toMatchObject({ t: 'welcome', startSeq: seq })
    // A clean stop: the same history goes on.
    expect((again[0] as { history: { id: string } }).history.id).toBe((replies[0] as { history: { id: string } }).history.id)
  })
})

/** A bare protocol connection: the handshake, then the welcome and every reply land in `out`. */
async function rawClient(port: number, out: Record<string, unknown>[]): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port })
  const reader = new MessageReader(() => MAX_PUSH_BYTES)
  const nonce = newNonce()
  let ready!: () => void
  const snapshotIn = new Promise<void>(resolve => { ready = resolve })
  socket.on('data', data => {
    for (const m of reader.push(data)) {
      if (m.t === 'hello') send(socket, { t: 'auth', version: NAMENODE_PROTOCOL_VERSION, nonce, proof: clientProof(secret, m.challenge, nonce), client: `raw-${nonce}` })
      else if (m.t === 'welcome' || m.t === 'res') out.push(m as unknown as Record<string, unknown>)
      else if (m.t === 'snap' && m.done) ready()
    }
  })
  await snapshotIn
  return socket
}

describe('a NameNode superseded by a newer one', () => {
  it('tells its clients why it closes; a client that knows no other address says how to remount', async () => {
    running = await startNameNode(makeTempDir('dfs-nn-').path)
    const logged: string[] = []
    const c = await RemoteNameNode.connect({ addresses: [`tcp://127.0.0.1:${running.server.port}`], secret, log: (m: string) => logged.push(m), timeoutMs: 60_000 }, 2_000)
    clients.push(c)
    const why = dfsError('SUPERSEDED', 'a newer NameNode (epoch 3) took over the cluster', {})
    const r = running
    const port = r.server.port
    running = undefined
    await r.server.close(why)
    await r.host.close()
    await until(async () => logged.some((m) => /ended the connection/.test(m)), 60_000, 20)
    expect(logged.join('\n')).toContain(`the NameNode at tcp://127.0.0.1:${port} ended the connection: a newer NameNode (epoch 3) took over the cluster [SUPERSEDED]; ` +
      `this client knows no other NameNode address, so its requests fail (EIO) until it is remounted with --namenode tcp://127.0.0.1:${port},<the NameNode that took over>`)
  })
})
