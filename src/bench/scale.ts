// The scale figures of `npm run bench` (--scale <files>, default 1,000,000): a namespace of that many
// files, mounted by a real `dfs mount --foreground` daemon, listed and statted through FUSE.
//
// The namespace is built through the store, not through FUSE (a million creates through the mount
// would take the whole run): this process opens the cluster with the store's own code (openCluster,
// as the daemon does) and commits the records a mount would (a mkdir per folder, then a mknod and a
// chunk record per file), then closes the store, which writes its checkpoint. Every file has a chunk
// of its own, of 2 copies, as a real namespace of small files has: each node folder holds two thirds
// of a million chunk files, which is what a mount must cope with (counting them took 7-9 s once, at
// open). Writing two million chunk files through the chunk store would take ten minutes and 8 GiB,
// so the chunks of one folder share their bytes: one real 4 KiB chunk per folder is written through
// the chunk store, and each file's chunk is a new id whose copies are hard links to that chunk's
// files on the same nodes (same bytes, so the same SHA-256: every copy is a valid chunk, and the
// healer has nothing to repair). Only the bytes on disk are shared; names, ids and refs are per file.
//
// Then, with the daemon:
//   mount      wall time from starting the daemon to its `dfs: mounted` line (node start-up included)
//   RSS        the daemon's VmRSS after mounting, after the walk, and its peak (VmHWM) over the run
//   ls -lR     `ls -lR <mnt> > /dev/null` (every folder listed, every file statted), the first walk
//              after mounting: entries per second of wall time, and the daemon's CPU during it
//   checkpoint a child lstat-ing file after file (statLoop.ts) while the daemon writes a checkpoint
//              (asked for over the control socket): the longest lstat that overlapped it

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { forEachLimit } from '../util/forEachLimit.js'
import { newChunkId } from '../datanode/chunkId.js'
import { chunkFilePath } from '../datanode/identity.js'
import { link, mkdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { openCluster } from '../cluster/openCluster.js'
import { callControl } from '../daemon/control.js'
import { controlSocketPath } from '../daemon/registry.js'
import type { ChunkRef } from '../meta/namespace/types.js'
import { DfsDaemon } from './daemon.js'
import { TOOL_ENV } from './measure.js'
import { run, sleep } from './proc.js'
import { fmt } from './report.js'

const MiB = 2 ** 20
const FILES_PER_DIR = 1000
const S_IFREG = 0o100000
const S_IFDIR = 0o040000
/** Commits between syncs while building: the journal's queue stays small. */
const SYNC_EVERY = 20_000
/** Hard links made at once while building. */
const LINKS_IN_FLIGHT = 32

// Targets from the issue.
const TARGET_MOUNT_S = 5
const TARGET_RSS = 1024 * MiB
const TARGET_STAT_RATE = 5000
const TARGET_STALL_MS = 50

export interface ScaleOptions {
  repoRoot: string
  /** A fresh folder for the cluster (removed by the caller with the rest of the work folder). */
  work: string
  files: number
  logDir: string
  progress: (message: string) => void
  cpuProfDir?: string
  /** Keep the cluster (and build none when `work` holds one already): the standalone runner's --keep. */
  keep?: boolean
  /** false: no ls -lR (the standalone runner's --no-walk, to look at mounting and checkpoints alone). */
  walk?: boolean
}

export interface ScaleFigures {
  files: number
  dirs: number
  buildS: number
  checkpointBytes: number
  mountS: number
  /** The daemon's CPU time when it said it was mounted: what mounting cost it, whatever else the machine did. */
  mountCpu: { process: number; main: number } | null
  rssMounted: number
  rssWalked: number
  hwm: number
  walkS: number
  walkCpu: { process: number; main: number } | null
  checkpointS: number
  statCalls: number
  statDuringCheckpoint: number
  longestStatDuringCheckpointMs: number
  longestStatOtherwiseMs: number
}

export const scaleDirName = (i: number) => `d${String(i).padStart(4, '0')}`
export const scaleFileName = (i: number) => `f${String(i).padStart(4, '0')}`

/** Build the namespace, mount it, measure; the report's lines. */
export async function scaleFigures(opts: ScaleOptions): Promise<string[]> {
  return renderScale(await measureScale(opts))
}

export async function measureScale(opts: ScaleOptions): Promise<ScaleFigures> {
  const { work, files, progress } = opts
  const nodes = [1, 2, 3].map(i => join(work, `node_${i}`))
  const meta = join(work, 'meta')
  const mnt = join(work, 'mnt')
  for (const d of [...nodes, meta, mnt]) await mkdir(d, { recursive: true })
  const dirs = Math.ceil(files / FILES_PER_DIR)

  const reuse = opts.keep === true && (await stat(join(meta, 'checkpoint.json')).catch(() => undefined)) !== undefined
  progress(`scale: ${reuse ? 'reusing' : 'building'} a namespace of ${fmt(files, 0)} files in ${fmt(dirs, 0)} folders through the store`)
  const buildStarted = performance.now()
  if (!reuse) await buildNamespace({ meta, nodes, files, dirs })
  const buildS = (performance.now() - buildStarted) / 1000
  const checkpointBytes = (await stat(join(meta, 'checkpoint.json'))).size
  progress(`scale: built in ${fmt(buildS, 1)} s (checkpoint ${fmt(checkpointBytes / MiB, 0)} MiB); mounting`)

  const mountStarted = performance.now()
  const daemon = await DfsDaemon.start({
    repoRoot: opts.repoRoot, mountpoint: mnt, nodes, meta, replicas: 2, logDir: opts.logDir, cpuProfDir: opts.cpuProfDir,
  })
  try {
    const mountS = (performance.now() - mountStarted) / 1000
    const mountCpu = daemon.cpu()
    const rssMounted = daemon.memory()?.rss ?? NaN
    progress(`scale: mounted in ${fmt(mountS, 2)} s, RSS ${fmt(rssMounted / MiB, 0)} MiB; ls -lR`)

    // One walk, the first after mounting (a second would take as long again at a million files).
    const cpuBefore = daemon.cpu()
    const walked = opts.walk === false ? { ms: NaN } : await run('sh', ['-c', 'exec ls -lR "$1" > /dev/null', 'sh', mnt], { env: TOOL_ENV })
    const cpuAfter = daemon.cpu()
    const walkS = walked.ms / 1000
    const walkCpu = cpuBefore && cpuAfter ? { process: cpuAfter.process - cpuBefore.process, main: cpuAfter.main - cpuBefore.main } : null
    const rssWalked = daemon.memory()?.rss ?? NaN
    progress(`scale: ls -lR took ${fmt(walkS, 1)} s (${fmt((files + dirs) / walkS, 0)} entries/s); a checkpoint under lstat load`)

    const stalls = await checkpointUnderLoad(opts.repoRoot, mnt, dirs, Math.min(files, FILES_PER_DIR))
    const hwm = daemon.memory()?.hwm ?? NaN
    return {
      files, dirs, buildS, checkpointBytes, mountS, mountCpu, rssMounted, rssWalked, hwm, walkS, walkCpu, ...stalls,
    }
  } finally {
    progress('scale: stopping the daemon (it writes a final checkpoint)')
    await daemon.stop()
    if (!opts.keep) await rm(work, { recursive: true, force: true })
  }
}

/** The namespace, committed through a MetaStore as a mount would, then checkpointed by closing it. */
async function buildNamespace(p: { meta: string; nodes: string[]; files: number; dirs: number }): Promise<void> {
  // No automatic checkpoints while building: the one written at close is the one the mount loads.
  const never = { records: Number.MAX_SAFE_INTEGER, bytes: Number.MAX_SAFE_INTEGER }
  const cluster = await openCluster({ meta: p.meta, nodes: p.nodes, replicas: 2, cacheBytes: 16 * MiB, log: () => {} }, { create: true, checkpointEvery: never })
  try {
    const store = cluster.meta
    const uid = process.getuid?.() ?? 0
    const gid = process.getgid?.() ?? 0
    const time = Date.now()
    let left = p.files
    let pending = 0
    const folderOf = new Map(cluster.settings.nodes.map(n => [n.nodeId, n.address]))
    for (let d = 0; d < p.dirs; d++) {
      const here = Math.min(left, FILES_PER_DIR)
      const shared: ChunkRef = await cluster.chunks.write(randomBytes(4096))
      await cluster.chunks.sync([shared])
      // The folder's first file has the written chunk; every other one a new id linked to its files.
      const refs: ChunkRef[] = Array.from({ length: here }, (_, f) => (f === 0 ? shared : { ...shared, id: newChunkId() }))
      await forEachLimit(refs.slice(1), LINKS_IN_FLIGHT, async (ref) => {
        for (const nodeId of ref.nodes) {
          const folder = folderOf.get(nodeId)!
          await link(chunkFilePath(folder, shared.id), chunkFilePath(folder, ref.id))
        }
      })
      const dir = store.commit({ op: 'mknod', parent: 1, name: scaleDirName(d), mode: S_IFDIR | 0o755, uid, gid, time }) as { ino: number }
      for (let f = 0; f < here; f++) {
        const ref = refs[f]!
        const file = store.commit({ op: 'mknod', parent: dir.ino, name: scaleFileName(f), mode: S_IFREG | 0o644, uid, gid, time }) as { ino: number }
        store.commit({ op: 'chunk', ino: file.ino, index: 0, ref, base: null, size: ref.len, mtime: time, ctime: time })
        pending += 2
      }
      left -= here
      if (pending >= SYNC_EVERY) {
        await store.sync()
        pending = 0
      }
    }
    await store.sync()
  } finally {
    await cluster.close() // checkpoints
  }
}

/**
 * lstat file after file in a child while the daemon writes a checkpoint: the longest call that
 * overlapped the checkpoint, beside the longest before and after it.
 */
async function checkpointUnderLoad(repoRoot: string, mnt: string, dirs: number, perDir: number) {
  const child = spawn(process.execPath, [join(repoRoot, 'dist', 'bench', 'statLoop.js'), mnt, String(dirs), String(perDir)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s))
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s))
  const exited = new Promise<number | null>(resolve => child.once('exit', resolve))
  let window: { from: number; to: number } | undefined
  try {
    // One change through the mount, so the checkpoint has something new to cover even with no walk
    // before it (the walk's directory reads journal their access times).
    await run('touch', [join(mnt, scaleDirName(0), scaleFileName(0))])
    await sleep(2000) // before: the loop's own pace
    const socket = await controlSocketPath(mnt)
    const from = Date.now()
    await callControl(socket, 'checkpoint', {}, 600_000)
    window = { from, to: Date.now() }
    await sleep(2000) // after
  } finally {
    child.stdin.end()
  }
  const code = await exited
  if (code !== 0) throw new Error(`statLoop.js failed (exit code ${code}): ${err.trim()}`)
  const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { calls: number; longest: number; slow: { at: number; ms: number }[] }
  const overlaps = (s: { at: number; ms: number }) => s.at <= window!.to && s.at + s.ms >= window!.from
  const during = result.slow.filter(overlaps)
  const otherwise = result.slow.filter(s => !overlaps(s))
  return {
    checkpointS: (window!.to - window!.from) / 1000,
    statCalls: result.calls,
    statDuringCheckpoint: during.length,
    longestStatDuringCheckpointMs: Math.max(0, ...during.map(s => s.ms)),
    longestStatOtherwiseMs: Math.max(0, ...otherwise.map(s => s.ms)),
  }
}

export function renderScale(s: ScaleFigures): string[] {
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS')
  const rate = (s.files + s.dirs) / s.walkS
  const cpu = s.walkCpu ? `; daemon CPU ${fmt(s.walkCpu.process, 1)} s (main thread ${fmt(s.walkCpu.main, 1)} s), ${fmt((s.walkCpu.process * 1e6) / (s.files + s.dirs), 0)} µs per entry` : ''
  return [
    '',
    `scale: ${fmt(s.files, 0)} files in ${fmt(s.dirs, 0)} folders, each file one 4 KiB chunk of 2 copies (built through the store in ${fmt(s.buildS, 1)} s; checkpoint ${fmt(s.checkpointBytes / MiB, 0)} MiB)`,
    `  mount ready          ${fmt(s.mountS, 2)} s (target <= ${TARGET_MOUNT_S} s) ${verdict(s.mountS <= TARGET_MOUNT_S)}` +
      (s.mountCpu ? `; daemon CPU by then ${fmt(s.mountCpu.process, 2)} s (main thread ${fmt(s.mountCpu.main, 2)} s)` : ''),
    `  daemon RSS           ${fmt(s.rssMounted / MiB, 0)} MiB mounted, ${fmt(s.rssWalked / MiB, 0)} MiB after ls -lR, peak ${fmt(s.hwm / MiB, 0)} MiB (target <= ${fmt(TARGET_RSS / MiB, 0)} MiB) ${verdict(s.hwm <= TARGET_RSS)}`,
    `  ls -lR               ${fmt(s.walkS, 1)} s, ${fmt(rate, 0)} entries/s (target >= ${fmt(TARGET_STAT_RATE, 0)}/s) ${verdict(rate >= TARGET_STAT_RATE)}${cpu}`,
    `  checkpoint stall     longest lstat overlapping a ${fmt(s.checkpointS, 2)} s checkpoint: ${fmt(s.longestStatDuringCheckpointMs, 1)} ms (target <= ${TARGET_STALL_MS} ms) ` +
      `${verdict(s.longestStatDuringCheckpointMs <= TARGET_STALL_MS)}; ${s.statDuringCheckpoint} calls over 5 ms during it; longest outside it ${fmt(s.longestStatOtherwiseMs, 1)} ms; ${fmt(s.statCalls, 0)} lstat calls in all`,
  ]
}

// `node dist/bench/scale.js <files> <work folder> [--cpu-prof] [--keep] [--no-walk]`: these figures alone; with
// --keep the cluster stays in the work folder and the next run with --keep mounts it again.
if (process.argv[1]?.endsWith('/bench/scale.js')) {
  const files = Number(process.argv[2] ?? '100000')
  const work = process.argv[3]
  if (!work) {
    process.stderr.write('usage: node dist/bench/scale.js <files> <work folder> [--cpu-prof] [--keep]\n')
    process.exit(2)
  }
  const { resolve, dirname } = await import('node:path')
  const { fileURLToPath } = await import('node:url')
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
  const logDir = join(work, 'logs')
  await mkdir(logDir, { recursive: true })
  const cpuProfDir = process.argv.includes('--cpu-prof') ? join(work, 'profiles') : undefined
  if (cpuProfDir) await mkdir(cpuProfDir, { recursive: true })
  const t0 = Date.now()
  const lines = await scaleFigures({
    repoRoot, work: join(work, 'cluster'), files, logDir, cpuProfDir, keep: process.argv.includes('--keep'), walk: !process.argv.includes('--no-walk'),
    progress: m => process.stderr.write(`scale: [${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${m}\n`),
  })
  process.stdout.write(`${lines.join('\n')}\n`)
}
