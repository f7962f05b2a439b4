// The dashboard's token (--http-token-file): every request carries it, as `Authorization: Bearer <t>`
// or, for a browser, in a cookie. A link with `?token=<t>` sets the cookie once and redirects to the
// same address without it (EventSource cannot send headers, and the token should not stay in the
// address bar or the history). Compared in constant time: both sides are hashed first, so not even
// the length leaks.
// A browser keeps cookies by host name, not by port: every server on 127.0.0.1 (another dashboard,
// anything else listening there) is sent the cookie of each. So the cookie is named after the port
// the browser reached (two dashboards on one host do not log each other out), and holds a value
// derived from the token, not the token: whoever else receives it learns nothing to use elsewhere.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { dfsError } from '../errors.js'

const COOKIE = 'dfs_dashboard'

export type Verdict = 'ok' | 'redirected' | 'refused'

export class TokenGuard {
  private readonly digest: Buffer
  /** What the cookie holds: proof of the token, not the token. */
  private readonly cookie: string
  private readonly cookieDigest: Buffer

  /** BAD_ARGUMENT when no request could carry the token (see checkToken); `source` names where it came from. */
  constructor(token: Buffer, source = 'the dashboard token') {
    checkToken(token, source)
    this.digest = sha256(token)
    this.cookie = createHmac('sha256', token).update('dfs dashboard cookie').digest('base64url')
    this.cookieDigest = sha256(Buffer.from(this.cookie))
  }

  private matches(candidate: string | undefined, digest = this.digest): boolean {
    return candidate !== undefined && timingSafeEqual(sha256(Buffer.from(candidate)), digest)
  }

  /** Let the request through, answer it with the cookie and a redirect, or refuse it (401). */
  check(req: IncomingMessage, res: ServerResponse, url: URL): Verdict {
    const query = url.searchParams.get('token')
    if (query !== null) {
      if (!this.matches(query)) return refuse(res, true)
      url.searchParams.delete('token')
      res.writeHead(303, {
        // Lax, not Strict: a link from another site (a wiki, Grafana) must open the page. Safe here:
        // no request changes anything, and other sites' scripts, frames and fetches get no cookie.
        'Set-Cookie': `${cookieName(req)}=${this.cookie}; HttpOnly; SameSite=Lax; Path=/`,
        // One slash first: `//evil.example/` would send the browser to another host.
        Location: '/' + url.pathname.replace(/^\/+/, '') + url.search,
        'Cache-Control': 'no-store',
      })
      res.end()
      return 'redirected'
    }
    // The scheme is case-insensitive (RFC 9110): curl, Prometheus and proxies spell it either way.
    const bearer = /^Bearer +(.+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const cookie = cookieOf(req, cookieName(req))
    if (this.matches(bearer) || this.matches(cookie, this.cookieDigest)) return 'ok'
    return refuse(res, bearer !== undefined || cookie !== undefined)
  }
}

/** Node takes 16 KiB of headers in all; a token far below that, with room for the rest of them. */
export const TOKEN_MAX_BYTES = 4096

/**
 * A token must be one a header can carry as it is: printable ASCII, no space at either end (an
 * HTTP header loses those, and a byte past 0x7e reaches the server as another character). A file
 * of raw random bytes, or one with a stray space, would make a dashboard no request can open.
 */
export function checkToken(token: Buffer, source: string): void {
  const bad = token.findIndex(byte => byte < 0x20 || byte > 0x7e)
  const edge = token[0] === 0x20 || token[token.length - 1] === 0x20
  if (token.length > 0 && token.length <= TOKEN_MAX_BYTES && bad < 0 && !edge) return
  const why = token.length === 0 ? 'is empty'
    : token.length > TOKEN_MAX_BYTES ? `is ${token.length} bytes long, more than a request's headers carry (at most ${TOKEN_MAX_BYTES})`
    : bad >= 0 ? `holds a byte no HTTP header can carry (0x${token[bad]!.toString(16).padStart(2, '0')} at offset ${bad})`
      : 'starts or ends with a space, which an HTTP header drops'
  throw dfsError('BAD_ARGUMENT', `${source} ${why}; make one of printable characters: (umask 077; head -c 32 /dev/urandom | base64 > <file>)`, { token: source })
}

/** `sent`: a token came and is not the one (a stale cookie, a token file replaced since), not none at all. */
function refuse(res: ServerResponse, sent: boolean): Verdict {
  res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'WWW-Authenticate': 'Bearer', 'Cache-Control': 'no-store' })
  const what = sent ? 'the token sent is not the one in --http-token-file' : 'a token is required'
  res.end(`dfs dashboard: ${what} (Authorization: Bearer <token>, or open /?token=<token> once)\n`)
  return 'refused'
}

/** dfs_dashboard_<port>: the port the browser reached (its Host header; behind a tunnel or proxy, not ours). */
function cookieName(req: IncomingMessage): string {
  const port = /:(\d{1,5})$/.exec(req.headers.host ?? '')?.[1] ?? String(req.socket.localPort ?? '')
  return port ? `${COOKIE}_${port}` : COOKIE
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest()
