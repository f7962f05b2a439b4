// The dashboard's token (--http-token-file): every request carries it, as `Authorization: Bearer <t>`
// or, for a browser, in a cookie. A link with `?token=<t>` sets the cookie once and redirects to the
// same address without it (EventSource cannot send headers, and the token should not stay in the
// address bar or the history). Compared in constant time: both sides are hashed first, so not even
// the length leaks.

import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'

const COOKIE = 'dfs_dashboard'

export type Verdict = 'ok' | 'redirected' | 'refused'

export class TokenGuard {
  private readonly digest: Buffer

  constructor(token: Buffer) {
    this.digest = sha256(token)
  }

  private matches(candidate: string | undefined): boolean {
    return candidate !== undefined && timingSafeEqual(sha256(Buffer.from(candidate)), this.digest)
  }

  /** Let the request through, answer it with the cookie and a redirect, or refuse it (401). */
  check(req: IncomingMessage, res: ServerResponse, url: URL): Verdict {
    const query = url.searchParams.get('token')
    if (query !== null) {
      if (!this.matches(query)) return refuse(res, true)
      url.searchParams.delete('token')
      res.writeHead(303, {
        'Set-Cookie': `${COOKIE}=${encodeURIComponent(query)}; HttpOnly; SameSite=Strict; Path=/`,
        Location: url.pathname + url.search,
        'Cache-Control': 'no-store',
      })
      res.end()
      return 'redirected'
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    const cookie = cookieOf(req)
    if (this.matches(bearer) || this.matches(cookie)) return 'ok'
    return refuse(res, bearer !== undefined || cookie !== undefined)
  }
}

/** `sent`: a token came and is not the one (a stale cookie, a token file replaced since), not none at all. */
function refuse(res: ServerResponse, sent: boolean): Verdict {
  res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'WWW-Authenticate': 'Bearer', 'Cache-Control': 'no-store' })
  const what = sent ? 'the token sent is not the one in --http-token-file' : 'a token is required'
  res.end(`dfs dashboard: ${what} (Authorization: Bearer <token>, or open /?token=<token> once)\n`)
  return 'refused'
}

function cookieOf(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim())
      } catch {
        return undefined
      }
    }
  }
  return undefined
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest()
