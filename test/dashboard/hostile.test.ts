// The dashboard against a hostile network user and a careless operator, in process: a NameNode host
// on two node folders, the server in front of it. A flood of connections, request targets that are
// not paths, tokens that no header can carry, cookies shared between ports.

import { type IncomingHttpHeaders, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NameNodeHost } from '../../src/namenode/openNameNode.js'
import { openTestHost } from '../namenode/fixtures.js'
import { type Dashboard, MAX_CONNECTIONS, startDashboard } from '../../src/dashboard/server.js'
import { httpSettings } from '../../src/dashboard/httpFlags.js'
import { dfs } from '../helpers/cli.js'
import { makeTempDir } from '../helpers/tmp.js'

interface Answer { status: number; headers: IncomingHttpHeaders; body: string }

function get(address: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const [host, port] = address.split(':')
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path, headers }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', d => { body += d })
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Bytes as they are, for request lines no HTTP client would send; the whole answer. */
function raw(address: string, text: string): Promise<string> {
  const [host, port] = address.split(':')
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host)
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', d => { answer += d })
    socket.on('error', reject)
    socket.on('close', () => resolve(answer))
    socket.end(text)
  })
}

async function eventually(what: string, test: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`not in time: ${what}`)
    await new Promise(r => setTimeout(r, 100))
  }
}

const dir = makeTempDir('dfs-dashboard-hostile-')
let host: NameNodeHost
const warnings: string[] = []
let dash: Dashboard

beforeAll(async () => {
  host = await openTestHost(dir.path)
  dash = await startDashboard({ host, listen: '127.0.0.1:0', log: (m: string) => warnings.push(m), status: () => host.status('test') })
})

afterAll(async () => {
  await dash?.close()
  await host?.close()
  await dir.cleanup()
})

describe('a flood of connections', () => {
  it('holds at most MAX_CONNECTIONS of the process\'s file descriptors: the rest are closed as they arrive', async () => {
    // Each sends half a request and waits (slowloris): without a cap every one is a descriptor the
    // NameNode then lacks for its journal, its node folders and its clients (EMFILE).
    const [h, port] = dash.address.split(':')
    const extra = 20
    const sockets: Socket[] = []
    let closed = 0
    try {
      for (let i = 0; i < MAX_CONNECTIONS + extra; i++) {
        const s = connect(Number(port), h)
        s.on('error', () => {})
        s.on('close', () => { closed++ })
        s.resume()
        s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n')
        sockets.push(s)
      }
      await Promise.all(sockets.map(s => new Promise<void>(r => (s.connecting ? s.once('connect', () => r()).once('close', () => r()) : r()))))
      await eventually(`${extra} of ${MAX_CONNECTIONS + extra} connections closed (${closed} so far)`, () => closed >= extra, 20_000)
      // The half-sent requests time out too, and the dashboard serves again.
      await eventually('every half-sent request timed out', () => closed === sockets.length, 60_000)
      expect((await get(dash.address, '/api/status')).status).toBe(200)
    } finally {
      for (const s of sockets) s.destroy()
    }
  }, 120_000)
})

describe('the token', () => {
  it('is refused when no header could carry it: raw bytes, control characters, spaces at its ends', async () => {
    // (A token of 20,000 characters: Node takes 16 KiB of headers in all, so every request with it got 431.)
    for (const token of [Buffer.from([0x8f, 0x41, 0xc3, 0x28]), 'tok\ten', 'tok ', ' tok', '  ', Buffer.alloc(0), 'x'.repeat(20_000)]) {
      await expect(startDashboard({ host, listen: '127.0.0.1:0', token, log: () => {}, status: () => host.status('t') }), JSON.stringify(String(token)))
        .rejects.toMatchObject({ code: 'BAD_ARGUMENT' })
    }
    // From a file: a trailing newline (\n or \r\n) is not part of it; a trailing space is refused, naming the file.
    const file = join(dir.path, 'token')
    writeFileSync(file, 'tok\r\n', { mode: 0o600 })
    expect((await httpSettings({ http: '127.0.0.1:0', httpTokenFile: file }))?.token?.toString()).toBe('tok')
    writeFileSync(file, 'tok \n', { mode: 0o600 })
    await expect(httpSettings({ http: '127.0.0.1:0', httpTokenFile: file })).rejects.toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining(`--http-token-file ${file}`) })
  })

  it('dfs namenode with such a token file fails in one line and writes nothing', async () => {
    const file = join(dir.path, 'raw-token')
    writeFileSync(file, Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x0a, 0x00, 0x7f]), { mode: 0o600 })
    const secret = join(dir.path, 'secret')
    writeFileSync(secret, 'a-secret-shared-by-all-roles-0123456789', { mode: 0o600 })
    const meta = join(dir.path, 'meta-never')
    const nodes = ['x1', 'x2'].map(n => join(dir.path, n))
    for (const n of nodes) mkdirSync(n)
    const r = await dfs('namenode', '--meta', meta, '--nodes', nodes.join(','), '--listen', '127.0.0.1:0', '--secret-file', secret, '--http', '127.0.0.1:0', '--http-token-file', file)
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/--http-token-file .*raw-token holds a byte no HTTP header can carry.*\[BAD_ARGUMENT\]/)
    expect(existsSync(meta)).toBe(false)
  })

  it('is taken with the Bearer scheme spelt in any case', async () => {
    const guarded = await startDashboard({ host, listen: '127.0.0.1:0', token: 'tok', log: () => {}, status: () => host.status('t') })
    try {
      for (const scheme of ['Bearer', 'bearer', 'BEARER']) expect((await get(guarded.address, '/api/status', { Authorization: `${scheme} tok` })).status, scheme).toBe(200)
      expect((await get(guarded.address, '/api/status', { Authorization: 'Basic tok' })).status).toBe(401)
    } finally {
      await guarded.close()
    }
  })
})

describe('request targets that are not plain paths', () => {
  it('are paths on this server, never another host: answered without a failure in the log', async () => {
    warnings.length = 0
    const answer = async (target: string) => (await raw(dash.address, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)).split('\r\n')[0]
    // Resolved against a base URL, `//x/…` named host x and its path went on: the page or the status.
    expect(await answer('//evil.example/api/status')).toMatch(/ 404 /)
    expect(await answer('/\\evil.example/')).toMatch(/ 404 /)
    expect(await answer('//[')).toMatch(/ 404 /)
    expect(await answer('http://[/x')).toMatch(/ 400 /)
    expect(await answer('http://127.0.0.1/api/status')).toMatch(/ 200 /)
    expect(warnings).toEqual([])
  })

  it('never turn the token\'s redirect into one to another host', async () => {
    const guarded = await startDashboard({ host, listen: '127.0.0.1:0', token: 'tok', log: () => {}, status: () => host.status('t') })
    try {
      for (const target of ['/.//evil.example/?token=tok', '//evil.example/?token=tok', '/%2e//evil.example?token=tok', '/\\evil.example/?token=tok']) {
        const head = await raw(guarded.address, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
        expect(head.split('\r\n')[0], target).toMatch(/ 303 /)
        const location = /\r\nLocation: ([^\r]*)/i.exec(head)?.[1]
        expect(location, target).toMatch(/^\/(?![/\\])/)
      }
    } finally {
      await guarded.close()
    }
  })
})

describe('the cookie', () => {
  it('is one per port, and holds no token: two dashboards on one host keep their viewers, and neither learns the other\'s token', async () => {
    const tokens = ['first-token', 'second-token']
    const dashes = await Promise.all(tokens.map(token => startDashboard({ host, listen: '127.0.0.1:0', token, log: () => {}, status: () => host.status('t') })))
    try {
      // A browser's jar for 127.0.0.1: by name, whatever the port; every cookie goes to every port.
      const jar = new Map<string, string>()
      for (const [i, d] of dashes.entries()) {
        const r = await get(d.address, `/?token=${tokens[i]}`)
        expect(r.status).toBe(303)
        const [pair] = String(r.headers['set-cookie']).split(';')
        const [name, value] = pair!.split('=') as [string, string]
        for (const token of tokens) expect(decodeURIComponent(value)).not.toContain(token)
        jar.set(name, value)
      }
      expect(jar.size).toBe(2)
      const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
      for (const d of dashes) expect((await get(d.address, '/api/status', { Cookie: cookie })).status, d.address).toBe(200)
      // One dashboard's cookie does not open the other.
      const [first] = [...jar]
      const other = dashes[1]!
      expect((await get(other.address, '/api/status', { Cookie: `${first![0]}=${first![1]}` })).status).toBe(401)
      expect((await get(other.address, '/api/status', { Cookie: `${first![0].replace(/\d+$/, other.address.split(':')[1]!)}=${first![1]}` })).status).toBe(401)
    } finally {
      await Promise.all(dashes.map(d => d.close()))
    }
  })
})
