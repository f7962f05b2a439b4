// What a client of a NameNode over TCP costs per file operation, counted on the wire: requests the
// NameNode reads, writes each end makes (each one a system call and, Nagle off, a segment that wakes
// the other side). The file system core runs over a RemoteNameNode as a mount runs it, without FUSE;
// each step is the calls the kernel makes for it (a lookup is a getattr by path).

import { randomBytes } from 'node:crypto'
import { Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { FileSystem } from '../../src/fs/FileSystem.js'
import { until } from '../helpers/cli.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { TEST_SECRET, startTestNameNode, type RunningNameNode } from '../namenode/fixtures.js'

const CHUNK = 64 * 1024
const quiet = () => {}

let running: RunningNameNode | undefined
let remote: RemoteNameNode | undefined
afterEach(async () => {
  vi.restoreAllMocks()
  await remote?.close()
  remote = undefined
  await running?.server.close()
  await running?.host.close()
  running = undefined
})

/** The message types in one write (each chunk written is one framed message). */
function types(chunks: Buffer[]): string[] {
  return chunks.map(chunk => (JSON.parse(chunk.subarray(4).toString('utf8')) as { t: string }).t)
}

/** Writes on every socket from now on, by which end wrote (the NameNode's port is the server's). */
function watchWrites(port: number) {
  const writes: { from: 'namenode' | 'client'; types: string[] }[] = []
  const from = (socket: Socket) => (socket.localPort === port ? 'namenode' : 'client')
  const write = Socket.prototype._write
  const writev = Socket.prototype._writev!
  vi.spyOn(Socket.prototype, '_write').mockImplementation(function (this: Socket, chunk, encoding, cb) {
    writes.push({ from: from(this), types: types([chunk as Buffer]) })
    return write.call(this, chunk, encoding, cb)
  })
  vi.spyOn(Socket.prototype, '_writev').mockImplementation(function (this: Socket, chunks, cb) {
    writes.push({ from: from(this), types: types(chunks.map(c => c.chunk as Buffer)) })
    return writev.call(this, chunks, cb)
  })
  // The node list goes out every few seconds whatever the client does: not a cost of its operations.
  const counted = () => writes.filter(w => !w.types.every(t => t === 'nodes'))
  return {
    namenode: () => counted().filter(w => w.from === 'namenode'),
    client: () => counted().filter(w => w.from === 'client'),
    reset: () => { writes.length = 0 },
  }
}

/** Requests the NameNode reads, by method ("closed!" for one that wants no reply). */
function watchRequests(server: object) {
  const seen: string[] = []
  const serve = (server as { serve: (...args: unknown[]) => void }).serve
  vi.spyOn(server as { serve: (...args: unknown[]) => void }, 'serve').mockImplementation(function (this: unknown, ...args: unknown[]) {
    seen.push(`${String(args[3])}${args[5] === true ? '!' : ''}`)
    return serve.apply(this, args)
  })
  return seen
}

/**
 * `oneWayHoldMs` and the lease: long, so a slow test machine cannot make a close go out alone
 * between two steps, or the lease run out.
 */
async function start(oneWayHoldMs = 60_000) {
  const dir = tempDirForTest('dfs-round-trips-').path
  running = await startTestNameNode(dir, { soleLeaseMs: 60_000 })
  remote = await RemoteNameNode.connect({ addresses: [`tcp://127.0.0.1:${running.server.port}`], secret: TEST_SECRET, log: quiet, timeoutMs: 60_000, oneWayHoldMs })
  // The 3 s ping is a refresh of its own: not part of what is counted.
  clearInterval((remote as unknown as { pingTimer: NodeJS.Timeout }).pingTimer)
  const fs = new FileSystem({ meta: remote, chunks: running.host.cluster.chunks, chunkSize: CHUNK, dirtyLimit: 16 * CHUNK, owner: { uid: 0, gid: 0 }, log: quiet })
  return { fs, server: running.server }
}

/** open(O_CREAT) + one write + close of a new file, as the kernel asks for it (no fsync). */
async function createFile(fs: FileSystem, path: string): Promise<void> {
  await expect(fs.getattr(path)).rejects.toMatchObject({ code: 'ENOENT' })
  const fh = await fs.create(path, 0o644)
  await fs.getattr(path)
  await fs.write(fh, randomBytes(4096), 0)
  await fs.flush(fh)
  await fs.release(fh)
}

describe('a client of a NameNode over TCP, counted on the wire', () => {
  it('a create costs two requests and one wait (the sole writer needs no refresh and answers the create ahead); the close rides with the next request and is not answered', async () => {
    const { fs, server } = await start()
    await fs.mkdir('/d', 0o755)
    await createFile(fs, '/d/warm')
    const writes = watchWrites(server.port)
    const requests = watchRequests(server)
    for (const name of ['a', 'b', 'c']) await createFile(fs, `/d/${name}`)
    await fs.getattr('/d/c') // the next operation: a hit, nothing on the wire

    // Per file: the create (mknod), the close's chunk, and the close itself, which wants no answer.
    // The lookup that missed needs no second look (refresh): this client holds the sole writer's
    // lease, so no other client's record can be on its way.
    expect(requests).toEqual(['closed!', 'commit', 'commit', 'closed!', 'commit', 'commit', 'closed!', 'commit', 'commit'])
    // The NameNode answers two of them, each answer in one write with the record it caused (two
    // answers may share a write: the client does not wait for the create's before it sends the
    // chunk's, so on a busy machine the NameNode may read both at once).
    const namenode = writes.namenode()
    expect(namenode.flatMap(w => w.types)).toEqual(Array(6).fill(['rec', 'res']).flat())
    for (const w of namenode) expect(w.types.at(-1)).toBe('res')
    expect(namenode.length).toBeLessThanOrEqual(6)
    // The client writes twice per file: the previous close goes with the create.
    expect(writes.client().map(w => w.types.join('+'))).toEqual(Array(3).fill(['req+req', 'req']).flat())
  })

  it('an open costs one round trip also without the sole writer\'s lease: `opened` brings the namespace up to date by itself', async () => {
    const { fs, server } = await start()
    await fs.mkdir('/d', 0o755)
    await createFile(fs, '/d/a')
    // Another client commits: this one's lease is taken away (revoke, revoked).
    const other = await RemoteNameNode.connect({ addresses: [`tcp://127.0.0.1:${server.port}`], secret: TEST_SECRET, log: quiet, timeoutMs: 60_000 })
    try {
      await other.commit({ op: 'mknod', parent: 1, name: 'x', mode: 0o100644, uid: 0, gid: 0, time: 1 })
      const requests = watchRequests(server)
      const fh = await fs.open('/d/a')
      expect(requests).toEqual(['opened'])
      await fs.release(fh)
      // A file the other client made a moment ago, which this client's copy may not hold yet: found.
      await other.commit({ op: 'mknod', parent: 1, name: 'y', mode: 0o100644, uid: 0, gid: 0, time: 1 })
      await fs.release(await fs.open('/y'))
    } finally {
      await other.close()
    }
  })

  it('a close that nothing follows goes out on its own, a few ms later', async () => {
    const { fs, server } = await start(10)
    await fs.mkdir('/d', 0o755)
    const requests = watchRequests(server)
    await createFile(fs, '/d/a')
    await until(async () => requests.at(-1) === 'closed!', 10_000)
    expect(requests).toEqual(['commit', 'commit', 'closed!'])
  })

  it('reads made before the access time comes back record it once, not once each', async () => {
    const { fs, server } = await start()
    await createFile(fs, '/f')
    const fh = await fs.open('/f')
    const requests = watchRequests(server)
    // A sequential read: the kernel's reads follow each other faster than a round trip.
    await Promise.all(Array.from({ length: 16 }, (_, i) => fs.read(fh, Buffer.alloc(256), i * 256)))
    await until(async () => {
      const stat = await fs.getattr('/f')
      return stat.atime > stat.mtime
    }, 10_000)
    await fs.read(fh, Buffer.alloc(256), 0) // after the change it follows: nothing more to record
    await fs.release(fh)
    expect(requests.filter(r => r === 'commit')).toEqual(['commit'])
  })

  it('a change of a large file is answered without its chunk list; the caller still gets the whole inode', async () => {
    const { fs, server } = await start()
    const fh = await fs.create('/big', 0o644)
    await fs.write(fh, randomBytes(64 * CHUNK), 0)
    await fs.flush(fh)
    await fs.release(fh)
    const ino = (await fs.getattr('/big')).ino
    expect(remote!.state.inodes.get(ino)!.chunks).toHaveLength(64)
    const sizes: number[] = []
    const write = Socket.prototype._write
    const writev = Socket.prototype._writev!
    vi.spyOn(Socket.prototype, '_write').mockImplementation(function (this: Socket, chunk, encoding, cb) {
      if (this.localPort === server.port) sizes.push((chunk as Buffer).length)
      return write.call(this, chunk, encoding, cb)
    })
    vi.spyOn(Socket.prototype, '_writev').mockImplementation(function (this: Socket, chunks, cb) {
      if (this.localPort === server.port) sizes.push(chunks.reduce((sum, c) => sum + (c.chunk as Buffer).length, 0))
      return writev.call(this, chunks, cb)
    })
    const inode = await remote!.commit({ op: 'setattr', ino, mode: 0o100600, ctime: Date.now() }) as { chunks?: unknown[]; mode: number }
    // The record and the answer, in one write: a few hundred bytes, where 64 chunk refs are about 11 KB.
    expect(sizes).toHaveLength(1)
    expect(sizes[0]).toBeLessThan(1024)
    expect(inode.mode).toBe(0o100600)
    expect(inode).toBe(remote!.state.inodes.get(ino))
    expect(inode.chunks).toHaveLength(64)
  })

  it('a stat of an existing file and a second listing cost nothing on the wire', async () => {
    const { fs, server } = await start()
    await fs.mkdir('/d', 0o755)
    for (const name of ['a', 'b']) await createFile(fs, `/d/${name}`)
    await fs.readdir('/d') // the first listing after a change moves the folder's atime: one commit
    await new Promise(resolve => setTimeout(resolve, 50))
    const writes = watchWrites(server.port)
    const requests = watchRequests(server)
    for (const name of ['a', 'b']) {
      await fs.getattr('/d')
      await fs.getattr(`/d/${name}`)
      await expect(fs.getxattr(`/d/${name}`, 'security.selinux')).rejects.toMatchObject({ code: 'ENODATA' })
    }
    await fs.readdir('/d')
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(requests).toEqual([])
    expect(writes.client()).toEqual([])
  })
})

describe('one-way messages across a reconnect', () => {
  it('a close made while disconnected is not sent after the reconnect: the reopen already left it out', async () => {
    const dir = tempDirForTest('dfs-round-trips-').path
    running = await startTestNameNode(dir)
    remote = await RemoteNameNode.connect({ addresses: [`tcp://127.0.0.1:${running.server.port}`], secret: TEST_SECRET, log: quiet, timeoutMs: 60_000 })
    const f = await remote.commit({ op: 'mknod', parent: 1, name: 'f', mode: 0o100644, uid: 0, gid: 0, time: 1 }, { open: true }) as { ino: number }
    await remote.opened(f.ino) // open twice
    const internals = remote as unknown as { socket: Socket; connected: boolean }
    const opensAtNameNode = () => {
      const clients = (running!.server as unknown as { clients: Map<string, { session: { opens: Map<number, number> } }> }).clients
      return clients.get(remote!.clientId)!.session.opens.get(f.ino)
    }
    expect(opensAtNameNode()).toBe(2)
    internals.socket.destroy()
    await until(async () => !internals.connected, 10_000, 1) // it tries again after 100 ms
    remote.closed(f.ino) // one of the two closes while the NameNode cannot be reached
    await until(async () => internals.connected, 10_000)
    await remote.refresh() // behind the reopen and anything sent after it
    expect(opensAtNameNode()).toBe(1)
  })
})
