// The erasure-coding figures of `npm run bench` (--no-ec skips them): one cluster of 6 local-folder
// nodes on the bench's disk, three folders on its mount with three storage policies set the way a
// user sets them (setfattr -n user.dfs.policy), and the same big file written into each:
//
//   replicas:2  the baseline: every ratio below is to R = 2 on the same 6 nodes, measured in the same run
//   ec:2+1      3 shards per chunk, 1.5 bytes stored per byte
//   ec:4+2      6 shards per chunk (one on every node), 1.5 bytes stored per byte, survives 2 nodes lost
//
// Per run: the sequential write of each (dd conv=fsync), then a cold read of each (daemon restarted so
// its chunk cache is empty, page cache dropped before each dd); which policy goes first rotates from
// run to run. Once, after the runs: the bytes the
// node folders hold per byte of file data for each policy (what the writes of run 1 added), and a
// degraded read of each with node_1 gone (its folder moved away; the healer's grace is an hour, so
// nothing is rebuilt while it is measured): R = 2 reads the other copy, EC rebuilds from any k shards.

import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { status } from './cluster.js'
import { DfsDaemon, type DaemonConfig, waitIdle } from './daemon.js'
import { dropCaches } from './machine.js'
import { dd } from './measure.js'
import { run } from './proc.js'
import { fmt, fmtRatio, median, renderTable } from './report.js'

export const EC_NODES = 6
const MiB = 2 ** 20

interface Policy {
  /** The folder on the mount, and the xattr value. */
  dir: string
  policy: string
  /** Bytes stored per byte of data, in theory. */
  nominal: number
}
const POLICIES: readonly Policy[] = [
  { dir: 'r2', policy: 'replicas:2', nominal: 2 },
  { dir: 'ec21', policy: 'ec:2+1', nominal: 1.5 },
  { dir: 'ec42', policy: 'ec:4+2', nominal: 1.5 },
]

export interface EcBenchInput {
  repoRoot: string
  work: string
  source: string
  size: number
  sizeLabel: string
  runs: number
  cache?: string
  dirty?: string
  logDir: string
  cpuProfDir?: string
  progress: (message: string) => void
}

/** Disk the EC figures need besides the main run's: 2 + 1.5 + 1.5 times the file, plus slack. */
export function ecDiskNeed(size: number): number {
  return Math.ceil(size * POLICIES.reduce((sum, p) => sum + p.nominal, 0) * 1.02) + 64 * MiB
}

let current: DfsDaemon | undefined

/** Stop the EC cluster's daemon if one runs (the bench's cleanup, also on Ctrl-C). */
export async function stopEcRun(): Promise<void> {
  await current?.stop()
  current = undefined
}

/** SIGKILL (a second Ctrl-C). */
export function killEcRun(): void {
  current?.kill()
}

export async function ecFigures(input: EcBenchInput): Promise<string[]> {
  const root = join(input.work, 'ec')
  const nodes = Array.from({ length: EC_NODES }, (_, i) => join(root, `node_${i + 1}`))
  const meta = join(root, 'meta')
  const mnt = join(root, 'mnt')
  for (const d of [...nodes, meta, mnt]) await mkdir(d, { recursive: true })
  const config: DaemonConfig = {
    repoRoot: input.repoRoot, mountpoint: mnt, nodes, meta, replicas: 2, cache: input.cache, dirty: input.dirty,
    logDir: input.logDir, cpuProfDir: input.cpuProfDir,
    // No scrubbing, and no healing within the degraded read (a node gone for less than an hour).
    extraArgs: ['--scrub-rate', '0', '--heal-grace', '1h'],
  }
  const start = async () => (current = await DfsDaemon.start(config))
  const restart = async () => {
    await stopEcRun()
    return start()
  }
  // As the main table: before each measurement, and before counting stored bytes, the daemon is idle.
  const quiet = () => waitIdle([current])

  input.progress(`EC: mounting ${EC_NODES} local-folder nodes, folders ${POLICIES.map(p => `${p.dir} (${p.policy})`).join(', ')}`)
  await start()
  for (const p of POLICIES) {
    await run('mkdir', [join(mnt, p.dir)])
    await run('setfattr', ['-n', 'user.dfs.policy', '-v', p.policy, join(mnt, p.dir)])
  }

  const write = POLICIES.map(() => [] as number[])
  const read = POLICIES.map(() => [] as number[])
  const stored = POLICIES.map(() => NaN)
  let measured = POLICIES.map(() => NaN)
  const file = (p: Policy) => join(mnt, p.dir, 'big.bin')
  try {
    for (let r = 1; r <= input.runs; r++) {
      const tag = `EC run ${r}/${input.runs}`
      if (r > 1) {
        for (const p of POLICIES) await run('rm', ['-f', file(p)])
        // Deletes happen once the unlink is in the durable journal (synced every second).
        await new Promise(resolve => setTimeout(resolve, 2500))
      }
      await run('sync', [])
      await run('dd', [`if=${input.source}`, 'of=/dev/null', 'bs=1M'])
      for (const [i, p] of inTurn(r)) {
        await quiet()
        const before = await bytesOnNodes(nodes)
        write[i]!.push(await dd([`if=${input.source}`, `of=${file(p)}`, 'conv=fsync'], input.size))
        input.progress(`${tag}: ${p.policy.padEnd(10)} write ${fmt(write[i]!.at(-1)!)} MB/s`)
        if (r === 1) {
          await quiet() // pieces still in flight after fsync (an EC write is durable with k of k + m shards)
          stored[i] = ((await bytesOnNodes(nodes)) - before) / input.size
        }
      }
      if (r === 1) {
        // dfs's own figure: bytes the chunk map records on nodes ÷ bytes of file data, per layout in use.
        const overhead = (await status(mnt)).overhead ?? []
        measured = POLICIES.map(p => overhead.find(o => o.layout === p.policy)?.overhead ?? NaN)
      }
      await restart()
      for (const [i, p] of inTurn(r)) {
        await quiet()
        await dropCaches()
        read[i]!.push(await dd([`if=${file(p)}`, 'of=/dev/null'], input.size))
        input.progress(`${tag}: ${p.policy.padEnd(10)} cold read ${fmt(read[i]!.at(-1)!)} MB/s`)
      }
    }

    // Degraded: a fresh daemon (empty chunk cache), then node_1's folder goes.
    await restart()
    const away = `${nodes[0]}.away`
    await rename(nodes[0]!, away)
    const degraded: number[] = []
    try {
      for (const p of POLICIES) {
        await quiet()
        await dropCaches()
        degraded.push(await dd([`if=${file(p)}`, 'of=/dev/null'], input.size))
        input.progress(`EC: ${p.policy.padEnd(10)} degraded read (node_1 gone) ${fmt(degraded.at(-1)!)} MB/s`)
      }
    } finally {
      await rename(away, nodes[0]!)
    }

    const med = (xs: number[][]) => xs.map(median)
    return renderEcFigures({ sizeLabel: input.sizeLabel, runs: input.runs, write: med(write), read: med(read), degraded, stored, measured })
  } finally {
    await stopEcRun()
    await rm(root, { recursive: true, force: true })
  }
}

export interface EcMedians {
  sizeLabel: string
  runs: number
  /** Per policy, in POLICIES' order (replicas:2, ec:2+1, ec:4+2): MB/s medians, the degraded read, stored bytes per byte. */
  write: number[]
  read: number[]
  degraded: number[]
  stored: number[]
  /** The same as dfs status measures it (its overhead per layout). */
  measured: number[]
}

/** The EC table: each policy's figure and the EC ones as ratios to R = 2 (higher is better, but for stored bytes). */
export function renderEcFigures(m: EcMedians): string[] {
  const rate = (figure: string, xs: number[]) => [figure, ...xs.map(x => fmt(x, 0)), ...xs.slice(1).map(x => fmtRatio(x / xs[0]!))]
  const rows = [
    rate(`sequential write ${m.sizeLabel} (conv=fsync), MB/s`, m.write),
    rate(`cold read ${m.sizeLabel}, MB/s`, m.read),
    rate('degraded read, node_1 gone, MB/s', m.degraded),
    ['stored bytes per byte of data', ...m.stored.map(x => fmt(x, 2)), ...m.stored.slice(1).map(x => fmtRatio(x / m.stored[0]!))],
    ['  as dfs status measures it', ...m.measured.map(x => fmt(x, 2)), ...m.measured.slice(1).map(x => fmtRatio(x / m.measured[0]!))],
    ['  nominal', ...POLICIES.map(p => fmt(p.nominal, 2)), ...POLICIES.slice(1).map(p => fmtRatio(p.nominal / POLICIES[0]!.nominal))],
  ]
  const names = POLICIES.map(p => p.policy)
  return [
    '',
    `erasure coding: ${EC_NODES} local-folder nodes on the same disk, one folder per policy (user.dfs.policy), ` +
      `the same ${m.sizeLabel} file in each; ratios to replicas:2 on the same nodes in the same run` +
      `${m.runs > 1 ? ` (medians of ${m.runs} runs; the degraded read and stored bytes once)` : ''}:`,
    renderTable(['figure', ...names, ...names.slice(1).map(n => `${n} ÷ R=2`)], rows, [false, true, true, true, true, true]),
    '',
    '  write: dd bs=1M conv=fsync into each folder; cold read: the daemon restarted (empty chunk cache), caches dropped before each dd',
    '  degraded read: a fresh daemon, then node_1\'s folder moved away; replicas:2 reads the other copy, EC rebuilds each stripe from any k shards',
    '  stored bytes: what the node folders gained in chunk files during run 1\'s write of each file ÷ the file\'s size;',
    '    dfs status: its overhead per layout in use (bytes the chunk map records on nodes ÷ bytes of file data), after run 1\'s writes',
  ]
}

/**
 * The policies with their indices, the first one moved to the end each run: with --runs 3 each is
 * measured first once (the first read after a restart, the first write after the last run's deletes).
 */
function inTurn(run: number): [number, Policy][] {
  const all = [...POLICIES.entries()]
  const shift = (run - 1) % all.length
  return [...all.slice(shift), ...all.slice(0, shift)]
}

/** Bytes in chunk files across the node folders (<node>/chunks/xx/<32 hex digits>). */
export async function bytesOnNodes(nodes: string[]): Promise<number> {
  let bytes = 0
  for (const node of nodes) {
    for (const sub of await readdir(join(node, 'chunks')).catch(() => [] as string[])) {
      for (const name of await readdir(join(node, 'chunks', sub)).catch(() => [] as string[])) {
        if (/^[0-9a-f]{32}$/.test(name)) bytes += (await stat(join(node, 'chunks', sub, name)).catch(() => ({ size: 0 }))).size
      }
    }
  }
  return bytes
}
