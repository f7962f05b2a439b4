// Access times over TCP (FileSystem.accessed): a client records one access per inode at a time (a
// read sees the new atime only once its record comes back), but an access after a change made while
// one is in flight is still recorded: relatime requires atime > mtime after a read that follows a
// write. (One access recorded per burst of reads: test/client/roundTrips.test.ts.) And an access
// recorded late does not take back another client's ctime.

import { afterEach, expect, it, vi } from 'vitest'
import type { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import type { ClientRecord, CommitOptions } from '../../src/protocol/api.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { startTestNameNode, type RunningNameNode } from '../namenode/fixtures.js'
import { closeAll, tcpClient } from './tcpClients.js'

/** Long enough for Date.now() to move on: a change after an access has a later time than it. */
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

let running: RunningNameNode | undefined
const remotes: RemoteNameNode[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  await closeAll(remotes, running)
  running = undefined
})

async function client() {
  running ??= await startTestNameNode(tempDirForTest('dfs-access-time-').path, { soleLeaseMs: 60_000 })
  return await tcpClient(running, remotes)
}

it('a read after a write made while the previous access time is still being recorded moves atime past mtime (relatime)', async () => {
  const { remote, fs } = await client()
  const made = await fs.create('/f', 0o644)
  await fs.write(made, Buffer.alloc(1000, 1), 0)
  await fs.release(made)

  // The access-time commits take a while (a slow link, or waiting behind another client's lease).
  let go!: () => void
  const held = new Promise<void>(resolve => { go = resolve })
  const inFlight: Promise<unknown>[] = []
  const commit = remote.commit.bind(remote)
  vi.spyOn(remote, 'commit').mockImplementation((record: ClientRecord, options?: CommitOptions) => {
    if (record.op !== 'setattr' || record.atime === undefined) return commit(record, options)
    const p = held.then(() => commit(record, options))
    inFlight.push(p)
    return p
  })

  const fh = await fs.open('/f')
  await fs.read(fh, Buffer.alloc(100), 0) // first read since the file changed: atime is recorded (in flight)
  await sleep(5)
  await fs.write(fh, Buffer.from('changed'), 0) // the file changes after that read
  await sleep(5)
  await fs.read(fh, Buffer.alloc(100), 0) // and is read after the change: atime must move past it
  go()
  await Promise.allSettled(inFlight)
  await fs.release(fh)
  await Promise.allSettled(inFlight)

  const stat = await fs.getattr('/f')
  // A local disk (relatime) shows atime after mtime here; the dedupe left the first read's atime.
  expect(stat.atime).toBeGreaterThan(stat.mtime)
})

it("another client's chmod that lands before this client's access-time record keeps its ctime", async () => {
  const a = await client()
  const b = await client()
  const made = await a.fs.create('/f', 0o644)
  await a.fs.write(made, Buffer.alloc(1000, 1), 0)
  await a.fs.release(made)
  await b.remote.refresh()

  let go!: () => void
  const held = new Promise<void>(resolve => { go = resolve })
  let atimeCommit: ReturnType<typeof commit> | undefined
  const commit = a.remote.commit.bind(a.remote)
  vi.spyOn(a.remote, 'commit').mockImplementation((record: ClientRecord, options?: CommitOptions) => {
    if (record.op !== 'setattr' || record.atime === undefined) return commit(record, options)
    return (atimeCommit = held.then(() => commit(record, options)))
  })
  const fh = await a.fs.open('/f')
  await a.fs.read(fh, Buffer.alloc(100), 0) // A's access-time record is on its way
  await sleep(5)
  await b.fs.chmod('/f', 0o600) // B's change lands first
  const afterChmod = running!.host.nameNode.state.inodes.get((await b.fs.getattr('/f')).ino)!.ctime
  go()
  await atimeCommit
  await a.fs.release(fh)
  const inode = running!.host.nameNode.state.inodes.get((await b.fs.getattr('/f')).ino)!
  expect(inode.ctime).toBeGreaterThanOrEqual(afterChmod)
})
