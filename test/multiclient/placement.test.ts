// Placement through a client of a `dfs namenode` (the TCP transport's `placement` request), as real
// processes: what one client wrote, another's getfattr and `dfs info` show the same, on the DataNodes
// the NameNode lists; a DataNode killed shows its copies not ok in both.

import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { dfs, until } from '../helpers/cli.js'
import { run } from '../helpers/run.js'
import { type Roles, startRoles, stopAllRoles } from '../helpers/roles.js'

afterAll(stopAllRoles)

it('a second client sees the first one\'s file placed on the DataNodes; a killed DataNode\'s copies turn not ok', async () => {
  const roles: Roles = await startRoles({
    datanodes: 3, clients: 2, replicas: 2, chunkSize: '64k',
    namenodeArgs: ['--suspect-after', '1s', '--dead-after', '3s', '--heal-grace', '1h', '--scrub-rate', '0'],
  })
  const [a, b] = roles.clients
  await roles.ok(await run('bash', ['-c', `head -c 200000 /dev/urandom > ${a!.mnt}/f`]), 'write on client 1')
  const file = join(b!.mnt, 'f')
  const placementOf = async () => {
    const r = await roles.ok(await run('getfattr', ['--only-values', '-n', 'user.dfs.placement', file]), 'getfattr on client 2')
    return JSON.parse(r.stdout)
  }
  const viaXattr = await placementOf()
  expect(viaXattr).toMatchObject({ path: '/f', type: 'file', size: 200000, chunkSize: 65536, replicas: 2 })
  expect(viaXattr.chunks.map((c: any) => c.intact)).toEqual([2, 2, 2, 2])
  const urls = roles.datanodes.map(d => d.url)
  expect(viaXattr.chunks.every((c: any) => c.copies.every((copy: any) => urls.includes(copy.address)))).toBe(true)
  const info = JSON.parse((await roles.ok(await dfs('info', file, '--json'), 'dfs info on client 2')).stdout)
  expect({ ...info, path: '/f' }).toEqual(viaXattr)

  const victim = roles.datanodes.find(d => viaXattr.chunks.some((c: any) => c.copies.some((copy: any) => copy.nodeId === d.nodeId)))!
  await victim.kill9()
  const notOkOnVictim = (p: any) => p.chunks.every((c: any) => c.copies.every((copy: any) => copy.nodeId !== victim.nodeId || copy.state !== 'ok'))
  await until(async () => notOkOnVictim(await placementOf()), 60_000)
  const after = await placementOf()
  expect(after.chunks.filter((c: any) => c.intact === 1).length).toBeGreaterThan(0)
  await roles.stop()
})
