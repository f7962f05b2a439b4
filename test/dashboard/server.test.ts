// The dashboard's HTTP side, in process: a NameNode host on two node folders, the server in front
// of it. Routes, paging, bounds, read-only, no path outside the fixed file list, the Host check, the
// token (header, ?token= -> cookie), and the live stream (status, events, replay, close).

import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NameNodeHost } from '../../src/namenode/openNameNode.js'
import { openTestHost } from '../namenode/fixtures.js'
import { type Dashboard, startDashboard } from '../../src/dashboard/server.js'
import { S_IFDIR, S_IFREG, type Inode } from '../../src/meta/namespace/types.js'
import type { FilePlacement } from '../../src/protocol/placement.js'
import { pagedPlacement } from '../helpers/placement.js'
import { makeTempDir } from '../helpers/tmp.js'

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One raw request (no URL normalisation: '/../x' goes out as it is). */
function get(address: string, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const [host, port] = address.split(':')
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path, method: opts.method ?? 'GET', headers: opts.headers ?? {} }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', d => { body += d })
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Read an event stream until `until` matches what arrived; resolves with the text and the way to stop. */
function stream(address: string, path: string, headers: Record<string, string> = {}) {
  const [host, port] = address.split(':')
  let text = ''
  let ended = false
  const waiters: Array<() => void> = []
  const req = request({ host, port: Number(port), path, headers }, res => {
    res.setEncoding('utf8')
    res.on('data', d => { text += d; waiters.splice(0).forEach(w => w()) })
    res.on('end', () => { ended = true; waiters.splice(0).forEach(w => w()) })
  })
  req.on('error', () => { ended = true })
  req.end()
  return {
    get text() { return text },
    get ended() { return ended },
    async until(test: () => boolean): Promise<void> {
      const deadline = Date.now() + 60_000
      while (!test()) {
        if (Date.now() > deadline) throw new Error(`stream: not in time; got ${text.slice(-500)}`)
        await new Promise<void>(r => { waiters.push(r); setTimeout(r, 200) })
      }
    },
    stop: () => req.destroy(),
  }
}

const dir = makeTempDir('dfs-dashboard-')
let host: NameNodeHost
let dash: Dashboard
const chunk = (index: number) => ({ index, id: index.toString(16).padStart(32, '0'), offset: index << 20, length: 1 << 20, sha256: '0'.repeat(64), copies: [], intact: 0 })
// `type` came with the info part's filePlacement(); the contract had none.
const placement = { path: '/d/f0', ino: 0, type: 'file', size: 5 << 20, chunkSize: 1 << 20, replicas: 2, chunks: [0, 1, 3, 4].map(chunk) } as FilePlacement

beforeAll(async () => {
  host = await openTestHost(dir.path)
  const session = host.inProcessSession()
  const d = await session.commit({ op: 'mknod', parent: 1, name: 'd', mode: S_IFDIR | 0o755, uid: 0, gid: 0, time: 1 }) as Inode
  for (let i = 0; i < 7; i++) await session.commit({ op: 'mknod', parent: d.ino, name: `f${i}`, mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 })
  await session.close()
  dash = await startDashboard({
    host, listen: '127.0.0.1:0', log: () => {}, liveIntervalMs: 200,
    status: () => host.status('test'),
    placement: (path, range) => {
      if (path !== '/d/f0') throw Object.assign(new Error(`${path}: no such file`), { code: 'ENOENT' })
      return pagedPlacement({ ...placement, ino: 99 }, range)
    },
    metrics: { contentType: 'text/plain; version=0.0.4', render: async () => 'dfs_nodes 2\n' },
  })
})

afterAll(async () => {
  await dash?.close()
  await host?.close()
  await dir.cleanup()
})

describe('the dashboard server', () => {
  it('serves the page, its script, its style and Chart.js from the package', async () => {
    const page = await get(dash.address, '/')
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toMatch(/text\/html/)
    expect(page.body).toContain('<script src="app.js"')
    for (const asset of ['/app.js', '/style.css', '/chart.umd.min.js', '/favicon.svg']) expect((await get(dash.address, asset)).status, asset).toBe(200)
    expect((await get(dash.address, '/chart.umd.min.js')).body).toMatch(/Chart/)
  })

  it('reaches no file outside its fixed list, however the path is spelt', async () => {
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/web/app.js', '/..%2fpackage.json', '//etc/passwd', '/api/../../package.json']) {
      expect((await get(dash.address, path)).status, path).toBe(404)
    }
  })

  it('is read-only: only GET and HEAD', async () => {
    const post = await get(dash.address, '/api/status', { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.allow).toBe('GET, HEAD')
    const head = await get(dash.address, '/api/status', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.body).toBe('')
  })

  it('serves the status, the file placement and /metrics', async () => {
    const status = JSON.parse((await get(dash.address, '/api/status')).body)
    expect(status.nodes).toHaveLength(2)
    expect(status.mountpoint).toBe('test')
    expect(JSON.parse((await get(dash.address, '/api/file?path=/d/f0')).body)).toMatchObject({ path: '/d/f0', ino: 99 })
    expect((await get(dash.address, '/api/file?path=/nope')).status).toBe(404)
    // A page of chunks at a time (a hole at index 2 is not there): next names the index to go on from.
    const first = JSON.parse((await get(dash.address, '/api/file?path=/d/f0&limit=2')).body)
    expect(first.chunks.map((c: { index: number }) => c.index)).toEqual([0, 1])
    expect(first.next).toBe(3)
    const second = JSON.parse((await get(dash.address, '/api/file?path=/d/f0&limit=2&from=3')).body)
    expect(second.chunks.map((c: { index: number }) => c.index)).toEqual([3, 4])
    expect(second.next).toBeUndefined()
    expect((await get(dash.address, '/api/file?path=/d/f0&limit=100000')).status).toBe(400)
    // A limit of 0 answered no chunk and next = from: a client following next asked for ever.
    expect((await get(dash.address, '/api/file?path=/d/f0&limit=0')).status).toBe(400)
    const metrics = await get(dash.address, '/metrics')
    expect(metrics.headers['content-type']).toBe('text/plain; version=0.0.4')
    expect(metrics.body).toBe('dfs_nodes 2\n')
  })

  it('lists a directory a page at a time, from the namespace only', async () => {
    const names: string[] = []
    let after = ''
    for (let pages = 0; pages < 10; pages++) {
      const page = JSON.parse((await get(dash.address, `/api/ls?path=/d&limit=3${after ? `&after=${after}` : ''}`)).body)
      expect(page.entries.length).toBeLessThanOrEqual(3)
      names.push(...page.entries.map((e: { name: string }) => e.name))
      if (!page.next) break
      after = page.next
    }
    expect(names).toEqual(['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6'])
    const root = JSON.parse((await get(dash.address, '/api/ls?path=/')).body)
    expect(root).toEqual({ path: '/', entries: [expect.objectContaining({ name: 'd', type: 'dir' })] })
    // ".." is the parent, as in a mount (the root's is the root): nothing outside the namespace.
    const up = await get(dash.address, '/api/ls?path=/d/../..')
    expect(up.status).toBe(200)
    expect(JSON.parse(up.body).entries).toEqual(root.entries)
    expect((await get(dash.address, '/api/ls?path=/d/f0')).status).toBe(400)
    expect((await get(dash.address, '/api/ls?path=etc')).status).toBe(400)
    expect((await get(dash.address, '/api/ls?path=/&limit=100000')).status).toBe(400)
    expect((await get(dash.address, '/api/ls?path=/&limit=0')).status).toBe(400)
  })

  it('serves events newest first, after a seq', async () => {
    const first = host.events.emit({ kind: 'checkpoint', level: 'info', message: 'one' })
    host.events.emit({ kind: 'checkpoint', level: 'info', message: 'two' })
    const events = JSON.parse((await get(dash.address, `/api/events?after=${first.seq}`)).body)
    expect(events.map((e: { message: string }) => e.message)).toEqual(['two'])
    expect((await get(dash.address, '/api/events?after=x')).status).toBe(400)
  })

  it('refuses a Host that is not a loopback name (DNS rebinding)', async () => {
    expect((await get(dash.address, '/api/status', { headers: { Host: 'evil.example:80' } })).status).toBe(421)
    expect((await get(dash.address, '/api/status', { headers: { Host: `localhost:${dash.address.split(':')[1]}` } })).status).toBe(200)
  })

  it('streams the status, events as they happen and those missed, and ends the streams on close', async () => {
    host.events.emit({ kind: 'node-dead', level: 'warn', message: 'missed one' })
    const s = stream(dash.address, '/api/live')
    await s.until(() => s.text.includes('missed one'))
    expect(s.text.indexOf('event: status')).toBeLessThan(s.text.indexOf('missed one'))
    await s.until(() => (s.text.match(/event: status/g) ?? []).length >= 2)
    host.events.emit({ kind: 'node-back', level: 'info', message: 'it came back' })
    await s.until(() => s.text.includes('it came back'))
    const id = new RegExp(`id: (${host.startedAt}\\.\\d+)\\nevent: cluster-event\\ndata: \\{.*"it came back"`).exec(s.text)?.[1]
    expect(id).toBeDefined()
    // Reconnecting with the last id: only what came after it; with another NameNode's id: all recent ones.
    host.events.emit({ kind: 'node-dead', level: 'warn', message: 'after the id' })
    const again = stream(dash.address, '/api/live', { 'Last-Event-ID': id! })
    await again.until(() => again.text.includes('after the id'))
    expect(again.text).not.toContain('it came back')
    again.stop()
    const other = stream(dash.address, '/api/live', { 'Last-Event-ID': '1.1' })
    await other.until(() => other.text.includes('after the id'))
    expect(other.text).toContain('missed one')
    other.stop()
    const second = await startDashboard({ host, listen: '127.0.0.1:0', log: () => {}, status: () => host.status('x'), liveIntervalMs: 200 })
    const t = stream(second.address, '/api/live')
    await t.until(() => t.text.includes('event: status'))
    await second.close()
    await t.until(() => t.ended)
    s.stop()
  })
})

describe('with a token', () => {
  let guarded: Dashboard
  beforeAll(async () => {
    guarded = await startDashboard({ host, listen: '127.0.0.1:0', token: Buffer.from('s3cret token'), log: () => {}, status: () => host.status('t') })
  })
  afterAll(() => guarded?.close())

  it('refuses a request without it (401, one line), and takes it as a bearer header', async () => {
    const refused = await get(guarded.address, '/api/status')
    expect(refused.status).toBe(401)
    expect(refused.body.trim().split('\n')).toHaveLength(1)
    expect((await get(guarded.address, '/', {})).status).toBe(401)
    expect(refused.body).toMatch(/a token is required/)
    const wrong = await get(guarded.address, '/api/status', { headers: { Authorization: 'Bearer wrong' } })
    expect(wrong.status).toBe(401)
    // A wrong token is told apart from none (a stale cookie, a token file replaced since).
    expect(wrong.body).toMatch(/^dfs dashboard: the token sent is not the one in --http-token-file/)
    expect((await get(guarded.address, '/api/status', { headers: { Authorization: 'Bearer s3cret token' } })).status).toBe(200)
  })

  it('takes ?token= once: a cookie (HttpOnly, SameSite=Lax) and a redirect without it', async () => {
    expect((await get(guarded.address, '/?token=wrong')).status).toBe(401)
    const r = await get(guarded.address, '/?token=s3cret%20token&x=1')
    expect(r.status).toBe(303)
    expect(r.headers.location).toBe('/?x=1')
    const cookie = String(r.headers['set-cookie'])
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Lax/)
    const sent = cookie.split(';')[0]!
    expect((await get(guarded.address, '/', { headers: { Cookie: sent } })).status).toBe(200)
    const s = stream(guarded.address, '/api/live', { Cookie: sent })
    await s.until(() => s.text.includes('event: status'))
    s.stop()
  })
})
