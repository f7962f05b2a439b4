// dfs status through a real mount: every node with its health, and liveness as a user sees it when a
// node folder disappears (suspect at once, dead after --dead-after) and when it comes back.

import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeCluster, stopAllAfterAll, type Cluster } from '../helpers/mount.js'
import { dfs, statusOf, until } from '../helpers/cli.js'
import { sh } from '../helpers/run.js'

stopAllAfterAll()

let cluster: Cluster
const status = () => statusOf(cluster.mnt)

beforeAll(async () => {
  cluster = makeCluster(3, 'dfs-status-')
  await cluster.start({ chunkSize: '64k', extraArgs: ['--suspect-after', '1s', '--dead-after', '3s'] })
  expect((await sh(`head -c 300000 /dev/urandom > ${cluster.mnt}/a && sync`)).code).toBe(0)
})
afterAll(async () => cluster?.cleanup())

describe('dfs status', () => {
  it('shows every node alive with its address, capacity and the liveness thresholds', async () => {
    // Eventually all alive: on a busy machine a stall longer than --suspect-after 1s can make a healthy
    // node suspect for a heartbeat or two, which is the liveness rule working, not a fault.
    await until(async () => (await status()).nodes.every((n: any) => n.health === 'alive'), 60_000)
    const s = await status()
    expect(s.mountpoint).toBe(cluster.mnt)
    expect(s.nodes.map((n: any) => n.address).sort()).toEqual([...cluster.nodes].sort())
    expect(s.nodes.every((n: any) => n.health === 'alive' && n.capacity > 0 && n.heartbeatAgeMs >= 0)).toBe(true)
    expect(s.liveness).toEqual({ heartbeatMs: 500, suspectAfterMs: 1000, deadAfterMs: 3000 })
    expect(s.chunks).toMatchObject({ files: 1, referenced: 5, underReplicated: 0, unavailable: 0 })
    const text = await dfs('status', cluster.mnt)
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/NODE\s+STATE\s+HEARTBEAT/)
    expect(text.stdout).toContain(cluster.nodes[0])
  })

  it('counts the one disk the three node folders share once: capacity is what df says for it, and df on the mount agrees', async () => {
    const df = async (path: string) => {
      const r = await sh(`df -B1 --output=size,avail ${path} | tail -1`)
      expect(r.code, r.stderr).toBe(0)
      const [size, avail] = r.stdout.trim().split(/\s+/).map(Number)
      return { size, avail }
    }
    await until(async () => (await status()).nodes.every((n: any) => n.capacity > 0), 30_000)
    const s = await status()
    const disk = await df(cluster.nodes[0])
    expect(s.totals.devices).toBe(1)
    expect(s.totals.capacity).toBe(disk.size)
    expect(s.totals.usableCapacity).toBe(Math.floor(disk.size / 2))
    // statfs through the mount: the same figure (in whole 4 KiB fragments).
    const mounted = await df(cluster.mnt)
    expect(Math.abs(mounted.size - s.totals.usableCapacity)).toBeLessThan(64 * 1024)
    expect((await dfs('status', cluster.mnt)).stdout).toMatch(/capacity counts each disk once \(1 device\)/)
  })

  it('sees a deleted node folder, declares it dead after --dead-after, and counts what lost a copy', async () => {
    // The daemon may be writing into the folder meanwhile (a user's rm -rf races it the same way): retried.
    await rm(cluster.nodes[0], { recursive: true, force: true, maxRetries: 20 })
    const node = (s: any) => s.nodes.find((n: any) => n.address === cluster.nodes[0])
    // Generous "eventually" deadlines: how fast a node is found out is a bench figure, not a bound here.
    await until(async () => node(await status()).health !== 'alive', 30_000)
    await until(async () => node(await status()).health === 'dead', 30_000)
    await until(async () => (await status()).totals.alive === 2, 60_000) // the other two (see the first test)
    const s = await status()
    expect(node(s).reason).toMatch(/no heartbeat|gone|missing/)
    expect(s.totals.alive).toBe(2)
    // Files still read back byte-perfect from the other copies.
    expect((await sh(`cat ${cluster.mnt}/a | wc -c`)).stdout.trim()).toBe('300000')
  })

  it('says when no daemon serves the mount point given', async () => {
    const r = await dfs('status', '/nonexistent-mount')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^dfs: no dfs daemon serves \/nonexistent-mount; mount it first/)
  })
})
