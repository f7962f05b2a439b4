// A client mounted with two NameNode addresses (`--namenode tcp://A,tcp://B`) follows its NameNode
// when it moves: A stops (SIGTERM, journal written), a NameNode starts on the same metadata folder
// at B, and the client finds it by itself: operations wait meanwhile, then carry on; no remount.
// Nothing was lost (B's history holds every record A answered), so an fsync covering a change A
// answered but never fsync'd succeeds (the precise rule: test/client/failover.test.ts has the
// case where a record was lost). A second client whose first address has nothing listening mounts
// from the second.

import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/util/freePort.js'
import { ClientRole, Role, type Roles, startRoles, stopRolesAfterAll } from '../helpers/roles.js'
import { run } from '../helpers/run.js'

stopRolesAfterAll()

let roles: Roles
let second: Role | undefined
beforeAll(async () => {
  roles = await startRoles({ datanodes: 3, clients: 0, chunkSize: '1M' })
}, 300_000)
afterAll(async () => {
  for (const c of roles?.clients ?? []) await c.stop().catch(() => c.kill9())
  await second?.stop().catch(() => second?.kill9())
  await roles?.stop()
}, 300_000)

function client(name: string, namenode: string): ClientRole {
  const c = new ClientRole(name, join(roles.root, name.replace(/\W/g, '_')), () => namenode, roles.secretFile, ['--namenode-timeout', '300s'])
  roles.clients.push(c)
  return c
}

const sh = (script: string) => run('bash', ['-c', script], { timeout: 300_000 })

describe('a client with two NameNode addresses', () => {
  it('finds the NameNode at its second address after the first stopped; fsync\'d files read back, and an fsync of what the first answered succeeds', { timeout: 600_000 }, async () => {
    const portB = await freePort()
    const a = client('client a', `${roles.namenode.url},tcp://127.0.0.1:${portB}`)
    await a.start()
    const data = join(roles.root, 'data')
    await roles.ok(await sh(`head -c 3000000 /dev/urandom > ${data} && cp ${data} ${a.mnt}/synced && sync ${a.mnt}/synced`), 'write and fsync')
    // Committed at A (closed), never fsync'd: A writes its journal when it stops cleanly.
    await roles.ok(await sh(`cp ${data} ${a.mnt}/unsynced`), 'write without fsync')

    await roles.namenode.stop()
    // Meanwhile an operation waits for a NameNode, then carries on.
    const waiting = sh(`mkdir ${a.mnt}/made-while-moving`)
    second = new Role('namenode', 'namenode B', () => [
      'namenode', '--meta', roles.namenode.meta, '--listen', `127.0.0.1:${portB}`, '--secret-file', roles.secretFile,
    ], /^dfs namenode: serving cluster /)
    await second.start()
    await roles.ok(await waiting, 'mkdir while the NameNode moved')

    // The precise rule: B's history holds what A answered, so this fsync does not fail.
    await roles.ok(await sh(`sync ${a.mnt}/unsynced`), 'fsync of a file A answered, after the move')
    for (const name of ['synced', 'unsynced']) await roles.ok(await run('cmp', [data, join(a.mnt, name)], { timeout: 300_000 }), `cmp ${name}`)
    await roles.ok(await sh(`cp ${data} ${a.mnt}/after && sync ${a.mnt}/after && cmp ${data} ${a.mnt}/after`), 'write after the move')
    expect(await a.log()).toMatch(/nothing this client committed was lost/)

    // A client whose first address has nothing listening (A's, now) mounts from the second.
    const b = client('client b', `${roles.namenode.url},tcp://127.0.0.1:${portB}`)
    await b.start()
    const ls = await roles.ok(await run('ls', [b.mnt], { timeout: 300_000 }), 'ls on client b')
    expect(String(ls.stdout).split('\n').filter(Boolean).sort()).toEqual(['after', 'made-while-moving', 'synced', 'unsynced'])

    for (const c of [a, b]) {
      await c.stop()
      expect(c.exitStatus()).toEqual({ code: 0, signal: null })
    }
  })
})
