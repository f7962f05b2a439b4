// The roles harness itself (test/helpers/roles.ts): what it starts it ends, by pid, also when a
// start fails; a killed client leaves no mount behind; restarts keep their addresses.

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { isMounted } from '../helpers/mount.js'
import { startRoles, stopAllRoles } from '../helpers/roles.js'
import { run } from '../helpers/run.js'

afterAll(stopAllRoles)

/** pids of processes whose command line mentions `text` (from /proc, never a mount). */
function processesMentioning(text: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(join('/proc', entry, 'cmdline'), 'utf8').includes(text)) pids.push(Number(entry))
    } catch {
      /* gone meanwhile */
    }
  }
  return pids
}

describe('roles harness', () => {
  it('a NameNode that cannot start: the start fails with its output, and the DataNodes started are ended', async () => {
    const err = await startRoles({ clients: 1, namenodeArgs: ['--heartbeat', 'often'] }).then(() => undefined, (e: Error) => e)
    expect(err?.message).toMatch(/namenode exited before it was ready[\s\S]*--heartbeat/)
    const root = /--meta (\/\S+)\/meta/.exec(err!.message)?.[1]
    expect(root).toBeDefined()
    expect(processesMentioning(root!)).toEqual([])
    expect(existsSync(root!)).toBe(false)
  })

  it('kill -9 of a client unmounts its mount point; restarts keep the NameNode\'s and the client\'s addresses', async () => {
    const roles = await startRoles({ datanodes: 2, clients: 1, replicas: 2, chunkSize: '1M' })
    const [client] = roles.clients
    // fsync'd: the NameNode is killed outright below, and a record nobody synced may still be in
    // its memory then (src/meta/Journal.ts: its writes are grouped for a few milliseconds).
    expect((await run('bash', ['-c', `echo one > ${client!.mnt}/f && sync ${client!.mnt}/f`])).code).toBe(0)
    await client!.kill9()
    expect(client!.exitStatus()?.signal).toBe('SIGKILL')
    expect(isMounted(client!.mnt)).toBe(false)

    const address = roles.namenode.address
    await roles.namenode.kill9()
    await roles.namenode.restart()
    expect(roles.namenode.address).toBe(address)
    await client!.restart()
    expect(client!.mounted).toBe(true)
    expect((await run('cat', [`${client!.mnt}/f`])).stdout).toBe('one\n')

    const pids = [roles.namenode.pid, client!.pid, ...roles.datanodes.map((d) => d.pid)]
    await roles.stop()
    expect(isMounted(client!.mnt)).toBe(false)
    expect(pids.filter((pid) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '))).toEqual([])
  })
})
