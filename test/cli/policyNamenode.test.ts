// Storage policies with a NameNode and a client over TCP, as real processes (three `dfs datanode`,
// one `dfs namenode`, one `dfs mount --namenode`): the NameNode checks a policy whichever way it
// comes (the client's setfattr over TCP, `dfs policy set --namenode`), and `dfs policy get|set`
// answer for namespace paths with --namenode as for mount paths without.

import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dfs, until } from '../helpers/cli.js'
import { type Roles, startRoles, stopRolesAfterAll } from '../helpers/roles.js'
import { run } from '../helpers/run.js'
import { mustSh } from '../mount/fixtures.js'

stopRolesAfterAll()

let roles: Roles
let mnt: string

beforeAll(async () => {
  roles = await startRoles({ datanodes: 3, clients: 1, chunkSize: '64k' })
  mnt = roles.clients[0].mnt
  await mustSh(`mkdir -p ${mnt}/photos/trip ${mnt}/docs && echo hello > ${mnt}/docs/note && sync`)
}, 180_000)
afterAll(async () => roles?.stop())

const viaNameNode = (...args: string[]) => dfs('policy', ...args, '--namenode', roles.namenode.url, '--secret-file', roles.secretFile)
const getPolicy = (path: string) => run('getfattr', ['--only-values', '-n', 'user.dfs.policy', path])

describe('dfs policy with a NameNode over TCP', () => {
  it('a client\'s setfattr is checked at the NameNode: too wide is Invalid argument, with a log line; a fitting one is stored', async () => {
    const wide = await run('setfattr', ['-n', 'user.dfs.policy', '-v', 'ec:3+1', join(mnt, 'photos')])
    expect(wide.code).not.toBe(0)
    expect(wide.stderr).toMatch(/Invalid argument/)
    await until(async () => /\/photos: user\.dfs\.policy refused: ec:3\+1 needs 3\+1 = 4 shards.*the cluster has 3/.test(await roles.clients[0].log()), 30_000)
    expect((await getPolicy(join(mnt, 'photos'))).stderr).toMatch(/No such attribute/)

    await roles.ok(await run('setfattr', ['-n', 'user.dfs.policy', '-v', 'ec:2+1', join(mnt, 'photos')]), 'setfattr ec:2+1')
    const r = await roles.ok(await viaNameNode('get', '/photos/trip'), 'dfs policy get --namenode')
    expect(r.stdout.trim()).toBe('/photos/trip: ec:2+1 (set on /photos)')
    const inMount = await roles.ok(await dfs('policy', 'get', join(mnt, 'photos/trip')), 'dfs policy get in the mount')
    expect(inMount.stdout.trim()).toBe(`${join(mnt, 'photos/trip')}: ec:2+1 (set on ${join(mnt, 'photos')})`)
  })

  it('dfs policy set --namenode stores a policy the client then sees, and refuses bad ones in one line', async () => {
    const set = await roles.ok(await viaNameNode('set', '/docs', 'replicas:3'), 'dfs policy set --namenode')
    expect(set.stdout.split('\n')[0]).toBe('/docs: replicas:3 (set on /docs)')
    await until(async () => (await getPolicy(join(mnt, 'docs'))).stdout === 'replicas:3', 30_000)

    const refusals: [string[], string, RegExp][] = [
      [['set', '/docs', 'ec:2+2'], 'POLICY_TOO_WIDE', /^dfs: \/docs: ec:2\+2 needs 2\+2 = 4 shards, each on its own DataNode, but the cluster has 3; add DataNodes or choose a narrower policy \[POLICY_TOO_WIDE\]$/],
      [['set', '/docs/note', 'ec:2+1'], 'EINVAL', /^dfs: \/docs\/note is not a directory: .*give the folder it is in \(\/docs\) \[EINVAL\]$/],
      [['set', '/nope', 'ec:2+1'], 'ENOENT', /^dfs: \/nope: no such file or directory \[ENOENT\]$/],
      [['set', '/docs', 'ec:x'], 'POLICY_INVALID', /^dfs: "ec:x" is not a storage policy/],
    ]
    for (const [args, code, line] of refusals) {
      const r = await viaNameNode(...args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).not.toBe(0)
      expect(r.stderr.trim().split('\n'), code).toHaveLength(1)
      expect(r.stderr.trim()).toMatch(line)
    }
    // A name holding ": " is said once, not again as the NameNode named it.
    await mustSh(`mkdir '${mnt}/docs/a: b'`)
    const odd = await viaNameNode('set', '/docs/a: b', 'ec:2+2')
    expect(odd.code).not.toBe(0)
    expect(odd.stderr.trim()).toBe('dfs: /docs/a: b: ec:2+2 needs 2+2 = 4 shards, each on its own DataNode, but the cluster has 3; add DataNodes or choose a narrower policy [POLICY_TOO_WIDE]')

    const after = await roles.ok(await viaNameNode('get', '/docs/note'), 'dfs policy get --namenode of a file')
    expect(after.stdout.trim()).toBe('/docs/note: replicas:3 (set on /docs)\n1 chunk: 1 replicas:2')
  })
})
