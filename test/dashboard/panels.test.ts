// The page's panels against the data contracts, in Chromium, with a status this test scripts: the
// dashboard server runs in this process over a real NameNode host (events, listing) but serves a
// ClusterStatus the test writes, so each panel can be checked for what it must show: node states and
// rates from counter deltas, clients, health counts, events newest first and live, a paged listing.

import { nodeState } from '../../src/cluster/nodeState.js'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { NameNodeHost } from '../../src/namenode/openNameNode.js'
import { openTestHost } from '../namenode/fixtures.js'
import { type Dashboard, startDashboard } from '../../src/dashboard/server.js'
import { LIST_LIMIT_DEFAULT } from '../../src/dashboard/listing.js'
import { CHUNK_LIMIT_DEFAULT } from '../../src/dashboard/server.js'
import type { CopyPlacement, FilePlacement } from '../../src/protocol/placement.js'
import type { ClusterStatus, NodeReport } from '../../src/namenode/status.js'
import type { ClientSummary } from '../../src/protocol/clientStats.js'
import { S_IFDIR, S_IFREG, type Inode } from '../../src/meta/namespace/types.js'
import { closeBrowsers, closeBrowsersAfterAll, openPage, shot } from '../helpers/browser.js'
import { pagedPlacement } from '../helpers/placement.js'
import { makeTempDir } from '../helpers/tmp.js'

closeBrowsersAfterAll()

const DEADLINE = { timeout: 60_000 }
const dir = makeTempDir('dfs-panels-')
let host: NameNodeHost
let dash: Dashboard
/** What /api/status serves next; the test changes it. */
let scripted: ClusterStatus
/** What /api/file serves next. */
let placement: FilePlacement
/** What /api/file answers for a path: `placement` unless a test holds an answer back. */
let placementOf: (path: string) => FilePlacement | Promise<FilePlacement> = () => placement

function node(nodeId: string, health: string, extra: Partial<NodeReport> = {}): NodeReport {
  const report = { nodeId, address: `tcp://10.0.0.${nodeId.length}:7001`, health, full: false, heartbeatAgeMs: 400, capacity: 100 << 20, available: 60 << 20, used: 30 << 20, chunks: 7, ...extra }
  return { ...report, state: nodeState(report) }
}

const copy = (nodeId: string, state: CopyPlacement['state']): CopyPlacement => ({ nodeId, address: 'tcp://10.0.0.1:7001', node: 'alive', state, verifiedAt: Date.now() - 90_000 })
/** More chunks than one page of the file view. */
const HUGE_CHUNKS = CHUNK_LIMIT_DEFAULT + 5
const huge = {
  path: '/huge', ino: 9, type: 'file', size: HUGE_CHUNKS << 20, chunkSize: 1 << 20, replicas: 2,
  chunks: Array.from({ length: HUGE_CHUNKS }, (_, index) => ({
    index, id: index.toString(16).padStart(32, '0'), offset: index << 20, length: 1 << 20, sha256: 'ab'.repeat(32),
    copies: [copy('aaaa1111', 'ok'), copy('cccc3333', index === 0 ? 'unreachable' : 'ok')], intact: index === 0 ? 1 : 2,
  })),
} as FilePlacement

function client(id: string, readBytes: number): ClientSummary {
  return {
    id, host: 'laptop', mountpoint: '/home/ann/dfs', pid: 4242, startedAt: Date.now() - 3_600_000, inProcess: false, connected: true, connectedAt: Date.now() - 60_000,
    counters: { ops: {}, nodes: { aaaa1111: { readBytes, writeBytes: 0, reads: 1, writes: 0 } }, failovers: 0 },
    opsPerSec: 12.5, readBytesPerSec: 1 << 20, writeBytesPerSec: 0,
  }
}

beforeAll(async () => {
  host = await openTestHost(dir.path)
  const session = host.inProcessSession()
  const big = await session.commit({ op: 'mknod', parent: 1, name: 'big', mode: S_IFDIR | 0o755, uid: 0, gid: 0, time: 1 }) as Inode
  for (let i = 0; i < LIST_LIMIT_DEFAULT + 20; i++) await session.commit({ op: 'mknod', parent: big.ino, name: `f${String(i).padStart(4, '0')}`, mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 })
  await session.commit({ op: 'mknod', parent: 1, name: 'huge', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 })
  await session.close()
  const real = host.status('/mnt/dfs')
  scripted = {
    ...real,
    nodes: [node('aaaa1111', 'alive'), node('bbbb2222', 'suspect'), node('cccc3333', 'dead', { reason: 'no heartbeat for 10.0 s' }), node('dddd4444', 'alive', { draining: true })],
    chunks: { referenced: 10, underReplicated: 3, unavailable: 1, waitingForGrace: 0, files: 4, byCopies: [1, 3, 6] },
    clients: [client('c1', 0)] as unknown as ClusterStatus['clients'],
  }
  placement = huge
  dash = await startDashboard({ host, listen: '127.0.0.1:0', log: () => {}, liveIntervalMs: 300, status: () => ({ ...scripted, uptimeMs: Date.now() - host.startedAt }), placement: async (path, range) => pagedPlacement(await placementOf(path), range) })
})

afterAll(async () => {
  await dash?.close()
  await host?.close()
  await dir.cleanup()
})

describe('the dashboard panels', () => {
  it('show nodes, clients, health and events as the status and the feed say, live', async () => {
    host.events.emit({ kind: 'node-suspect', level: 'warn', message: 'node bbbb2222 is suspect', nodeId: 'bbbb2222' })
    host.events.emit({ kind: 'node-dead', level: 'error', message: 'node cccc3333 is dead', nodeId: 'cccc3333' })
    const { page, errors } = await openPage(`http://${dash.address}/`)

    await page.waitForSelector('#nodes tr[data-node-id="dddd4444"]', DEADLINE)
    const states = await page.$$eval('#nodes tr', rows => rows.slice(1).map(r => (r as HTMLElement).dataset.state))
    expect(states).toEqual(['alive', 'suspect', 'dead', 'draining'])
    // Why a node is down, in the row as dfs status prints it (not only in a tooltip).
    expect(await page.textContent('#nodes tr[data-node-id="cccc3333"]')).toContain('no heartbeat for 10.0 s')

    // Read rate from the difference of two statuses' cumulative counters.
    scripted = { ...scripted, clients: [client('c1', 50 << 20)] as unknown as ClusterStatus['clients'] }
    await page.waitForFunction(() => /\/s$/.test(document.querySelector('#nodes tr[data-node-id="aaaa1111"] td:nth-child(7)')?.textContent ?? ''), null, DEADLINE)

    const clientRow = await page.textContent('#clients tr[data-client-id="c1"]')
    expect(clientRow).toContain('laptop')
    expect(clientRow).toContain('/home/ann/dfs')
    expect(clientRow).toContain('12.5')

    const health = await page.textContent('#health')
    expect(health).toMatch(/chunks with 2 intact copies\s*6/)
    expect(health).toMatch(/chunks with 1 intact copy\s*3/)
    expect(health).toMatch(/chunks with 0 intact copies\s*1/)
    expect(health).toMatch(/under-replicated\s*3/)
    expect(health).toMatch(/no live copy\s*1/)

    // Events: newest first, and a new one arrives without a reload.
    expect(await page.$$eval('#events li', items => items.map(i => (i as HTMLElement).dataset.kind))).toEqual(['node-dead', 'node-suspect'])
    host.events.emit({ kind: 'healed', level: 'info', message: 'healed 3 chunks', count: 3 })
    await page.waitForSelector('#events li[data-kind="healed"]:first-child', DEADLINE)

    // A file with more chunks than a page: each chunk's copies with their state and when verified; the rest on "more chunks".
    await page.click('#files tr[data-path="/huge"] a', DEADLINE)
    await page.waitForFunction(n => document.querySelectorAll('#chunks tr[data-chunk]').length === n, CHUNK_LIMIT_DEFAULT, DEADLINE)
    const first = await page.textContent('#chunks tr[data-chunk="0"]')
    expect(first).toMatch(/unreachable\s*cccc3333\s*verified 1m \d+s ago/)
    await page.click('#placement button')
    await page.waitForFunction(n => document.querySelectorAll('#chunks tr[data-chunk]').length === n, HUGE_CHUNKS, DEADLINE)

    // A directory bigger than a page: the rest on "more".
    await page.click('#files tr[data-path="/big"] a', DEADLINE)
    await page.waitForFunction(n => document.querySelectorAll('#files tbody tr').length === n, LIST_LIMIT_DEFAULT, DEADLINE)
    await page.click('#more')
    await page.waitForFunction(n => document.querySelectorAll('#files tbody tr').length === n, LIST_LIMIT_DEFAULT + 20, DEADLINE)
    expect(await page.isHidden('#more')).toBe(true)

    await shot(page, 'panels')
    expect(errors).toEqual([])
  })

  it('follow the cluster: a node that dies, the healer\'s new copies and a new file show without a click', async () => {
    const file = (copies: CopyPlacement[]): FilePlacement => ({
      ...huge, path: '/huge', size: 1 << 20, chunks: [{ ...huge.chunks[1]!, index: 0, offset: 0, copies, intact: copies.filter(c => c.state === 'ok').length }],
    })
    const alive = (s: ClusterStatus): ClusterStatus => ({ ...s, nodes: s.nodes.map(n => ({ ...n, health: 'alive', state: 'alive' })) as NodeReport[] })
    scripted = alive(scripted)
    placement = file([copy('aaaa1111', 'ok'), copy('cccc3333', 'ok')])
    const { page, errors } = await openPage(`http://${dash.address}/`)
    await page.click('#files tr[data-path="/huge"] a', DEADLINE)
    await page.waitForSelector('#chunks .copy[data-node-id="cccc3333"][data-state="ok"]', DEADLINE)

    // cccc3333 dies: the status says so, and its copy no longer counts.
    placement = file([copy('aaaa1111', 'ok'), copy('cccc3333', 'unreachable')])
    scripted = { ...scripted, nodes: scripted.nodes.map(n => (n.nodeId === 'cccc3333' ? { ...n, health: 'dead', state: 'dead' } : n)) as NodeReport[] }
    await page.waitForSelector('#chunks .copy[data-node-id="cccc3333"][data-state="unreachable"]', DEADLINE)
    expect(await page.textContent('#placement .summary')).toBe('1 of 1 chunks has fewer than 2 intact copies; the healer restores them')

    // The healer copies the chunk to dddd4444.
    placement = file([copy('aaaa1111', 'ok'), copy('cccc3333', 'unreachable'), copy('dddd4444', 'ok')])
    scripted = { ...scripted, healer: { ...scripted.healer!, copiedChunks: scripted.healer!.copiedChunks + 1 } }
    await page.waitForSelector('#chunks .copy[data-node-id="dddd4444"][data-state="ok"]', DEADLINE)
    expect(await page.textContent('#chunks tr[data-chunk="0"]')).toMatch(/ok\s*aaaa1111.*unreachable\s*cccc3333.*ok\s*dddd4444/)
    expect(await page.textContent('#placement .summary')).toBe('every chunk has 2 intact copies')

    // A file created meanwhile shows in the listing without a click; the open file stays open.
    const session = host.inProcessSession()
    await session.commit({ op: 'mknod', parent: 1, name: 'fresh', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 })
    await session.close()
    scripted = { ...scripted, chunks: { ...scripted.chunks, files: scripted.chunks.files + 1 } }
    await page.waitForSelector('#files tr[data-path="/fresh"]', DEADLINE)
    expect(await page.$$eval('#chunks tr[data-chunk]', rows => rows.length)).toBe(1)
    expect(await page.getAttribute('#files tr[data-path="/huge"]', 'class')).toBe('selected')
    expect(errors).toEqual([])
  })

  it('drops a refresh that answers after the operator opened another file', async () => {
    const one = (path: string, nodeId: string): FilePlacement => ({ ...huge, path, size: 1 << 20, chunks: [{ ...huge.chunks[1]!, index: 0, offset: 0, copies: [copy(nodeId, 'ok')], intact: 1 }] })
    const session = host.inProcessSession()
    await session.commit({ op: 'mknod', parent: 1, name: 'other', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 })
    await session.close()
    // Only this test's page asks: the pages of the tests before would refresh /huge too.
    await closeBrowsers()
    let hold = false
    const held: (() => void)[] = []
    const release = () => { for (const go of held.splice(0)) go() }
    placementOf = async path => {
      if (path !== '/huge') return one(path, 'bbbb2222')
      if (hold) await new Promise<void>(resolve => held.push(resolve))
      return one(path, 'aaaa1111')
    }
    try {
      const { page, errors } = await openPage(`http://${dash.address}/`)
      await page.click('#files tr[data-path="/huge"] a', DEADLINE)
      await page.waitForSelector('#chunks .copy[data-node-id="aaaa1111"]', DEADLINE)

      // The cluster changes: the page fetches /huge again, and that answer is held back.
      hold = true
      scripted = { ...scripted, healer: { ...scripted.healer!, copiedChunks: scripted.healer!.copiedChunks + 1 } }
      await vi.waitFor(() => expect(held).toHaveLength(1), DEADLINE)
      // Meanwhile the operator opens another file.
      await page.click('#files tr[data-path="/other"] a', DEADLINE)
      await page.waitForSelector('#chunks .copy[data-node-id="bbbb2222"]', DEADLINE)
      // The held answer arrives: it must not put /huge back.
      const answered = page.waitForEvent('requestfinished', r => r.url().includes('path=%2Fhuge'))
      release()
      await answered
      await page.evaluate(() => new Promise(resolve => setTimeout(resolve, 0)))
      expect(await page.textContent('#placement h3')).toMatch(/^\/other:/)
      expect(await page.getAttribute('#files tr[data-path="/other"]', 'class')).toBe('selected')
      expect(errors).toEqual([])
    } finally {
      hold = false
      release()
      placementOf = () => placement
    }
  })
})
