// A commit's answer over TCP (src/protocol/commitAnswer.ts): inodes go without their chunk lists and
// the client takes them from its copy, yet a caller gets what the in-process session gives, the inode
// as the commit left it, chunks and all: also one the NameNode forgot in the same step (unlink or
// rename over a file no one holds open), and also when a later record arrives with the answer.
// (The answer's size on the wire: test/client/roundTrips.test.ts.)

import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import type { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import type { Inode } from '../../src/meta/namespace/types.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { startTestNameNode, type RunningNameNode } from '../namenode/fixtures.js'
import { CHUNK, closeAll, tcpClient } from './tcpClients.js'

let running: RunningNameNode | undefined
const remotes: RemoteNameNode[] = []
afterEach(async () => {
  await closeAll(remotes, running)
  running = undefined
})

async function start() {
  running = await startTestNameNode(tempDirForTest('dfs-commit-answer-').path, { soleLeaseMs: 60_000 })
  return await tcpClient(running, remotes)
}

it('unlink of a file no one has open answers the inode with its chunk list, as the in-process session does', async () => {
  const { remote, fs } = await start()
  const fh = await fs.create('/big', 0o644)
  await fs.write(fh, randomBytes(4 * CHUNK), 0)
  await fs.release(fh)
  expect(remote.state.inodes.get((await fs.getattr('/big')).ino)!.chunks).toHaveLength(4)
  // The NameNode journals `forget` right after the unlink: the copy no longer holds the inode when
  // the answer resolves, so resultOfCommit falls back to the stripped answer.
  const inode = await remote.commit({ op: 'unlink', parent: 1, name: 'big', dir: false, time: Date.now() }) as Inode
  expect(inode.nlink).toBe(0)
  expect(inode.chunks).toHaveLength(4)
})

it('a commit answers the inode as its own record left it, not as a later record read with its answer left it', async () => {
  const { remote, fs } = await start()
  await fs.mknod('/f', 0o644, 0)
  const ino = (await fs.getattr('/f')).ino
  // Two commits written together (as two FUSE threads may): the NameNode answers both in one write.
  const socket = (remote as unknown as { socket: Socket }).socket
  socket.cork()
  const first = remote.commit({ op: 'setattr', ino, mode: 0o600, ctime: Date.now() })
  const second = remote.commit({ op: 'setattr', ino, mode: 0o640, ctime: Date.now() })
  socket.uncork()
  const [a, b] = await Promise.all([first, second]) as Inode[]
  expect(b.mode & 0o777).toBe(0o640)
  expect(a.mode & 0o777).toBe(0o600)
})
