// dfs policy get|set through a real mount of 3 nodes: what get prints for the cluster's default, a
// policy set on a directory and inherited below it, and a file's chunks; bad input prints one line
// naming the thing and the fix, exits non-zero and changes nothing (the metadata folder byte for
// byte, and every directory's policy).

import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { dfs } from '../helpers/cli.js'
import { treeListing } from '../helpers/tree.js'
import { run } from '../helpers/run.js'
import { mustSh } from '../mount/fixtures.js'

stopAllAfterAll()

const cluster: Cluster = makeCluster(3, 'dfs-cli-policy-')
const mnt = cluster.mnt

beforeAll(async () => {
  await cluster.start({ chunkSize: '64k' })
  await mustSh(`mkdir -p ${mnt}/photos/trip ${mnt}/docs && head -c 70000 /dev/urandom > ${mnt}/photos/trip/old && sync`)
})
afterAll(async () => cluster.cleanup())

const ok = async (...args: string[]) => {
  const r = await dfs(...args)
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.trimEnd()
}
/** The directory's own policy as getfattr shows it, or getfattr's complaint (none set: it inherits). */
const ownPolicy = async (dir: string) => {
  const r = await run('getfattr', ['--only-values', '-n', 'user.dfs.policy', dir])
  return r.code === 0 ? r.stdout : `exit ${r.code}: ${r.stderr.trim()}`
}

describe('dfs policy', () => {
  it('get names the policy in force and where it comes from; set stores it on the directory', async () => {
    expect(await ok('policy', 'get', mnt)).toBe(`${mnt}: replicas:2 (the cluster's default)`)
    expect(await ok('policy', 'get', join(mnt, 'photos/trip'))).toBe(`${join(mnt, 'photos/trip')}: replicas:2 (the cluster's default)`)

    const set = await ok('policy', 'set', join(mnt, 'photos'), 'ec:2+1')
    expect(set.split('\n')[0]).toBe(`${join(mnt, 'photos')}: ec:2+1 (set on ${join(mnt, 'photos')})`)
    expect(await ownPolicy(join(mnt, 'photos'))).toBe('ec:2+1')
    expect(await ok('policy', 'get', join(mnt, 'photos/trip'))).toBe(`${join(mnt, 'photos/trip')}: ec:2+1 (set on ${join(mnt, 'photos')})`)
    expect(await ok('policy', 'get', join(mnt, 'docs'))).toBe(`${join(mnt, 'docs')}: replicas:2 (the cluster's default)`)
    // A file: its directory's policy, and what its chunks are stored as now (written before the policy).
    expect(await ok('policy', 'get', join(mnt, 'photos/trip/old'))).toBe(
      `${join(mnt, 'photos/trip/old')}: ec:2+1 (set on ${join(mnt, 'photos')})\n2 chunks: 2 replicas:2`)
    const json = JSON.parse(await ok('policy', 'get', join(mnt, 'photos'), '--json'))
    expect(json).toMatchObject({ type: 'dir', policy: 'ec:2+1', from: join(mnt, 'photos') })
  })

  const bad: { name: string; args: () => string[]; code: string; line: RegExp }[] = [
    { name: 'a malformed policy', args: () => ['set', join(mnt, 'docs'), 'raid5'], code: 'POLICY_INVALID', line: /"raid5" is not a storage policy: write replicas:<R> .* or ec:<k>\+<m>/ },
    { name: 'k out of range', args: () => ['set', join(mnt, 'docs'), 'ec:25+1'], code: 'POLICY_INVALID', line: /"ec:25\+1" is not a storage policy/ },
    {
      name: 'a policy wider than the cluster', args: () => ['set', join(mnt, 'docs'), 'ec:4+2'], code: 'POLICY_TOO_WIDE',
      line: new RegExp(`^dfs: ${join(mnt, 'docs')}: ec:4\\+2 needs 4\\+2 = 6 shards, each on its own DataNode, but the cluster has 3; add DataNodes or choose a narrower policy`),
    },
    { name: 'more copies than nodes', args: () => ['set', join(mnt, 'photos'), 'replicas:4'], code: 'POLICY_TOO_WIDE', line: /needs 4 copies.*the cluster has 3/ },
    {
      name: 'a file', args: () => ['set', join(mnt, 'photos/trip/old'), 'ec:2+1'], code: 'EINVAL',
      line: new RegExp(`${join(mnt, 'photos/trip/old')} is not a directory: .*give the folder it is in \\(${join(mnt, 'photos/trip')}\\)`),
    },
    { name: 'a missing directory', args: () => ['set', join(mnt, 'nope'), 'ec:2+1'], code: 'ENOENT', line: new RegExp(`${join(mnt, 'nope')}: no such file or directory`) },
    { name: 'a path outside any mount', args: () => ['get', cluster.root], code: 'NOT_MOUNTED', line: /is not in a dfs mount; give a directory inside a mounted dfs folder/ },
    { name: '--secret-file without --namenode', args: () => ['set', join(mnt, 'docs'), 'ec:2+1', '--secret-file', '/etc/hostname'], code: 'BAD_ARGUMENT', line: /--secret-file goes with --namenode/ },
  ]

  for (const c of bad) {
    it(`refuses ${c.name} in one line, non-zero, changing nothing`, async () => {
      const before = [await treeListing([cluster.meta]), await ownPolicy(join(mnt, 'docs')), await ownPolicy(join(mnt, 'photos'))]
      const r = await dfs('policy', ...c.args())
      expect(r.code).not.toBe(0)
      expect(r.stdout).toBe('')
      const lines = r.stderr.trimEnd().split('\n')
      expect(lines, r.stderr).toHaveLength(1)
      expect(lines[0]).toMatch(/^dfs: /)
      expect(lines[0]).toMatch(c.line)
      expect(lines[0].endsWith(`[${c.code}]`), lines[0]).toBe(true)
      expect([await treeListing([cluster.meta]), await ownPolicy(join(mnt, 'docs')), await ownPolicy(join(mnt, 'photos'))]).toEqual(before)
    })
  }

  it('says a refusal once, without the daemon\'s own naming of the path, whatever characters the name holds', async () => {
    const dir = join(mnt, 'odd\nname: ec:2+1')
    await mustSh(`mkdir '${dir}'`)
    const r = await dfs('policy', 'set', dir, 'ec:4+2')
    expect(r.code).not.toBe(0)
    expect(r.stderr).toBe(`dfs: ${dir}: ec:4+2 needs 4+2 = 6 shards, each on its own DataNode, but the cluster has 3; add DataNodes or choose a narrower policy [POLICY_TOO_WIDE]\n`)
  })

  it('names the mount point itself, not "<mnt>/", as where a policy set on the mount\'s root comes from', async () => {
    try {
      const set = await ok('policy', 'set', mnt, 'replicas:1')
      expect(set.split('\n')[0]).toBe(`${mnt}: replicas:1 (set on ${mnt})`)
      expect(await ok('policy', 'get', join(mnt, 'docs'))).toBe(`${join(mnt, 'docs')}: replicas:1 (set on ${mnt})`)
      expect(JSON.parse(await ok('policy', 'get', join(mnt, 'docs'), '--json'))).toMatchObject({ from: mnt })
    } finally {
      await run('setfattr', ['-x', 'user.dfs.policy', mnt])
    }
  })
})
