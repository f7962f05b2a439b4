// The NameNode's table of its clients (src/namenode/clients.ts): rates from the last two reports
// (an injected clock), departed clients' counters kept in the totals, events when clients come and
// go, and bounds whatever a client sends (src/protocol/checkClientReport.ts on the wire, key caps in
// the table).

import { describe, expect, it } from 'vitest'
import { CLIENT_WINDOW_MS, CLIENTS_TOLD, ClientTable, OTHER } from '../../src/namenode/clients.js'
import { EventFeed } from '../../src/namenode/events.js'
import type { ClientReport } from '../../src/protocol/api.js'
import { checkClientReport } from '../../src/protocol/checkClientReport.js'
import { LATENCY_BOUNDS_SECONDS, REPORT_QUIET_MS, type ClientCounters } from '../../src/protocol/clientStats.js'

const about = (mountpoint = '/mnt/a') => ({ host: 'box', mountpoint, pid: 42, startedAt: 1_000 })

/** Counters with `ops` getattrs and `bytes` read from and written to node n1. */
function counters(ops: number, bytes: number, extra: Partial<ClientCounters> = {}): ClientCounters {
  const counts = new Array<number>(LATENCY_BOUNDS_SECONDS.length + 1).fill(0)
  counts[3] = ops
  return {
    ops: { getattr: { counts, sum: ops * 0.001, count: ops } },
    nodes: { n1: { readBytes: bytes, writeBytes: bytes, reads: bytes > 0 ? 1 : 0, writes: bytes > 0 ? 1 : 0 } },
    failovers: 0,
    ...extra,
  }
}

const report = (ops: number, bytes: number, mountpoint?: string): ClientReport => ({ about: about(mountpoint), counters: counters(ops, bytes) })

function clock(start = 10_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => { t += ms } }
}

describe('ClientTable', () => {
  it('rates come from the last two reports, and are zero with one report or none connected', () => {
    const c = clock()
    const table = new ClientTable({ now: c.now })
    table.report('a', report(10, 0))
    expect(table.list()[0]).toMatchObject({ id: 'a', host: 'box', mountpoint: '/mnt/a', pid: 42, connected: true, connectedAt: 10_000, opsPerSec: 0 })
    c.advance(2_000)
    table.report('a', report(30, 4096))
    expect(table.list()[0]).toMatchObject({ opsPerSec: 10, readBytesPerSec: 2048, writeBytesPerSec: 2048 })
    c.advance(2_000)
    table.report('a', report(30, 4096)) // nothing moved since: the rate falls to zero
    expect(table.list()[0]).toMatchObject({ opsPerSec: 0, readBytesPerSec: 0, writeBytesPerSec: 0 })
    c.advance(2_000)
    table.report('a', report(50, 4096))
    table.disconnected('a')
    expect(table.list()[0]).toMatchObject({ connected: false, opsPerSec: 0 })
    table.reconnected('a')
    expect(table.list()[0]).toMatchObject({ connected: true, opsPerSec: 10, connectedAt: 10_000 })
  })

  it('rates of a client that stopped reporting (frozen, connection still open) fall to zero after the quiet period', () => {
    const c = clock()
    const table = new ClientTable({ now: c.now })
    table.report('a', report(10, 0))
    c.advance(2_000)
    table.report('a', report(30, 4096))
    expect(table.list()[0]).toMatchObject({ connected: true, opsPerSec: 10 })
    c.advance(REPORT_QUIET_MS)
    expect(table.list()[0]).toMatchObject({ connected: true, opsPerSec: 10 })
    c.advance(1)
    expect(table.list()[0]).toMatchObject({ connected: true, opsPerSec: 0, readBytesPerSec: 0, writeBytesPerSec: 0 })
  })

  it('a client that left keeps counting in the totals; totals never go backwards', () => {
    const table = new ClientTable({ now: clock().now })
    table.report('a', report(10, 100, '/mnt/a'))
    table.report('b', report(5, 50, '/mnt/b'))
    const before = table.remoteTotals()
    expect(before.ops.getattr!.count).toBe(15)
    expect(before.nodes.n1!.readBytes).toBe(150)
    table.leave('a')
    expect(table.list().map(c => c.mountpoint)).toEqual(['/mnt/b'])
    expect(table.remoteTotals()).toEqual(before)
    // A report that reads lower than the last one (a broken or lying client) does not lower anything.
    table.report('b', report(1, 1, '/mnt/b'))
    expect(table.remoteTotals()).toEqual(before)
    table.report('b', report(7, 70, '/mnt/b'))
    expect(table.remoteTotals().ops.getattr!.count).toBe(17)
    expect(table.remoteTotals().ops.getattr!.counts[3]).toBe(17)
    table.leave('b')
    expect(table.list()).toEqual([])
    expect(table.remoteTotals().nodes.n1!.writeBytes).toBe(170)
  })

  it('emits client-connected on the first report and client-gone when the session ends, with host and mount point', () => {
    const events = new EventFeed()
    const table = new ClientTable({ events, now: clock().now })
    table.report('a', report(1, 0, '/srv/data'))
    table.report('a', report(2, 0, '/srv/data'))
    table.disconnected('a')
    table.reconnected('a')
    table.leave('a')
    table.leave('a')
    const seen = events.recent().reverse()
    expect(seen.map(e => e.kind)).toEqual(['client-connected', 'client-gone'])
    for (const e of seen) {
      expect(e.message).toContain('box:/srv/data')
      expect(e.clientId).toBe('a')
    }
  })

  it('a crowd of clients coming and going is told one by one up to CLIENTS_TOLD a window, the rest summed up', () => {
    const events = new EventFeed()
    const timers: (() => void)[] = []
    const table = new ClientTable({ events, now: clock().now, burst: { setTimer: fn => timers.push(fn), clearTimer: () => {} } })
    const fire = () => { for (const fn of timers.splice(0)) fn() }
    for (let i = 0; i < 1_000; i++) table.report(`c${i}`, report(1, 0))
    for (let i = 0; i < 1_000; i++) table.leave(`c${i}`)
    expect(events.recent()).toHaveLength(2 * CLIENTS_TOLD)
    fire()
    const summaries = events.recent(2).reverse()
    expect(summaries.map(e => [e.kind, e.count, e.message])).toEqual([
      ['client-connected', 1_000 - CLIENTS_TOLD, `${1_000 - CLIENTS_TOLD} more clients connected in ${CLIENT_WINDOW_MS / 1000} s`],
      ['client-gone', 1_000 - CLIENTS_TOLD, `${1_000 - CLIENTS_TOLD} more clients gone in ${CLIENT_WINDOW_MS / 1000} s`],
    ])
    expect(table.list()).toEqual([])
  })

  it('a histogram\'s count is never below its buckets\' sum, however a client\'s reports disagree', () => {
    const table = new ClientTable()
    const shifted = counters(5, 0)
    shifted.ops.getattr!.counts = shifted.ops.getattr!.counts.map((_, i) => (i === 4 ? 5 : 0))
    table.report('a', report(5, 0))
    table.report('a', { about: about(), counters: shifted })
    const h = table.list()[0]!.counters.ops.getattr!
    expect(h.count).toBeGreaterThanOrEqual(h.counts.reduce((a, b) => a + b, 0))
  })

  it('in-process clients say so, and are in no remote total, connected or gone (their chunk I/O is the NameNode\'s own)', () => {
    const table = new ClientTable()
    table.report('x', report(1, 1000), { inProcess: true })
    table.report('r', report(1, 10))
    expect(table.list().find(c => c.id === 'x')!.inProcess).toBe(true)
    expect(table.remoteTotals().nodes.n1!.readBytes).toBe(10)
    table.leave('x')
    expect(table.remoteTotals().nodes.n1!.readBytes).toBe(10)
    table.leave('r')
    expect(table.remoteTotals().nodes.n1!.readBytes).toBe(10)
  })

  it('holds a bounded number of op names and node ids per client and in the departed total; the rest counts under OTHER', () => {
    const table = new ClientTable({ now: clock().now, maxOps: 4, maxNodes: 3 })
    const many = (prefix: string, n: number) => {
      const c = counters(1, 10)
      for (let i = 0; i < n; i++) {
        c.ops[`${prefix}op${i}`] = { ...c.ops.getattr!, counts: [...c.ops.getattr!.counts] }
        c.nodes[`${prefix}node${i}`] = { readBytes: 10, writeBytes: 10, reads: 1, writes: 1 }
      }
      return c
    }
    for (let r = 0; r < 5; r++) table.report('a', { about: about(), counters: many(`r${r}`, 20) })
    const [a] = table.list()
    expect(Object.keys(a!.counters.ops)).toHaveLength(4)
    expect(Object.keys(a!.counters.nodes)).toHaveLength(3)
    expect(a!.counters.ops[OTHER]).toBeDefined()
    for (let id = 0; id < 10; id++) {
      table.report(`c${id}`, { about: about(), counters: many(`c${id}`, 20) })
      table.leave(`c${id}`)
    }
    table.leave('a')
    const totals = table.remoteTotals()
    expect(Object.keys(totals.ops).length).toBeLessThanOrEqual(4)
    expect(Object.keys(totals.nodes).length).toBeLessThanOrEqual(3)
    // Nothing lost: every client's every op is in some bucket of the totals.
    const opCount = Object.values(totals.ops).reduce((n, h) => n + h.count, 0)
    expect(opCount).toBeGreaterThanOrEqual(11 * 21)
  })

  it('a node id "__proto__" is just a key', () => {
    const table = new ClientTable()
    table.report('a', checkClientReport(JSON.parse(JSON.stringify(report(1, 0)).replace('"n1"', '"__proto__"'))))
    expect(Object.keys(table.list()[0]!.counters.nodes)).toEqual(['__proto__'])
    expect(({} as Record<string, unknown>).readBytes).toBeUndefined()
  })
})

describe('checkClientReport', () => {
  const good = () => JSON.parse(JSON.stringify(report(3, 10))) as Record<string, any>

  it('takes a well-formed report', () => {
    expect(checkClientReport(good())).toEqual(report(3, 10))
  })

  it.each<[string, (r: Record<string, any>) => void]>([
    ['no about', r => { delete r.about }],
    ['a host that is not a string', r => { r.about.host = 7 }],
    ['an endless mount point', r => { r.about.mountpoint = '/'.repeat(5000) }],
    ['a negative pid', r => { r.about.pid = -1 }],
    ['an op name that is not one', r => { r.counters.ops['Get Attr'] = r.counters.ops.getattr }],
    ['too many ops', r => { for (let i = 0; i < 100; i++) r.counters.ops[`op${i}`] = r.counters.ops.getattr }],
    ['too many nodes', r => { for (let i = 0; i < 2000; i++) r.counters.nodes[`n${i}`] = r.counters.nodes.n1 }],
    ['a huge node id', r => { r.counters.nodes['x'.repeat(200)] = r.counters.nodes.n1 }],
    ['a histogram of the wrong size', r => { r.counters.ops.getattr.counts.push(0) }],
    ['a fractional count', r => { r.counters.ops.getattr.counts[0] = 0.5 }],
    ['a negative byte count', r => { r.counters.nodes.n1.readBytes = -1 }],
    ['an infinite sum', r => { r.counters.ops.getattr.sum = 'Infinity' }],
    ['failovers missing', r => { delete r.counters.failovers }],
  ])('refuses %s (PROTOCOL_ERROR)', (_what, spoil) => {
    const r = good()
    spoil(r)
    expect(() => checkClientReport(r)).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }))
  })
})
