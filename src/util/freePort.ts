/**
 * A loopback port for a server another process starts later (a DataNode, a NameNode to promote), when
 * its address must be known before it exists.
 *
 * Why not `listen(0)` and let go: that port comes from the kernel's ephemeral range, which every
 * outgoing connection and every `listen(0)` on the machine draws from, so between letting go and the
 * child's bind something else may take it (it happened in CI: "port 46797 is in use"). A port below
 * that range is only ever taken by someone asking for it by number, so the one risk left is another
 * caller of this function picking the same number at random, and a port this process handed out is
 * never handed out twice.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

const LOWEST = 10_000
/** Linux's default ip_local_port_range starts here; used where /proc cannot be read. */
const DEFAULT_EPHEMERAL_LOW = 32_768
const handedOut = new Set<number>()

/** The first port of the kernel's ephemeral range. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) && low > LOWEST ? low : DEFAULT_EPHEMERAL_LOW
  } catch {
    return DEFAULT_EPHEMERAL_LOW
  }
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise(resolve => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
}

/** A port on host that nothing listens on now and that no other caller in this process was given. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const high = ephemeralLow() - 1
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (high - LOWEST + 1))
    if (handedOut.has(port)) continue
    handedOut.add(port)
    if (await canListen(port, host)) return port
  }
  throw new Error(`no free port on ${host} between ${LOWEST} and ${high} after 200 tries`)
}
