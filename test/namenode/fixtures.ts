// A NameNode host in the test process, on two node folders in dir (openTestHost: what the dashboard
// tests serve), or behind its TCP server (startTestNameNode: what the NameNode, standby and protocol
// tests start). Service timers are slow enough not to interfere.

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { NameNodeHost } from '../../src/namenode/openNameNode.js'
import { NameNodeServer } from '../../src/namenode/server.js'

export const TEST_SECRET = Buffer.from('the cluster secret')

export interface RunningNameNode { host: NameNodeHost; server: NameNodeServer }

const quiet = () => {}

/** `reopenGraceMs`: how long inodes a crash left unnamed wait for their clients (0: none can come back). */
export async function openTestHost(dir: string, opts: { reopenGraceMs?: number } = {}): Promise<NameNodeHost> {
  for (const n of ['n1', 'n2']) mkdirSync(join(dir, n), { recursive: true })
  return NameNodeHost.open({
    meta: join(dir, 'meta'), nodes: [join(dir, 'n1'), join(dir, 'n2')], replicas: 2, cacheBytes: 0, log: quiet, reopenGraceMs: opts.reopenGraceMs ?? 0,
    liveness: { intervalMs: 500, suspectAfterMs: 2000, deadAfterMs: 10_000 },
    healing: { graceMs: 10_000, bandwidthBytesPerSec: 0, orphanGraceMs: 60_000 },
    scrub: { bytesPerSec: 0 },
  })
}

export async function startTestNameNode(dir: string, opts: { port?: number; standbyTimeoutMs?: number; soleLeaseMs?: number; log?: (m: string) => void } = {}): Promise<RunningNameNode> {
  const host = await openTestHost(dir, { reopenGraceMs: 60_000 })
  const server = await NameNodeServer.start({
    host, listen: `127.0.0.1:${opts.port ?? 0}`, secret: TEST_SECRET, log: opts.log ?? quiet, sessionGraceMs: 60_000,
    ...(opts.standbyTimeoutMs === undefined ? {} : { standbyTimeoutMs: opts.standbyTimeoutMs }),
    ...(opts.soleLeaseMs === undefined ? {} : { soleLeaseMs: opts.soleLeaseMs }),
  })
  return { host, server }
}
