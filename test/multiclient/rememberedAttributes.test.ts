// A NameNode's client lets its binding remember attributes and answer security.* probes
// (src/fuse/bindingAnswers.ts), and keeps both in step with every record its copy of the namespace
// takes: so what another client changes shows on this one's next stat or getxattr once the record
// arrived, however often this one asked before. Two real clients of one `dfs namenode`, reached
// with real tools.

import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClientRole, type Roles, startRoles, stopAllRoles } from '../helpers/roles.js'
import { type RunResult, run } from '../helpers/run.js'
import { cleanupTempDirs } from '../helpers/tmp.js'

let roles: Roles
let a: ClientRole
let b: ClientRole

beforeAll(async () => {
  roles = await startRoles({ datanodes: 2, clients: 2, replicas: 2, chunkSize: '1M' })
  ;[a, b] = roles.clients as [ClientRole, ClientRole]
})
afterAll(async () => {
  await stopAllRoles()
  await cleanupTempDirs()
})

const ok = <T>(r: RunResult<T>, what: string) => roles.ok(r, what)
const sh = (script: string) => run('bash', ['-c', `set -euo pipefail\n${script}`])

/** Until `what` holds; no bound but a generous one: a record reaches the other client in a network delay. */
async function eventually(what: () => Promise<boolean>, label: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await what())) {
    if (Date.now() > deadline) expect.fail(`${label}: not within ${ms} ms`)
    await new Promise(r => setTimeout(r, 100))
  }
}

describe('attributes remembered by a client', () => {
  it('show what another client changed, after this one stat-ed and listed them many times', async () => {
    await ok(await sh(`mkdir ${a.mnt}/seen && printf abc > ${a.mnt}/seen/f && printf xyz > ${a.mnt}/seen/h && chmod 644 ${a.mnt}/seen/f ${a.mnt}/seen/h`), 'on A')
    // f remembered from getattr answers, h from a listing; afterwards only stat asks (a new listing
    // would be remembered afresh anyway).
    const stat = async (name: string) => (await ok(await sh(`stat -c '%a %s %h' ${b.mnt}/seen/${name} && stat -c '%a %s %h' ${b.mnt}/seen/${name}`), 'stat on B')).stdout
    await eventually(async () => (await stat('f')) === '644 3 1\n644 3 1\n', 'f as A made it, on B')
    await eventually(async () => (await ok(await sh(`ls -l ${b.mnt}/seen`), 'ls -l on B')).stdout.includes(' h\n'), 'h listed on B')
    expect(await stat('h')).toBe('644 3 1\n644 3 1\n')
    await ok(await sh(`cd ${a.mnt}/seen && chmod 600 f h && printf defg >> f && printf defg >> h && ln f g`), 'changes on A')
    await eventually(async () => (await stat('f')) === '600 7 2\n600 7 2\n', 'A\'s changes of f, on B')
    await eventually(async () => (await stat('h')) === '600 7 1\n600 7 1\n', 'A\'s changes of h, on B')
    expect((await ok(await run('cat', [join(b.mnt, 'seen/g')]), 'cat on B')).stdout).toBe('abcdefg')
  })

  it('show a security.* attribute another client set, where this one answered "none" before', async () => {
    await ok(await sh(`echo x > ${a.mnt}/labelled`), 'on A')
    const onB = async () => (await run('getfattr', ['--only-values', '-n', 'security.test', join(b.mnt, 'labelled')])).stdout
    await eventually(async () => (await run('getfattr', ['-n', 'security.test', join(b.mnt, 'labelled')])).stderr.includes('No such attribute'), 'none on B')
    await ok(await run('setfattr', ['-n', 'security.test', '-v', 'yes', join(a.mnt, 'labelled')]), 'setfattr on A')
    await eventually(async () => (await onB()) === 'yes', 'the attribute on B')
    await ok(await run('setfattr', ['-x', 'security.test', join(a.mnt, 'labelled')]), 'setfattr -x on A')
    await eventually(async () => (await run('getfattr', ['-n', 'security.test', join(b.mnt, 'labelled')])).stderr.includes('No such attribute'), 'none on B again')
  })
})
