// The cluster figures of `npm run bench`, after the native comparison:
//   - throughput with three `dfs datanode` servers on loopback, as a ratio to the local-folder nodes
//     measured earlier in the same run;
//   - how long the daemon takes to notice a DataNode killed with -9 and one frozen with SIGSTOP;
//   - how fast the healer restores two copies after `rm -rf node_1` (healer bandwidth unlimited).
// Health and healer progress come from the daemon's control socket, polled every 20 ms.

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { callControl } from '../daemon/control.js'
import { daemonFor } from '../daemon/registry.js'
import type { ClusterStatus } from '../namenode/status.js'
import { freePort } from '../util/freePort.js'
import { DfsDaemon, type DaemonConfig } from './daemon.js'
import { dropCaches } from './machine.js'
import { run, sleep } from './proc.js'
import { fmt, renderTable } from './report.js'

const TARGET_TCP_RATIO = 0.7
const TARGET_HUNG_DETECT_MS = 3_000
const TARGET_REPLICATION_MB_S = 200

export interface ClusterBenchInput {
  repoRoot: string
  work: string
  source: string
  size: number
  /** The local-folder cluster of the main run (its nodes hold the file written there). */
  local: DaemonConfig
  /** Medians measured on the local-folder cluster, MB/s. */
  localWrite: number
  localRead: number
  progress: (message: string) => void
}

const servers = new Set<ChildProcess>()

/** Stop every DataNode server this module started (also on Ctrl-C, from the bench's cleanup). */
export async function stopServers(): Promise<void> {
  for (const child of servers) {
    child.kill('SIGCONT')
    child.kill('SIGTERM')
  }
  await sleep(200)
  servers.clear()
}

export async function clusterFigures(input: ClusterBenchInput): Promise<string[]> {
  const tcp = await tcpFigures(input)
  const replication = await replicationFigure(input)
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS')
  const rows = [
    ['sequential write, MB/s', fmt(input.localWrite, 0), fmt(tcp.write, 0), `${(tcp.write / input.localWrite).toFixed(2)}×`, `≥ ${TARGET_TCP_RATIO}× local`, verdict(tcp.write / input.localWrite >= TARGET_TCP_RATIO)],
    ['cold read, MB/s', fmt(input.localRead, 0), fmt(tcp.read, 0), `${(tcp.read / input.localRead).toFixed(2)}×`, `≥ ${TARGET_TCP_RATIO}× local`, verdict(tcp.read / input.localRead >= TARGET_TCP_RATIO)],
  ]
  const events = [
    ['kill -9 of a DataNode server noticed after', `${fmt(tcp.killDetectMs, 0)} ms`, 'at once (closed connection)', '—'],
    ['SIGSTOP of a DataNode server noticed after', `${fmt(tcp.stopDetectMs, 0)} ms`, `≤ ${TARGET_HUNG_DETECT_MS} ms`, verdict(tcp.stopDetectMs <= TARGET_HUNG_DETECT_MS)],
    [`re-replication after rm -rf node_1 (${fmt(replication.bytes / 2 ** 20, 0)} MiB copied)`, `${fmt(replication.mbPerSec, 0)} MB/s`, `≥ ${TARGET_REPLICATION_MB_S} MB/s`, verdict(replication.mbPerSec >= TARGET_REPLICATION_MB_S)],
  ]
  return [
    '',
    'DataNode servers over TCP (3 × `dfs datanode` on 127.0.0.1, folders on the same disk) vs the local-folder nodes above:',
    renderTable(['figure', 'local nodes', 'tcp nodes', 'tcp vs local', 'target', 'result'], rows, [false, true, true, true, false, false]),
    '',
    'faults and healing:',
    renderTable(['figure', 'measured', 'target', 'result'], events, [false, true, false, false]),
    '',
    '  detection: time from the signal to the node leaving "alive" in the daemon\'s status (heartbeat 500 ms, --suspect-after 2s)',
    `  re-replication: local-folder cluster holding the ${fmt(input.size / 2 ** 20, 0)} MiB file, --dead-after 2s --heal-grace 1s --heal-bandwidth 0;` +
      ' MB/s = bytes the healer copied ÷ time from its first copy to no chunk under-replicated',
  ]
}

// ---- DataNode servers ----------------------------------------------------------------------------

function startServer(repoRoot: string, dir: string, port: number, secret: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'dfs.js'), 'datanode', '--dir', dir, '--listen', `127.0.0.1:${port}`, '--secret-file', secret], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  servers.add(child)
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d
      if (out.includes('serving')) resolve(child)
    })
    child.stderr!.on('data', (d: Buffer) => (out += d))
    child.once('exit', code => {
      servers.delete(child)
      reject(new Error(`dfs datanode on port ${port} exited (${code}): ${out}`))
    })
  })
}

/** The status of the daemon serving mountpoint, from its control socket (what `dfs status --json` prints). */
export async function status(mountpoint: string): Promise<ClusterStatus> {
  const daemon = await daemonFor(mountpoint)
  if (!daemon) throw new Error(`no dfs daemon serves ${mountpoint}`)
  return (await callControl(daemon.control, 'status')) as ClusterStatus
}

/** Milliseconds until the node at address leaves "alive" (or `to` is reached), polled every 20 ms. */
async function timeUntil(mountpoint: string, address: string, done: (health: string) => boolean, since: number, limitMs = 30_000): Promise<number> {
  for (;;) {
    const node = (await status(mountpoint)).nodes.find(n => n.address === address)
    if (node && done(node.health)) return Date.now() - since
    if (Date.now() - since > limitMs) throw new Error(`node ${address} did not change within ${limitMs / 1000} s`)
    await sleep(20)
  }
}

async function tcpFigures(input: ClusterBenchInput) {
  const root = join(input.work, 'tcp')
  const secret = join(root, 'secret')
  const dirs = [1, 2, 3].map(i => join(root, `node_${i}`))
  const meta = join(root, 'meta')
  const mnt = join(root, 'mnt')
  for (const d of [...dirs, meta, mnt]) await mkdir(d, { recursive: true })
  await writeFile(secret, 'bench cluster secret\n', { mode: 0o600 })
  const ports = [await freePort(), await freePort(), await freePort()]
  const addresses = ports.map(p => `tcp://127.0.0.1:${p}`)
  const procs = await Promise.all(dirs.map((d, i) => startServer(input.repoRoot, d, ports[i], secret)))
  const config: DaemonConfig = { ...input.local, mountpoint: mnt, nodes: addresses, meta, extraArgs: ['--secret-file', secret] }

  input.progress('TCP nodes: mounting over 3 dfs datanode servers')
  let daemon = await DfsDaemon.start(config)
  try {
    await run('dd', [`if=${input.source}`, 'of=/dev/null', 'bs=1M'])
    const write = await ddRate([`if=${input.source}`, `of=${join(mnt, 'big.bin')}`, 'bs=1M', 'conv=fsync'], input.size)
    input.progress(`TCP nodes: write ${fmt(write, 0)} MB/s`)
    await daemon.stop()
    daemon = await DfsDaemon.start(config)
    await dropCaches()
    const read = await ddRate([`if=${join(mnt, 'big.bin')}`, 'of=/dev/null', 'bs=1M'], input.size)
    input.progress(`TCP nodes: cold read ${fmt(read, 0)} MB/s`)

    input.progress('TCP nodes: kill -9 of node 3')
    let at = Date.now()
    procs[2].kill('SIGKILL')
    const killDetectMs = await timeUntil(mnt, addresses[2], h => h !== 'alive', at)
    procs[2] = await startServer(input.repoRoot, dirs[2], ports[2], secret)
    await timeUntil(mnt, addresses[2], h => h === 'alive', Date.now())

    input.progress('TCP nodes: SIGSTOP of node 2')
    at = Date.now()
    procs[1].kill('SIGSTOP')
    const stopDetectMs = await timeUntil(mnt, addresses[1], h => h !== 'alive', at)
    procs[1].kill('SIGCONT')
    await timeUntil(mnt, addresses[1], h => h === 'alive', Date.now())
    return { write, read, killDetectMs, stopDetectMs }
  } finally {
    await daemon.stop()
    await stopServers()
    await rm(root, { recursive: true, force: true })
  }
}

async function ddRate(args: string[], bytes: number): Promise<number> {
  const start = performance.now()
  await run('dd', args)
  return bytes / 1e6 / ((performance.now() - start) / 1000)
}

// ---- re-replication ------------------------------------------------------------------------------

async function replicationFigure(input: ClusterBenchInput): Promise<{ bytes: number; mbPerSec: number }> {
  const config: DaemonConfig = {
    ...input.local,
    extraArgs: ['--dead-after', '2s', '--suspect-after', '1s', '--heal-grace', '1s', '--heal-bandwidth', '0', '--scrub-rate', '0'],
  }
  input.progress('re-replication: mounting the local-folder cluster, then rm -rf node_1')
  const daemon = await DfsDaemon.start(config)
  try {
    await rm(config.nodes[0], { recursive: true, force: true })
    let firstCopyAt = 0
    const deadline = Date.now() + 300_000
    for (;;) {
      const s = await status(config.mountpoint)
      const healer = s.healer!
      if (!firstCopyAt && healer.copiedBytes > 0) firstCopyAt = Date.now()
      if (firstCopyAt && healer.underReplicated === 0 && healer.queued === 0 && healer.state === 'idle') {
        const seconds = (Date.now() - firstCopyAt) / 1000
        input.progress(`re-replication: ${fmt(healer.copiedBytes / 2 ** 20, 0)} MiB in ${fmt(seconds)} s`)
        return { bytes: healer.copiedBytes, mbPerSec: healer.copiedBytes / 1e6 / Math.max(seconds, 0.001) }
      }
      if (Date.now() > deadline) throw new Error('the healer did not finish within 5 minutes')
      await sleep(20)
    }
  } finally {
    await daemon.stop()
  }
}
