// The dashboard: one node:http server inside the NameNode (dfs namenode, the embedded mount) serving
// the page (fixed files, assets.ts), its JSON (/api/…), live updates (/api/live, live.ts) and
// /metrics. Read-only: GET and HEAD only. Paths in queries are names in the namespace, never on a
// disk. Every answer is bounded: listings come a page at a time, events from a bounded ring.
// Bound to loopback unless a token guards it (httpFlags.ts); with a token every request needs it
// (auth.ts). On loopback without a token, a Host header that is not a loopback name is refused, so a
// web page elsewhere cannot rebind a name of its own to 127.0.0.1 and read the cluster.

import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseHostPort } from '../datanode/tcp/protocol.js'
import { dfsError } from '../errors.js'
import { listenError } from '../util/listenError.js'
import type { ClusterStatus } from '../namenode/status.js'
import type { PagedPlacement } from '../protocol/placement.js'
import type { ChunkRange } from '../namenode/filePlacement.js'
import type { NameNodeHost } from '../namenode/openNameNode.js'
import { type Log, levelled } from '../log/Log.js'
import { type Asset, loadAssets } from './assets.js'
import { TokenGuard } from './auth.js'
import { isLoopback, requireTokenOffLoopback } from './httpFlags.js'
import { LiveHub } from './live.js'
import { LIST_LIMIT_MAX, listDirectory } from './listing.js'

/** /metrics: what the metrics part's createMetrics() returns (src/dashboard/metrics.ts), without its close(). */
export interface MetricsEndpoint {
  contentType: string
  render(): Promise<string>
}

export interface DashboardOptions {
  host: NameNodeHost
  /** host:port; port 0 takes a free one (see `address`). */
  listen: string
  /** When set, every request must carry it. */
  token?: Buffer | string
  log: Log | ((message: string) => void)
  /** /api/status: the ClusterStatus `dfs status --json` prints for this NameNode. */
  status: () => ClusterStatus | Promise<ClusterStatus>
  /** /api/file: where a file's chunks live (filePlacement()), those in `range` only; 501 without it. */
  placement?: (path: string, range: ChunkRange) => PagedPlacement | Promise<PagedPlacement>
  /** /metrics; 501 without it. */
  metrics?: MetricsEndpoint
  /** A listener bound already (bindDashboard), so a bad address fails before the cluster is opened. */
  bound?: Server
  /** How often live viewers get the status (ms). */
  liveIntervalMs?: number
}

export interface Dashboard {
  /** host:port it listens on. */
  address: string
  /** http://host:port/ */
  url: string
  close(): Promise<void>
}

/**
 * Connections open at once, at most; one more is closed as it arrives. Every connection is a file
 * descriptor of the NameNode's process, the one that also holds the journal, the node folders and
 * its clients' sockets: a flood of idle connections (no token needed to open one) must not take
 * those away. Room for every live viewer (MAX_VIEWERS) and as many requests again.
 */
export const MAX_CONNECTIONS = 256
/** A request's headers must arrive within this (ms): a client that trickles them holds a slot no longer. */
export const HEADERS_TIMEOUT_MS = 10_000

/** Listen on `listen` without serving yet (BAD_ARGUMENT naming --http when the address cannot be bound). */
export async function bindDashboard(listen: string): Promise<Server> {
  const { host, port } = parseHostPort(listen, '--http')
  const server = createServer({
    headersTimeout: HEADERS_TIMEOUT_MS,
    // GET and HEAD carry no body: the whole request is its headers.
    requestTimeout: HEADERS_TIMEOUT_MS,
    connectionsCheckingInterval: 1000,
  })
  server.maxConnections = MAX_CONNECTIONS
  await new Promise<void>((resolve, reject) => {
    server.once('error', err => reject(listenError(err, host, port, `--http ${listen}`)))
    server.listen(port, host, () => resolve())
  })
  return server
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const log = levelled(opts.log)
  let assets: Map<string, Asset>
  let guard: TokenGuard | undefined
  try {
    requireTokenOffLoopback(opts.listen, opts.token !== undefined)
    guard = opts.token === undefined ? undefined : new TokenGuard(Buffer.from(opts.token))
    assets = await loadAssets()
  } catch (err) {
    opts.bound?.close()
    throw err
  }
  const server = opts.bound ?? await bindDashboard(opts.listen)
  const live = new LiveHub({
    events: opts.host.events,
    incarnation: opts.host.startedAt,
    status: async () => JSON.stringify(await opts.status()),
    log,
    ...(opts.liveIntervalMs ? { intervalMs: opts.liveIntervalMs } : {}),
  })
  const routes = apiRoutes(opts)
  const listenHost = parseHostPort(opts.listen, '--http').host

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void handle(req, res).catch(err => {
      log.warn(`dashboard: ${req.method} ${req.url} failed: ${(err as Error).message}`)
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'EIO', message: (err as Error).message } })
      else res.destroy()
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('X-Content-Type-Options', 'nosniff')
    res.setHeader('Referrer-Policy', 'no-referrer')
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' })
      res.end('dfs dashboard: read-only; only GET and HEAD\n')
      return
    }
    const url = requestUrl(req.url ?? '/')
    if (!url) {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end('dfs dashboard: the request names no path on this server\n')
      return
    }
    if (!guard && !hostAllowed(req.headers.host, listenHost)) {
      res.writeHead(421, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end('dfs dashboard: reach it by a loopback address (127.0.0.1, localhost)\n')
      return
    }
    if (guard && guard.check(req, res, url) !== 'ok') return
    const asset = assets.get(url.pathname)
    if (asset) return sendAsset(res, asset)
    if (url.pathname === '/api/live') return live.open(req, res)
    const route = Object.hasOwn(routes, url.pathname) ? routes[url.pathname] : undefined
    if (!route) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end(`dfs dashboard: no page ${url.pathname}\n`)
      return
    }
    try {
      await route(url.searchParams, res)
    } catch (err) {
      if (res.headersSent) throw err
      const given = (err as { code?: unknown }).code
      const code = typeof given === 'string' ? given : 'EIO'
      sendJson(res, httpStatusOf(code), { error: { code, message: (err as Error).message } })
    }
  }

  const address = addressOf(server)
  let closing: Promise<void> | undefined
  return {
    address,
    url: `http://${address}/`,
    close() {
      closing ??= new Promise<void>(resolve => {
        live.close()
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}

/**
 * The request target as a URL on this server, or undefined when it is none. A target is a path
 * (`/api/ls?…`), or a whole URL as sent to a proxy; never resolved against a base, where `//x/…`
 * or `/\\x/…` would name another host and lose what follows it.
 */
export function requestUrl(target: string): URL | undefined {
  const text = target.startsWith('/') ? `http://dashboard${target}` : /^https?:\/\//i.test(target) ? target : undefined
  if (text === undefined || !URL.canParse(text)) return undefined
  return new URL(text)
}

type Route = (query: URLSearchParams, res: ServerResponse) => Promise<void>

function apiRoutes(opts: DashboardOptions): Record<string, Route> {
  const { host } = opts
  return {
    '/api/status': async (_q, res) => sendJson(res, 200, await opts.status()),
    '/api/events': async (q, res) => {
      const after = intParam(q, 'after', 0)
      const limit = Math.min(intParam(q, 'limit', 500, 1), 500)
      sendJson(res, 200, host.events.recent(limit, after))
    },
    '/api/ls': async (q, res) => {
      const after = q.get('after') ?? undefined
      const limit = intParam(q, 'limit', 500, 1)
      if (limit > LIST_LIMIT_MAX) throw dfsError('BAD_ARGUMENT', `limit ${limit} is above ${LIST_LIMIT_MAX}; page with after=<next>`, { limit })
      sendJson(res, 200, listDirectory(host.cluster.meta.state, pathParam(q), { limit, ...(after !== undefined ? { after } : {}) }))
    },
    '/api/file': async (q, res) => {
      if (!opts.placement) throw dfsError('ENOTSUP', 'this NameNode cannot show file placement', {})
      const from = intParam(q, 'from', 0)
      const limit = intParam(q, 'limit', CHUNK_LIMIT_DEFAULT, 1)
      if (limit > CHUNK_LIMIT_MAX) throw dfsError('BAD_ARGUMENT', `limit ${limit} is above ${CHUNK_LIMIT_MAX}; page with from=<next>`, { limit })
      sendJson(res, 200, await opts.placement(pathParam(q), { from, limit }))
    },
    '/metrics': async (_q, res) => {
      if (!opts.metrics) throw dfsError('ENOTSUP', 'this NameNode has no metrics', {})
      const text = await opts.metrics.render()
      res.writeHead(200, { 'Content-Type': opts.metrics.contentType, 'Cache-Control': 'no-store' })
      res.end(text)
    },
  }
}

/** A file's chunks a page at a time (a 1 TiB file has 256 Ki of them): those with index >= from. */
export const CHUNK_LIMIT_DEFAULT = 1000
export const CHUNK_LIMIT_MAX = 10_000


function pathParam(q: URLSearchParams): string {
  const path = q.get('path') ?? '/'
  if (!path.startsWith('/') || path.length > 4096 || path.includes('\0')) {
    throw dfsError('BAD_ARGUMENT', 'path must be an absolute path in the cluster, such as /photos/2024', { path: path.slice(0, 200) })
  }
  return path
}

/** A whole number >= min (a limit of 0 would page forever: its `next` is where it started). */
function intParam(q: URLSearchParams, name: string, fallback: number, min = 0): number {
  const text = q.get(name)
  if (text === null || text === '') return fallback
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < min) throw dfsError('BAD_ARGUMENT', `${name} must be a whole number${min > 0 ? ` from ${min}` : ''}, not ${JSON.stringify(text.slice(0, 50))}`, { [name]: text.slice(0, 50) })
  return n
}

function httpStatusOf(code: string): number {
  if (code === 'ENOENT') return 404
  if (code === 'ENOTSUP') return 501
  if (['ENOTDIR', 'EISDIR', 'EINVAL', 'BAD_ARGUMENT', 'ENAMETOOLONG'].includes(code)) return 400
  return 500
}

function sendAsset(res: ServerResponse, asset: Asset): void {
  res.writeHead(200, {
    'Content-Type': asset.type,
    'Content-Length': asset.body.length,
    'Cache-Control': 'no-cache',
    // Everything comes from this server; no inline script.
    'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  })
  res.end(asset.body)
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

/** The Host header names loopback (or exactly the address bound), not some other name. */
function hostAllowed(header: string | undefined, listenHost: string): boolean {
  if (!header) return true // HTTP/1.0 tools send none; a browser always does
  const name = header.startsWith('[') ? header.slice(1, header.indexOf(']')) : header.replace(/:\d+$/, '')
  return isLoopback(name) || name === listenHost
}

function addressOf(server: Server): string {
  const a = server.address() as AddressInfo
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`
}
