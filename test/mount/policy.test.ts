// The storage policy xattr through a real mount, as users reach it: setfattr and getfattr on
// user.dfs.policy. A directory shows its own policy (normalised), "No such attribute" where it only
// inherits; removing it makes the directory inherit again; a malformed policy, one on a file and one
// wider than the 3-node cluster are "Invalid argument", change nothing, and the daemon's log says
// which path and why.

import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, type DfsDaemon, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { dfs } from '../helpers/cli.js'
import { run } from '../helpers/run.js'
import { mustRun, mustSh } from './fixtures.js'

stopAllAfterAll()

const cluster: Cluster = makeCluster(3, 'dfs-policy-xattr-')
const mnt = cluster.mnt
let daemon: DfsDaemon

beforeAll(async () => {
  daemon = await cluster.start({ chunkSize: '64k' })
  await mustSh(`mkdir -p ${mnt}/photos/trip && echo hello > ${mnt}/photos/note`)
})
afterAll(async () => cluster.cleanup())

const getPolicy = (path: string) => run('getfattr', ['--only-values', '-n', 'user.dfs.policy', path])
const setPolicy = (path: string, value: string) => run('setfattr', ['-n', 'user.dfs.policy', '-v', value, path])
const inForce = async (path: string) => {
  const r = await dfs('policy', 'get', path)
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.trim()
}

describe('user.dfs.policy through the mount', () => {
  it('set shows back normalised on the directory, and only there; remove returns it to inheriting', async () => {
    const photos = join(mnt, 'photos')
    const inherits = await getPolicy(photos)
    expect(inherits.code).not.toBe(0)
    expect(inherits.stderr).toMatch(/No such attribute/)

    expect((await setPolicy(photos, ' ec:2+1\n')).code).toBe(0)
    expect((await getPolicy(photos)).stdout).toBe('ec:2+1')
    expect(await mustRun('getfattr', ['-d', '-m', '-', photos])).toContain('user.dfs.policy="ec:2+1"')
    const below = await getPolicy(join(photos, 'trip'))
    expect(below.stderr).toMatch(/No such attribute/)
    expect(await inForce(join(photos, 'trip'))).toBe(`${join(photos, 'trip')}: ec:2+1 (set on ${photos})`)

    // Replacing it is a set like any other.
    expect((await setPolicy(photos, 'replicas:3')).code).toBe(0)
    expect((await getPolicy(photos)).stdout).toBe('replicas:3')

    await mustRun('setfattr', ['-x', 'user.dfs.policy', photos])
    expect((await getPolicy(photos)).stderr).toMatch(/No such attribute/)
    expect(await inForce(join(photos, 'trip'))).toBe(`${join(photos, 'trip')}: replicas:2 (the cluster's default)`)
  })

  it('refuses a malformed policy, one on a file and one wider than the cluster: Invalid argument, a log line, nothing changed', async () => {
    const photos = join(mnt, 'photos')
    expect((await setPolicy(photos, 'ec:2+1')).code).toBe(0)
    const cases: { path: string; value: string; log: RegExp }[] = [
      { path: photos, value: 'raid5', log: /\/photos: user\.dfs\.policy refused: "raid5" is not a storage policy/ },
      { path: photos, value: 'ec:4+2', log: /\/photos: user\.dfs\.policy refused: ec:4\+2 needs 4\+2 = 6 shards.*the cluster has 3/ },
      { path: join(photos, 'note'), value: 'ec:2+1', log: /\/photos\/note: user\.dfs\.policy refused: .*directories only.*regular file/ },
    ]
    for (const c of cases) {
      const r = await setPolicy(c.path, c.value)
      expect(r.code, `${c.value} on ${c.path}`).not.toBe(0)
      expect(r.stderr).toMatch(/Invalid argument/)
      expect(daemon.output()).toMatch(c.log)
    }
    expect((await getPolicy(photos)).stdout).toBe('ec:2+1')
    expect((await getPolicy(join(photos, 'note'))).stderr).toMatch(/No such attribute/)
    expect(await mustRun('cat', [join(photos, 'note')])).toBe('hello\n')
  })
})
