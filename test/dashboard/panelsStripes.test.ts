// The dashboard, in Chromium, on erasure coding: the health panel shows stripes by shards missing and
// the measured storage overhead of each layout in use (as dfs status does), and the file view shows a stripe's layout, each shard's
// node marked with its index, and a lost shard.

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeState } from '../../src/cluster/nodeState.js'
import type { NameNodeHost } from '../../src/namenode/openNameNode.js'
import { openTestHost } from '../namenode/fixtures.js'
import { type Dashboard, startDashboard } from '../../src/dashboard/server.js'
import type { CopyPlacement, FilePlacement } from '../../src/protocol/placement.js'
import type { ClusterStatus, NodeReport } from '../../src/namenode/status.js'
import { S_IFREG } from '../../src/meta/namespace/types.js'
import { closeBrowsersAfterAll, openPage, shot } from '../helpers/browser.js'
import { pagedPlacement } from '../helpers/placement.js'
import { makeTempDir } from '../helpers/tmp.js'

closeBrowsersAfterAll()

const DEADLINE = { timeout: 60_000 }
const dir = makeTempDir('dfs-panels-ec-')
let host: NameNodeHost
let dash: Dashboard
let scripted: ClusterStatus

function node(nodeId: string): NodeReport {
  const report = { nodeId, address: `tcp://10.0.0.${nodeId.length}:7001`, health: 'alive', full: false, heartbeatAgeMs: 400, capacity: 100 << 20, available: 60 << 20, used: 30 << 20, chunks: 7 }
  return { ...report, state: nodeState(report) }
}

const copy = (nodeId: string, shard: number, state: CopyPlacement['state']): CopyPlacement => ({ shard, nodeId, address: 'tcp://10.0.0.8:7001', node: 'alive', state })
const sha = (n: number) => String(n).repeat(64)
const striped: FilePlacement = {
  path: '/striped', ino: 3, type: 'file', size: 1 << 20, chunkSize: 1 << 20, replicas: 2,
  chunks: [{
    index: 0, id: 'c'.repeat(32), offset: 0, length: 1 << 20, sha256: sha(1), layout: 'ec:2+1', wanted: 3, needed: 2, intact: 2,
    copies: [copy('aaaa1111', 0, 'ok'), copy('bbbb2222', 1, 'ok')],
    shards: [
      { index: 0, id: 'a'.repeat(32), length: 1 << 19, sha256: sha(2), nodeId: 'aaaa1111', state: 'ok' },
      { index: 1, id: 'b'.repeat(32), length: 1 << 19, sha256: sha(3), nodeId: 'bbbb2222', state: 'ok' },
      { index: 2, id: 'd'.repeat(32), length: 1 << 19, sha256: sha(4), state: 'lost' },
    ],
  }],
}

beforeAll(async () => {
  host = await openTestHost(dir.path)
  const session = host.inProcessSession()
  await session.commit({ op: 'mknod', parent: 1, name: 'striped', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 })
  await session.close()
  scripted = {
    ...host.status('/mnt/dfs'),
    nodes: [node('aaaa1111'), node('bbbb2222'), node('cccc3333')],
    chunks: { referenced: 10, underReplicated: 1, unavailable: 0, waitingForGrace: 0, files: 2, byCopies: [0, 0, 2], byMissingShards: [7, 1] } as ClusterStatus['chunks'],
    overhead: [
      { layout: 'ec:2+1', chunks: 8, dataBytes: 8 << 20, storedBytes: 12 << 20, overhead: 1.5, nominal: 1.5 },
      { layout: 'replicas:2', chunks: 2, dataBytes: 2 << 20, storedBytes: 4 << 20, overhead: 2, nominal: 2 },
    ],
  }
  dash = await startDashboard({ host, listen: '127.0.0.1:0', log: () => {}, liveIntervalMs: 300, status: () => ({ ...scripted, uptimeMs: 1000 }), placement: async (_path, range) => pagedPlacement(striped, range) })
})

afterAll(async () => {
  await dash?.close()
  await host?.close()
  await dir.cleanup()
})

describe('the dashboard on erasure coding', () => {
  it('shows the overhead per layout, and each shard\'s node in the file view', async () => {
    const { page, errors } = await openPage(`http://${dash.address}/`)
    await page.waitForSelector('#overhead dd[data-layout="ec:2+1"]', DEADLINE)
    expect(await page.$$eval('#overhead dd', dds => dds.map(d => d.textContent))).toEqual([
      '1.50× (12 MiB on nodes for 8.0 MiB of data)',
      '2.00× (4.0 MiB on nodes for 2.0 MiB of data)',
    ])
    expect(await page.$$eval('#overhead dt', dts => dts.map(d => d.textContent))).toEqual(['ec:2+1', 'replicas:2'])

    const health = await page.textContent('#health')
    expect(health).toMatch(/whole stripes\s*7/)
    expect(health).toMatch(/stripes missing 1 shard\s*1/)

    await page.click('#files tr[data-path="/striped"] a', DEADLINE)
    await page.waitForSelector('#chunks tr[data-chunk="0"][data-layout="ec:2+1"]', DEADLINE)
    const shards = await page.$$eval('#chunks tr[data-chunk="0"] .copy', spans => spans.map(s => [(s as HTMLElement).dataset.shard, (s as HTMLElement).dataset.nodeId ?? '-', (s as HTMLElement).dataset.state]))
    expect(shards).toEqual([['0', 'aaaa1111', 'ok'], ['1', 'bbbb2222', 'ok'], ['2', '-', 'lost']])
    expect(await page.textContent('#chunks tr[data-chunk="0"]')).toMatch(/ec:2\+1/)
    expect(await page.textContent('#placement .summary')).toBe('1 of 1 chunks is short of its intact copies or shards; the healer restores them')
    await shot(page, 'panels-ec')
    expect(errors).toEqual([])
  })
})
