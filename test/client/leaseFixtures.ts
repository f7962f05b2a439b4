// What the sole writer's lease tests share (soleLease.test.ts, soleLeaseRaces.test.ts): a record of
// the requests the NameNode reads, and a record to commit. Their clients: tcpClients.ts.

import { vi } from 'vitest'

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

/** A folder's mknod record under the root. */
export const mkdir = (name: string) => ({ op: 'mknod' as const, parent: 1, name, mode: S_IFDIR | 0o755, uid: 0, gid: 0, time: 1 })
