// Failover with real processes: three `dfs datanode` servers, a `dfs namenode` and a client mounted
// with --namenode tcp://<old>,tcp://<new>,tcp://<newer>. A standby's folder is made by hand as the
// standby contract has it (a copy of the primary's folder and the standby mark; the copy carries the
// primary's epoch.json), and promoted with `dfs namenode --promote`:
//   - over a primary killed with -9: it serves, and the client reads its files back without a remount;
//     the old primary restarted on its folder is refused (a newer NameNode took over), changing nothing;
//   - over a primary that is only stopped (SIGSTOP): the promotion waits for its claim to lapse, and
//     the old primary, continued, learns it was superseded and exits non-zero; it tells its clients
//     why, and a client that was given its address alone logs that it must be remounted.
// And the refusals: a folder that is no standby's, a standby folder a process still holds, a standby
// behind the nodes' watermark without --accept-loss. Nothing is written on any refusal.

import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { acquireLock } from '../../src/meta/lock.js'
import { freePort } from '../../src/util/freePort.js'
import { writeStandbyMark } from '../../src/meta/standbyMark.js'
import { ClientRole, Role, type Roles, startRoles, stopRolesAfterAll } from '../helpers/roles.js'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { readNodeClaim } from '../../src/datanode/claimFile.js'
import { run } from '../helpers/run.js'
import { treeListing } from '../helpers/tree.js'

const EVENTUALLY_MS = 120_000
const SERVING = /^dfs namenode: serving cluster (\S+) on tcp:\/\/(\S+:(\d+)) /

stopRolesAfterAll()

let roles: Roles
let client: ClientRole
const promoted: Role[] = []
const ports: number[] = []

beforeAll(async () => {
  roles = await startRoles({ datanodes: 3, clients: 0, chunkSize: '1M' })
  ports.push(await freePort(), await freePort())
  client = new ClientRole('client 1', join(roles.root, 'client_1'),
    () => [roles.namenode.url, ...ports.map((port) => `tcp://127.0.0.1:${port}`)].join(','), roles.secretFile, [])
  roles.clients.push(client)
  await client.start()
}, 300_000)

afterAll(async () => {
  await client?.stop().catch(() => client.kill9())
  for (const nn of promoted) await nn.stop().catch(() => nn.kill9())
  await roles?.stop()
}, 300_000)

const sh = (script: string) => run('bash', ['-c', script], { timeout: 120_000 })

/** `dfs namenode …` that must be refused: its exit and output. */
function refusedNameNode(args: string[]) {
  return run(process.execPath, [DFS_BIN, 'namenode', ...args, '--secret-file', roles.secretFile], { cwd: REPO_ROOT, timeout: 300_000 })
}

/** `dfs namenode --meta <dir> --promote` on a reserved port, as a role the test stops. */
function promotion(meta: string, port: number, extra: string[] = []): Role {
  const role = new Role('namenode', `promoted ${meta}`,
    () => ['namenode', '--meta', meta, '--promote', '--listen', `127.0.0.1:${port}`, '--secret-file', roles.secretFile, ...extra], SERVING,
    (m) => { role.address = m[2]! })
  promoted.push(role)
  return role
}

/** A hand-made standby of the primary at `primaryUrl`: a copy of its folder, marked. */
async function standbyCopy(meta: string, name: string, primaryUrl: string): Promise<string> {
  const dir = join(roles.root, name)
  await roles.ok(await run('cp', ['-a', meta, dir]), `copy ${meta}`)
  await writeStandbyMark(dir, primaryUrl)
  return dir
}

async function nodeClaims(): Promise<Array<{ epoch: number; token: string; seqWatermark: number }>> {
  return Promise.all(roles.datanodes.map(async (d) => (await readNodeClaim(d.dir))!))
}

async function readsBack(names: string[]): Promise<void> {
  for (const name of names) {
    const r = await run('cmp', [join(roles.root, 'data'), join(client.mnt, name)], { timeout: EVENTUALLY_MS })
    if (r.code !== 0) expect.fail(`${name} does not read back: ${r.stderr}\n${await roles.tails()}`)
  }
}

/** The last journal seq a metadata folder holds, as `dfs fsck --meta` (read-only: a standby's folder allows it) reports it. */
async function lastSeq(meta: string): Promise<number> {
  const r = await promisify(execFile)(process.execPath, [DFS_BIN, 'fsck', '--meta', meta, '--secret-file', roles.secretFile, '--json'], { cwd: REPO_ROOT })
    .catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }))
  return (JSON.parse(r.stdout) as { metadata: { lastGoodSeq: number } }).metadata.lastGoodSeq
}

describe('promotion of a standby over a dead primary', () => {
  let behind: string
  let standby: string

  it('refuses a folder that is no standby\'s, and a standby folder a process holds', { timeout: 600_000 }, async () => {
    await roles.ok(await sh(`head -c 3000000 /dev/urandom > ${join(roles.root, 'data')} && cp ${join(roles.root, 'data')} ${join(client.mnt, 'one')} && sync ${join(client.mnt, 'one')}`), 'write one')
    const notStandby = await refusedNameNode(['--meta', roles.namenode.meta, '--promote', '--listen', '127.0.0.1:0'])
    expect(notStandby.code).not.toBe(0)
    expect(notStandby.stderr).toMatch(/is not a standby's \(no standby\.json\).*\[BAD_ARGUMENT\]/)

    // A standby copy taken while the primary stands still; it then writes on without it.
    roles.namenode.signal('SIGSTOP')
    try {
      behind = await standbyCopy(roles.namenode.meta, 'standby-behind', roles.namenode.url)
    } finally {
      roles.namenode.signal('SIGCONT')
    }
    const lock = await acquireLock(behind)
    try {
      const held = await refusedNameNode(['--meta', behind, '--promote', '--listen', '127.0.0.1:0'])
      expect(held.code).not.toBe(0)
      expect(held.stderr).toMatch(new RegExp(`in use by process ${process.pid}; it is the standby of ${roles.namenode.url}: stop it first.*\\[META_LOCKED\\]`))
    } finally {
      await lock.release()
    }
  })

  it('refuses a standby behind the nodes\' watermark without --accept-loss, changing nothing', { timeout: 600_000 }, async () => {
    await roles.ok(await sh(`cp ${join(roles.root, 'data')} ${join(client.mnt, 'two')} && sync ${join(client.mnt, 'two')}`), 'write two')
    // The primary raises the nodes' watermark every few seconds: wait until it is past the copy.
    const copied = await lastSeq(behind)
    const deadline = Date.now() + EVENTUALLY_MS
    while ((await nodeClaims()).some((c) => c.seqWatermark <= copied) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    await roles.namenode.kill9()
    standby = await standbyCopy(roles.namenode.meta, 'standby', roles.namenode.url)

    const before = [await treeListing([behind]), await nodeClaims()]
    const refused = await refusedNameNode(['--meta', behind, '--promote', '--listen', '127.0.0.1:0'])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/promoting metadata folder \S+ would lose \d+ records?: .*--accept-loss \[EPOCH_BEHIND\]/)
    expect([await treeListing([behind]), await nodeClaims()]).toEqual(before)
  })

  it('serves once promoted; the client, never remounted, reads its files back', { timeout: 600_000 }, async () => {
    const nn = promotion(standby, ports[0]!)
    await nn.start()
    expect(nn.output()).toMatch(/promoted: metadata folder \S+, until now a standby of tcp:\/\/\S+, holds the cluster at epoch 2/)
    expect((await nodeClaims()).map((c) => c.epoch)).toEqual([2, 2, 2])
    await readsBack(['one', 'two'])
  })

  it('refuses the old primary restarted on its folder: a newer NameNode took over; nothing changes', { timeout: 600_000 }, async () => {
    const claims = (await nodeClaims()).map(({ epoch, token }) => ({ epoch, token }))
    const before = await treeListing([roles.namenode.meta])
    const old = await refusedNameNode(['--meta', roles.namenode.meta, '--listen', '127.0.0.1:0'])
    expect(old.code).not.toBe(0)
    expect(old.stderr).toMatch(/a newer NameNode \(epoch 2\) took over: metadata folder \S+ is behind the cluster .*\[EPOCH_BEHIND\]/)
    expect(await treeListing([roles.namenode.meta])).toEqual(before)
    expect((await nodeClaims()).map(({ epoch, token }) => ({ epoch, token }))).toEqual(claims)
  })
})

describe('promotion of a standby over a stopped primary', () => {
  it('waits for the stopped primary\'s claim to lapse; continued, the old primary exits, superseded; the client reads on', { timeout: 600_000 }, async () => {
    const [old] = promoted
    await roles.ok(await sh(`cp ${join(roles.root, 'data')} ${join(client.mnt, 'three')} && sync ${join(client.mnt, 'three')}`), 'write three')
    // A client that was given the old primary's address alone: it cannot follow, and must say so.
    // Its stop at the end waits for that NameNode as its requests do (--namenode-timeout, 60 s by
    // default, which made it outlast the helpers' stop grace and be killed): 5 s here.
    const lone = new ClientRole('client 2 (old address only)', join(roles.root, 'client_2'), () => `tcp://${old!.address}`, roles.secretFile, ['--namenode-timeout', '5s'])
    roles.clients.push(lone)
    await lone.start()
    old!.signal('SIGSTOP')
    let continued = false
    try {
      const standby = await standbyCopy(join(roles.root, 'standby'), 'standby-2', `tcp://${old!.address}`)
      const nn = promotion(standby, ports[1]!, ['--promote-wait', '5m'])
      await nn.start()
      expect(nn.output()).toMatch(/waiting up to 5m for the old primary's claim to lapse/)
      expect((await nodeClaims()).map((c) => c.epoch)).toEqual([3, 3, 3])
      old!.signal('SIGCONT')
      continued = true
      const status = await Promise.race([old!.exited, new Promise<undefined>((r) => setTimeout(r, EVENTUALLY_MS))])
      if (!status) expect.fail(`the old primary did not exit after it was continued\n${old!.tail()}`)
      expect(status.code).not.toBe(0)
      expect(old!.output()).toMatch(/a newer NameNode \(epoch 3\) took over the cluster.*\[SUPERSEDED\]/)
      const told = new RegExp(`the NameNode at tcp://${old!.address} ended the connection: a newer NameNode \\(epoch 3\\) took over the cluster.*\\[SUPERSEDED\\]; ` +
        `this client knows no other NameNode address, so its requests fail \\(EIO\\) until it is remounted with --namenode tcp://${old!.address},<the NameNode that took over>`)
      const deadline = Date.now() + EVENTUALLY_MS
      while (!told.test(await lone.log()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
      expect(await lone.log()).toMatch(told)
    } finally {
      if (!continued) old!.signal('SIGCONT')
    }
    await readsBack(['one', 'two', 'three'])
  })
})
