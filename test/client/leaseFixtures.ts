// What the sole writer's lease tests share (soleLease.test.ts, soleLeaseRaces.test.ts): clients of a
// test NameNode with their file systems, and a record of the requests the NameNode reads.

import { vi } from 'vitest'
import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { FileSystem } from '../../src/fs/FileSystem.js'
import { TEST_SECRET, type RunningNameNode } from '../namenode/fixtures.js'

const CHUNK = 64 * 1024
const quiet = () => {}
const S_IFDIR = 0o040000

/** Requests the NameNode reads, as "<client>:<method>" (a connection's first, `reopen`, left out). */
export function watchRequests(server: object, names: Map<string, string>): string[] {
  const seen: string[] = []
  const serve = (server as { serve: (...args: unknown[]) => void }).serve
  vi.spyOn(server as { serve: (...args: unknown[]) => void }, 'serve').mockImplementation(function (this: unknown, ...args: unknown[]) {
    if (args[3] !== 'reopen') seen.push(`${names.get((args[0] as { id: string }).id)}:${String(args[3])}`)
    return serve.apply(this, args)
  })
  return seen
}

/** A client of `running` (kept in `remotes` for closing) with no pings, and a file system over it. */
export async function leaseClient(running: RunningNameNode, remotes: RemoteNameNode[], port = running.server.port) {
  const remote = await RemoteNameNode.connect({ addresses: [`tcp://127.0.0.1:${port}`], secret: TEST_SECRET, log: quiet, timeoutMs: 60_000 })
  remotes.push(remote)
  clearInterval((remote as unknown as { pingTimer: NodeJS.Timeout }).pingTimer)
  const fs = new FileSystem({ meta: remote, chunks: running.host.cluster.chunks, chunkSize: CHUNK, dirtyLimit: 16 * CHUNK, owner: { uid: 0, gid: 0 }, log: quiet })
  return { remote, fs }
}

/** A folder's mknod record under the root. */
export const mkdir = (name: string) => ({ op: 'mknod' as const, parent: 1, name, mode: S_IFDIR | 0o755, uid: 0, gid: 0, time: 1 })
