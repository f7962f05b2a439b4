// --http <host:port> and --http-token-file <file> (dfs namenode, the embedded dfs mount), checked
// before anything is opened: the dashboard shows the whole cluster (node addresses, file names), so
// it binds loopback unless a token guards it.

import { isIP } from 'node:net'
import { parseHostPort } from '../datanode/tcp/protocol.js'
import { readSecretFile } from '../datanode/tcp/secret.js'
import { dfsError } from '../errors.js'
import { checkToken } from './auth.js'

export interface HttpFlags {
  http?: string
  httpTokenFile?: string
}

export interface HttpSettings {
  listen: string
  /** Every request must carry it when set. */
  token?: Buffer
}

/** The address an --http error shows as the fix (the README's and the demo's). */
const HTTP_EXAMPLE = '127.0.0.1:8080'

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase()
  if (h === 'localhost' || h === '::1') return true
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h
  return isIP(v4) === 4 && v4.split('.')[0] === '127'
}

/** Only the address: the flags parse and may go together (nothing read, nothing opened). */
export function checkHttpFlags(flags: HttpFlags): void {
  if (flags.http === undefined) {
    if (flags.httpTokenFile !== undefined) throw dfsError('BAD_ARGUMENT', '--http-token-file goes with --http <host:port> (the dashboard); add --http or drop it', { flag: '--http-token-file' })
    return
  }
  requireTokenOffLoopback(flags.http, flags.httpTokenFile !== undefined)
}

/** The rule: an address other than loopback only with a token (HTTP_NOT_LOOPBACK). */
export function requireTokenOffLoopback(listen: string, hasToken: boolean): void {
  const { host } = parseHostPort(listen, '--http', HTTP_EXAMPLE)
  if (!isLoopback(host) && !hasToken) {
    throw dfsError('HTTP_NOT_LOOPBACK', `--http ${listen} is not a loopback address: anyone who reaches it would see the cluster; bind 127.0.0.1:<port>, or guard it with --http-token-file <file>`, { http: listen })
  }
}

/** The checked flags and the token read from its file (private, like the cluster secret). */
export async function httpSettings(flags: HttpFlags): Promise<HttpSettings | undefined> {
  checkHttpFlags(flags)
  if (flags.http === undefined) return undefined
  const token = flags.httpTokenFile === undefined ? undefined : await readSecretFile(flags.httpTokenFile, '--http-token-file')
  if (token) checkToken(token, `--http-token-file ${flags.httpTokenFile}`)
  return { listen: flags.http, ...(token ? { token } : {}) }
}
