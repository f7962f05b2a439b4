// Clients of a test NameNode over TCP, each with the file system core over it (no FUSE), as a mount
// runs them: what the client tests that need more than one request's worth of wire share.

import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { FileSystem } from '../../src/fs/FileSystem.js'
import { TEST_SECRET, type RunningNameNode } from '../namenode/fixtures.js'

export const CHUNK = 64 * 1024
const quiet = () => {}

/** A client of `running` (kept in `remotes` for closing) with no pings, and a file system over it. */
export async function tcpClient(running: RunningNameNode, remotes: RemoteNameNode[], port = running.server.port) {
  const remote = await RemoteNameNode.connect({ addresses: [`tcp://127.0.0.1:${port}`], secret: TEST_SECRET, log: quiet, timeoutMs: 60_000 })
  remotes.push(remote)
  clearInterval((remote as unknown as { pingTimer: NodeJS.Timeout }).pingTimer)
  const fs = new FileSystem({ meta: remote, chunks: running.host.cluster.chunks, chunkSize: CHUNK, dirtyLimit: 16 * CHUNK, owner: { uid: 0, gid: 0 }, log: quiet })
  return { remote, fs }
}

/** After a test: the clients first (each says `leave`), then the NameNode's server and its host. */
export async function closeAll(remotes: RemoteNameNode[], running: RunningNameNode | undefined): Promise<void> {
  for (const remote of remotes.splice(0)) await remote.close()
  await running?.server.close()
  await running?.host.close()
}
