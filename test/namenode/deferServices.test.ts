// A mount daemon opens its NameNode with the services held back and starts them once the mount
// serves (src/daemon/embedded.ts): their first scans must not delay the mount. Held back means not
// started at all, started once, and never started after the host was closed.

import { mkdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ClusterServices } from '../../src/namenode/ClusterServices.js'
import { NameNodeHost } from '../../src/namenode/openNameNode.js'

const dirs: string[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

async function open(deferServices: boolean, liveness = { intervalMs: 500, suspectAfterMs: 2000, deadAfterMs: 10_000 }, log: (m: string) => void = () => {}): Promise<NameNodeHost> {
  const dir = await mkdtemp(join(tmpdir(), 'dfs-defer-'))
  dirs.push(dir)
  for (const n of ['n1', 'n2']) mkdirSync(join(dir, n))
  return NameNodeHost.open({
    meta: join(dir, 'meta'), nodes: [join(dir, 'n1'), join(dir, 'n2')], replicas: 2, cacheBytes: 0, log, reopenGraceMs: 0,
    liveness,
    healing: { graceMs: 10_000, bandwidthBytesPerSec: 0, orphanGraceMs: 60_000 },
    scrub: { bytesPerSec: 0 },
    deferServices,
  })
}

describe('NameNodeHost with deferServices', () => {
  it('starts no service until startServices(), then starts them once', async () => {
    const start = vi.spyOn(ClusterServices.prototype, 'start')
    const stop = vi.spyOn(ClusterServices.prototype, 'stop')
    const host = await open(true)
    expect(start).not.toHaveBeenCalled()
    host.startServices()
    host.startServices()
    expect(start).toHaveBeenCalledTimes(1)
    await host.close()
    expect(stop).toHaveBeenCalledTimes(1)
  })

  it('never starts them after the host closed, and stops them all the same (a stopped rebalancer takes no job)', async () => {
    const start = vi.spyOn(ClusterServices.prototype, 'start')
    const stop = vi.spyOn(ClusterServices.prototype, 'stop')
    const host = await open(true)
    await host.close()
    host.startServices()
    expect(start).not.toHaveBeenCalled()
    expect(stop).toHaveBeenCalledTimes(1)
    expect(() => host.clusterHandlers().balance!({})).toThrow(/stopping/)
  })

  it('counts no silence of the nodes from before the services started: a slow start-up makes no node suspect', async () => {
    const lines: string[] = []
    const host = await open(true, { intervalMs: 100, suspectAfterMs: 300, deadAfterMs: 600 }, m => lines.push(m))
    await sleep(800) // the mount starting, longer than --dead-after
    host.startServices()
    // Read in the same turn as the start: its first tick judged the silence; what a busy machine
    // does to the pings after it is not this test's business.
    const health = host.cluster.registry.statuses().map(s => s.health)
    const said = lines.filter(l => /is (dead|suspect)/.test(l))
    await host.close()
    expect(health).toEqual(['alive', 'alive'])
    expect(said).toEqual([])
  })

  it('starts them at open without it (dfs namenode)', async () => {
    const start = vi.spyOn(ClusterServices.prototype, 'start')
    const host = await open(false)
    expect(start).toHaveBeenCalledTimes(1)
    await host.close()
  })
})
