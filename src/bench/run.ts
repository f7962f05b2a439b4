// `npm run bench`: dfs beside the native disk it runs on, and beside an in-memory FUSE file system on
// the same binding (the ceiling of any FUSE file system here), measured back to back in one run.
//
//   npm run bench                          1 GiB, 1 run
//   npm run bench -- --size 256M           a quick run
//   npm run bench -- --runs 3              medians of 3
//   npm run bench -- --no-namenode         without the NameNode-over-TCP table (namenode.ts)
//
// A fresh work folder on the project's disk (<repo>/.bench/run-*, gitignored) holds a native folder
// and a dfs cluster (3 local-folder nodes, 2 replicas, default chunk size, default --cache/--dirty),
// mounted by a real `dfs mount --foreground` daemon, and a memfs mount (src/bench/memFs.ts: same
// binding, same mount options, everything in memory, its own process). Each figure is measured with
// real tools as separate processes (dd, ls, a node script): native first, then memfs, then dfs.
// Everything is removed at the end, also on error or Ctrl-C. How to read the output: docs/bench.md.

import { mkdir, mkdtemp, rm, readFile, rmdir } from 'node:fs/promises'
import os from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { parseSize } from '../util/size.js'
import { clusterFigures, stopServers } from './cluster.js'
import { killNameNodeRun, nameNodeFigures, stopNameNodeRun } from './namenode.js'
import { DfsDaemon, type DaemonConfig, MountProcess, mountInfo, unmountIfMounted } from './daemon.js'
import { busyPercent, describeMachine, diskOf, dropCaches, gib, isRoot, machineCpu, makeWorkDir, type WorkDir } from './machine.js'
import { abortChildren, BenchAborted, run, sleep } from './proc.js'
import { TOOL_ENV, createFiles as createFilesIn, dd, listFiles } from './measure.js'
import { fmt, median, type Row, renderRows, type Verdict } from './report.js'
import { dashboardCost, renderDashboardCost, renderStalls, stallFigures } from './stalls.js'
import { scaleFigures } from './scale.js'

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const CREATE_SCRIPT = join(REPO_ROOT, 'dist', 'bench', 'createFiles.js')
const MEMFS_SCRIPT = join(REPO_ROOT, 'dist', 'bench', 'memFs.js')
const MiB = 2 ** 20
const GiB = 2 ** 30
const REPLICAS = 2
const NODES = 3

// Targets from the issue.
const TARGET_WRITE_RATIO = 0.4
const TARGET_READ_RATIO = 0.6
const TARGET_CREATES_PER_S = 1000
const TARGET_RSS_BASE = 300 * MiB

interface Options {
  runs: number
  size: number
  files: number
  fileSize: number
  dir?: string
  keep: boolean
  cpuProf: boolean
  cache?: string
  dirty?: string
  cluster: boolean
  stalls: boolean
  namenode: boolean
  /** Files of the scale figures (scale.ts); 0: skipped. */
  scale: number
}

const USAGE = `usage: npm run bench -- [options]

  --runs <n>        repeat every measurement n times and show the median (default 1)
  --size <size>     size of the sequential write/read file, a multiple of 1M (default 1G)
  --files <n>       number of 4 KiB files to create and list (default 2000)
  --dir <folder>    where to make the work folder (default <repo>/.bench/, which must not be tmpfs)
  --cache <size>    pass --cache to dfs mount (default: the CLI's default)
  --dirty <size>    pass --dirty to dfs mount (default: the CLI's default)
  --no-namenode     skip the client-of-a-NameNode-over-TCP figures (dfs namenode + dfs mount --namenode)
  --no-cluster      skip the cluster figures (TCP DataNodes, failure detection, re-replication)
  --scale <n>       files in the scale figures' namespace (default 1000000; scale.ts)
  --no-scale        skip the scale figures (a namespace of --scale files mounted, listed, checkpointed)
  --no-stalls       skip the event-loop stall figures (checkpoint, healer scan; in-process, no mount)
  --cpu-prof        write a V8 CPU profile of every dfs daemon (node --cpu-prof), kept beside the work folder
  --keep            keep the work folder (data, daemon logs) instead of removing it
  -h, --help        this text

Run as root: the cold read drops the kernel's caches (echo 3 > /proc/sys/vm/drop_caches).`

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string' },
      size: { type: 'string' },
      files: { type: 'string' },
      dir: { type: 'string' },
      cache: { type: 'string' },
      dirty: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'no-cluster': { type: 'boolean' },
      'no-namenode': { type: 'boolean' },
      'no-stalls': { type: 'boolean' },
      scale: { type: 'string' },
      'no-scale': { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) return null
  const runs = Number(values.runs ?? '1')
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new Error(`--runs must be a whole number from 1 to 100, not "${values.runs}"`)
  const size = parseSize(values.size ?? '1G', '--size')
  if (size % MiB !== 0) throw new Error(`--size must be a whole number of MiB (dd bs=1M), not ${size} bytes`)
  const files = Number(values.files ?? '2000')
  if (!Number.isInteger(files) || files < 1 || files > 1_000_000) throw new Error(`--files must be a whole number from 1 to 1000000, not "${values.files}"`)
  const scale = values['no-scale'] ? 0 : Number(values.scale ?? '1000000')
  if (!Number.isInteger(scale) || scale < 0) throw new Error(`--scale must be a whole number of files, not "${values.scale}"`)
  if (values.cache) parseSize(values.cache, '--cache', { allowZero: true })
  if (values.dirty) parseSize(values.dirty, '--dirty')
  return {
    runs, size, files, fileSize: 4096,
    dir: values.dir === undefined ? undefined : resolve(values.dir),
    keep: values.keep ?? false,
    cpuProf: values['cpu-prof'] ?? false,
    cache: values.cache,
    dirty: values.dirty,
    cluster: !(values['no-cluster'] ?? false),
    stalls: !(values['no-stalls'] ?? false),
    namenode: !(values['no-namenode'] ?? false),
    scale,
  }
}

function sizeLabel(bytes: number): string {
  return bytes % GiB === 0 ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`
}

const t0 = Date.now()
const progress = (message: string) => process.stderr.write(`bench: [${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${message}\n`)

/** The defaults `dfs mount --help` shows for --cache and --dirty (what a user gets without the flags). */
async function cliDefaults(): Promise<{ cache: string; dirty: string }> {
  const r = await run(process.execPath, [join(REPO_ROOT, 'bin', 'dfs.js'), 'mount', '--help'], { allowFailure: true, env: TOOL_ENV })
  const text = r.stdout.replace(/\s+/g, ' ')
  const find = (flag: string) => new RegExp(`${flag} <size> .*?\\(default: "([^"]+)"\\)`).exec(text)?.[1]
  const cache = find('--cache')
  const dirty = find('--dirty')
  if (!cache || !dirty) throw new Error('cannot read the --cache/--dirty defaults from `dfs mount --help`')
  return { cache, dirty }
}

// ---- state shared with cleanup and the signal handlers ---------------------------------------------

let work: WorkDir | undefined
let daemon: DfsDaemon | undefined
let mountpoint: string | undefined
/** The in-memory FUSE file system (the ceiling column) and its mount point. */
let memfs: MountProcess | undefined
let memMountpoint: string | undefined
let keep = false
let signals = 0

function onSignal(signal: NodeJS.Signals): void {
  signals++
  if (signals === 1) {
    progress(`${signal}: stopping the measurement and cleaning up (press Ctrl-C again to force)`)
    abortChildren(signal)
    return
  }
  progress(`${signal} again: killing the daemon and unmounting without waiting`)
  daemon?.kill()
  memfs?.kill()
  killNameNodeRun()
  void Promise.all([mountpoint, memMountpoint].map(m => (m ? unmountIfMounted(m) : undefined))).finally(() => process.exit(130))
}

async function cleanup(): Promise<void> {
  await stopServers()
  await stopNameNodeRun()
  if (memfs) {
    progress(`stopping memfs (pid ${memfs.pid}, SIGTERM)`)
    await memfs.stop()
    memfs = undefined
  }
  if (memMountpoint) await unmountIfMounted(memMountpoint)
  if (memMountpoint && work && (await mountInfo(memMountpoint))) {
    progress(`${memMountpoint} is still mounted; NOT removing ${work.path} (unmount it with fusermount -uz, then remove it)`)
    return
  }
  if (daemon) {
    progress(`stopping the dfs daemon (pid ${daemon.pid}, SIGTERM)`)
    await daemon.stop()
    daemon = undefined
  }
  if (mountpoint) await unmountIfMounted(mountpoint)
  if (!work) return
  if (mountpoint && (await mountInfo(mountpoint))) {
    progress(`${mountpoint} is still mounted; NOT removing ${work.path} (unmount it with fusermount -uz, then remove it)`)
    return
  }
  if (keep) {
    progress(`kept the work folder ${work.path} (--keep)`)
    return
  }
  await rm(work.path, { recursive: true, force: true })
  // The shared .bench/ folder goes too when nothing else is in it (another run may be using it).
  if (basename(dirname(work.path)) === '.bench') await rmdir(dirname(work.path)).catch(() => {})
  progress(`unmounted, removed ${work.path}`)
}

// ---- measurements ------------------------------------------------------------------------------------

interface Samples {
  native: number[]
  memfs: number[]
  dfs: number[]
}
const samples = (): Samples => ({ native: [], memfs: [], dfs: [] })

interface PhasePeak {
  phase: string
  bytes: number
}

const createFiles = (dir: string, opts: Options) => createFilesIn(CREATE_SCRIPT, dir, opts.files, opts.fileSize)

// ---- the benchmark -----------------------------------------------------------------------------------

async function bench(opts: Options): Promise<void> {
  const startedAt = new Date()
  const loadStart = os.loadavg()
  const machine = await describeMachine()
  const root = isRoot()
  if (!root) progress('not running as root: the kernel caches cannot be dropped, so the "cold" read figures are WARM reads')
  const defaults = await cliDefaults()
  const idleA = await machineCpu()
  await sleep(1000)
  const busyBefore = busyPercent(idleA, await machineCpu())
  if (busyBefore > 15) progress(`the machine is already ${fmt(busyBefore, 0)} % busy (other processes): every figure will be skewed`)
  const cache = opts.cache ?? defaults.cache
  const dirty = opts.dirty ?? defaults.dirty

  work = await makeWorkDir(REPO_ROOT, opts.dir)
  // The NameNode's cluster holds its own replicas of the big file while it is measured.
  const need = opts.size * (2 + REPLICAS * (opts.namenode ? 2 : 1)) + GiB
  if (work.disk.availBytes < need) {
    throw new Error(`${work.disk.mountedOn} has ${gib(work.disk.availBytes)} free; this run needs about ${gib(need)} ` +
      `(source + native copy + ${REPLICAS} dfs replicas of ${sizeLabel(opts.size)}, plus slack). Try --size 256M.`)
  }
  // memfs keeps the big file in its memory during the write and read phases.
  if (os.freemem() < opts.size + GiB) {
    throw new Error(`the machine has ${gib(os.freemem())} of memory available; memfs keeps the ${sizeLabel(opts.size)} file in memory, ` +
      `so this run needs about ${gib(opts.size + GiB)}. Try a smaller --size.`)
  }
  const source = join(work.path, 'source.bin')
  const native = join(work.path, 'native')
  const cluster = join(work.path, 'dfs')
  const nodes = Array.from({ length: NODES }, (_, i) => join(cluster, `node_${i + 1}`))
  const meta = join(cluster, 'meta')
  const mnt = join(cluster, 'mnt')
  const logDir = join(work.path, 'logs')
  const memMnt = join(work.path, 'memfs')
  for (const d of [native, ...nodes, meta, mnt, memMnt, logDir]) await mkdir(d, { recursive: true })
  const cpuProfDir = opts.cpuProf ? `${work.path}-profiles` : undefined
  if (cpuProfDir) await mkdir(cpuProfDir, { recursive: true })
  progress(`work folder ${work.path} (${work.disk.source} ${work.disk.fstype})`)

  // In-process figures first, while no daemon competes for the CPU.
  let stalls: string[] = []
  if (opts.stalls) {
    progress('event-loop stalls: a checkpoint and a healer scan, in this process')
    stalls = renderStalls(await stallFigures({ under: work.path }))
    progress('what watching the cluster costs: a status and a /metrics scrape of 200,000 chunk references')
    const costWork = await mkdtemp(join(work.path, 'dashboard-'))
    stalls.push(...renderDashboardCost(await dashboardCost(costWork, 200_000)))
    await rm(costWork, { recursive: true, force: true })
  }

  // The source of both writes: random bytes (no file system or chunk layer can shortcut them the
  // way it could zeros), made once, read from the page cache by both writers.
  progress(`making a ${sizeLabel(opts.size)} random source file`)
  await run('dd', ['if=/dev/urandom', `of=${source}`, 'bs=1M', `count=${opts.size / MiB}`, 'iflag=fullblock'], { env: TOOL_ENV })

  const config: DaemonConfig = {
    repoRoot: REPO_ROOT, mountpoint: mnt, nodes, meta, replicas: REPLICAS,
    cache: opts.cache, dirty: opts.dirty, logDir, cpuProfDir,
  }
  memMountpoint = memMnt
  progress('mounting memfs (the in-memory FUSE file system)')
  memfs = await MountProcess.launch({
    what: 'memfs', readyPrefix: 'memfs: mounted', mountpoint: memMnt,
    argv: [MEMFS_SCRIPT, memMnt], cwd: REPO_ROOT, logPath: join(logDir, 'memfs.log'),
  })
  const memFuse = await mountInfo(memMnt)

  mountpoint = mnt
  progress('mounting dfs')
  daemon = await DfsDaemon.start(config)
  const mountedLine = daemon.mountedLine
  const fuse = await mountInfo(mnt)
  const readAhead = fuse ? (await readFile(`/sys/class/bdi/${fuse.device}/read_ahead_kb`, 'utf8').catch(() => '?')).trim() : '?'

  const write = samples()
  const read = samples()
  const creates = samples()
  const ls = samples()
  const createDetail: string[] = []
  const peaks: PhasePeak[] = []
  const memPeaks: PhasePeak[] = []
  let coldNative = true
  let coldDfs = true

  const notePeak = (phase: string) => {
    const m = daemon?.memory()
    if (m) peaks.push({ phase, bytes: m.hwm })
    const mm = memfs?.memory()
    if (mm) memPeaks.push({ phase, bytes: mm.hwm })
  }
  const resetPeaks = () => {
    daemon?.resetPeak()
    memfs?.resetPeak()
  }
  /** A mount process's CPU time while `measure` runs: is its one JavaScript thread the limit? */
  const cpuLines: string[] = []
  const memCpuLines: string[] = []
  /**
   * Wait (untimed) until neither mount process uses the CPU: dfs goes on storing and journaling after
   * a tool has exited, and on 2 CPUs that work would land in the next column's figure. At most 10 s.
   */
  let notQuiet = 0
  const quiet = async () => {
    const used = () => [daemon, memfs].reduce((sum, p) => sum + (p?.cpu()?.process ?? 0), 0)
    const until = Date.now() + 10_000
    let last = used()
    for (;;) {
      await sleep(300)
      const now = used()
      if (now - last < 0.02) return
      if (Date.now() > until) {
        notQuiet++
        return
      }
      last = now
    }
  }
  const withCpu = async <T>(proc: MountProcess | undefined, lines: string[], what: string, measure: () => Promise<T>): Promise<T> => {
    await quiet()
    const before = proc?.cpu()
    const machineBefore = await machineCpu()
    const start = performance.now()
    const result = await measure()
    const wall = (performance.now() - start) / 1000
    const machineAfter = await machineCpu()
    const after = proc?.cpu()
    if (before && after) {
      const main = after.main - before.main
      lines.push(`${what.padEnd(18)} ${proc === memfs ? 'memfs' : 'daemon'} ${fmt(after.process - before.process)} s CPU, its main thread ${fmt(main)} s ` +
        `= ${fmt((100 * main) / wall, 0)} % of ${fmt(wall)} s wall; all ${machine.cpus} CPUs ${fmt(busyPercent(machineBefore, machineAfter), 0)} % busy`)
    }
    return result
  }
  const withDaemonCpu = <T>(what: string, measure: () => Promise<T>) => withCpu(daemon, cpuLines, what, measure)
  const withMemfsCpu = <T>(what: string, measure: () => Promise<T>) => withCpu(memfs, memCpuLines, what, measure)
  const restartDaemon = async () => {
    progress('restarting the dfs daemon (SIGTERM, then mount again) so its chunk cache is cold')
    await daemon!.stop()
    daemon = undefined
    daemon = await DfsDaemon.start(config)
    progress('mounted again')
  }

  const bigName = 'big.bin'
  for (let r = 1; r <= opts.runs; r++) {
    const tag = `run ${r}/${opts.runs}`

    // 1. sequential write. Previous run's files go first (untimed), then everything is synced.
    if (r > 1) {
      await rm(join(native, bigName), { force: true })
      await run('rm', ['-f', join(memMnt, bigName)])
      await run('rm', ['-f', join(mnt, bigName)])
      // dfs deletes the old chunks once the unlink is in the durable journal (synced every second):
      // let that finish before the clock starts.
      await sleep(2500)
    }
    await run('sync', [])
    await run('dd', [`if=${source}`, 'of=/dev/null', 'bs=1M']) // source in the page cache for all writers
    resetPeaks()
    await quiet()
    const nw = await dd([`if=${source}`, `of=${join(native, bigName)}`, 'conv=fsync'], opts.size)
    progress(`${tag}: native write ${fmt(nw)} MB/s`)
    const mw = await withMemfsCpu(`write (run ${r})`, () => dd([`if=${source}`, `of=${join(memMnt, bigName)}`, 'conv=fsync'], opts.size))
    progress(`${tag}: memfs write  ${fmt(mw)} MB/s`)
    const dw = await withDaemonCpu(`write (run ${r})`, () => dd([`if=${source}`, `of=${join(mnt, bigName)}`, 'conv=fsync'], opts.size))
    progress(`${tag}: dfs write    ${fmt(dw)} MB/s`)
    write.native.push(nw)
    write.memfs.push(mw)
    write.dfs.push(dw)
    notePeak(`write (run ${r})`)

    // 2. cold read: a new daemon (empty chunk cache), then sync + drop_caches right before each dd.
    // memfs keeps its bytes in its own memory (the point of it) and is not restarted; dropping the
    // caches empties the kernel's page cache of its file, so every byte crosses FUSE as on dfs.
    await restartDaemon()
    await quiet()
    coldNative = (await dropCaches()) && coldNative
    const nr = await dd([`if=${join(native, bigName)}`, 'of=/dev/null'], opts.size)
    progress(`${tag}: native read  ${fmt(nr)} MB/s`)
    coldDfs = (await dropCaches()) && coldDfs
    resetPeaks()
    const mr = await withMemfsCpu(`read (run ${r})`, () => dd([`if=${join(memMnt, bigName)}`, 'of=/dev/null'], opts.size))
    progress(`${tag}: memfs read   ${fmt(mr)} MB/s`)
    coldDfs = (await dropCaches()) && coldDfs
    const dr = await withDaemonCpu(`read (run ${r})`, () => dd([`if=${join(mnt, bigName)}`, 'of=/dev/null'], opts.size))
    progress(`${tag}: dfs read     ${fmt(dr)} MB/s`)
    read.native.push(nr)
    read.memfs.push(mr)
    read.dfs.push(dr)
    notePeak(`read (run ${r})`)
    // memfs's copy of the big file goes now (untimed), so it holds no RAM the other figures could use.
    await run('rm', ['-f', join(memMnt, bigName)])

    // 3. small files: a fresh folder per run on each side.
    const dirName = `files-${r}`
    await mkdir(join(native, dirName))
    await run('mkdir', [join(memMnt, dirName)])
    await run('mkdir', [join(mnt, dirName)])
    await run('sync', [])
    resetPeaks()
    await quiet()
    const nc = await createFiles(join(native, dirName), opts)
    progress(`${tag}: native creates ${fmt(nc.perSecond, 0)} files/s`)
    const mc = await withMemfsCpu(`create (run ${r})`, () => createFiles(join(memMnt, dirName), opts))
    progress(`${tag}: memfs creates  ${fmt(mc.perSecond, 0)} files/s`)
    const dc = await withDaemonCpu(`create (run ${r})`, () => createFiles(join(mnt, dirName), opts))
    progress(`${tag}: dfs creates    ${fmt(dc.perSecond, 0)} files/s`)
    creates.native.push(nc.perSecond)
    creates.memfs.push(mc.perSecond)
    creates.dfs.push(dc.perSecond)
    createDetail.push(`run ${r}: loop ${fmt(nc.loopMs, 0)} / ${fmt(mc.loopMs, 0)} / ${fmt(dc.loopMs, 0)} ms, ` +
      `process ${fmt(nc.processMs, 0)} / ${fmt(mc.processMs, 0)} / ${fmt(dc.processMs, 0)} ms`)

    // 4. ls -l of those files, caches warm.
    await quiet()
    const nl = await listFiles(join(native, dirName), opts.files)
    const ml = await withMemfsCpu(`2 × ls -l (run ${r})`, () => listFiles(join(memMnt, dirName), opts.files))
    const dl = await withDaemonCpu(`2 × ls -l (run ${r})`, () => listFiles(join(mnt, dirName), opts.files))
    progress(`${tag}: ls -l native ${fmt(nl)} ms, memfs ${fmt(ml)} ms, dfs ${fmt(dl)} ms`)
    ls.native.push(nl)
    ls.memfs.push(ml)
    ls.dfs.push(dl)
    notePeak(`create + ls (run ${r})`)
  }

  // 5. memory: the highest VmHWM seen (each phase's peak was read at its end).
  const peak = peaks.reduce<PhasePeak>((best, p) => (p.bytes > best.bytes || Number.isNaN(best.bytes) ? p : best), { phase: '—', bytes: NaN })
  const rssTarget = TARGET_RSS_BASE + parseSize(cache, '--cache', { allowZero: true })

  // ---- the report --------------------------------------------------------------------------------
  const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '—')
  const verdict = (ok: boolean): Verdict => (ok ? 'PASS' : 'MISS')
  const med = (x: Samples) => ({ native: median(x.native), memfs: median(x.memfs), dfs: median(x.dfs) })
  const m = { write: med(write), read: med(read), creates: med(creates), ls: med(ls) }
  const writeRatio = m.write.dfs / m.write.native
  const readRatio = m.read.dfs / m.read.native
  const readLabel = coldNative && coldDfs ? 'cold read' : 'read (WARM: caches not dropped)'
  /** Throughput: dfs ÷ other. Time: other ÷ dfs. Either way 1.00× = as fast, higher is better. */
  const ratios = (x: { native: number; memfs: number; dfs: number }, time = false) =>
    time ? { ratio: ratio(x.native / x.dfs), ratioMemfs: ratio(x.memfs / x.dfs) } : { ratio: ratio(x.dfs / x.native), ratioMemfs: ratio(x.dfs / x.memfs) }
  const rows: Row[] = [
    {
      figure: `sequential write ${sizeLabel(opts.size)}, MB/s`,
      native: fmt(m.write.native, 0), memfs: fmt(m.write.memfs, 0), dfs: fmt(m.write.dfs, 0), ...ratios(m.write),
      target: `≥ ${TARGET_WRITE_RATIO.toFixed(2)}× native`, result: verdict(writeRatio >= TARGET_WRITE_RATIO),
    },
    {
      figure: `${readLabel} ${sizeLabel(opts.size)}, MB/s`,
      native: fmt(m.read.native, 0), memfs: fmt(m.read.memfs, 0), dfs: fmt(m.read.dfs, 0), ...ratios(m.read),
      target: `≥ ${TARGET_READ_RATIO.toFixed(2)}× native`, result: coldNative && coldDfs ? verdict(readRatio >= TARGET_READ_RATIO) : '—',
    },
    {
      figure: `create ${fmt(opts.files, 0)} × 4 KiB files, files/s`,
      native: fmt(m.creates.native, 0), memfs: fmt(m.creates.memfs, 0), dfs: fmt(m.creates.dfs, 0), ...ratios(m.creates),
      target: `dfs ≥ ${fmt(TARGET_CREATES_PER_S, 0)} files/s`, result: verdict(m.creates.dfs >= TARGET_CREATES_PER_S),
    },
    {
      figure: `ls -l of ${fmt(opts.files, 0)} files (warm), ms`,
      native: fmt(m.ls.native, 1), memfs: fmt(m.ls.memfs, 1), dfs: fmt(m.ls.dfs, 1), ...ratios(m.ls, true),
      target: '—', result: '—',
    },
    {
      // memfs keeps every file in its memory, so its peak says little about a FUSE daemon's own cost:
      // it is listed under details, not compared.
      figure: 'dfs daemon peak RSS (VmHWM), MiB',
      native: '—', memfs: '—', dfs: fmt(peak.bytes / MiB, 0), ratio: '—', ratioMemfs: '—',
      target: `≤ ${fmt(rssTarget / MiB, 0)} MiB (300 + --cache ${cache})`, result: verdict(peak.bytes <= rssTarget),
    },
  ]

  const diskNow = await diskOf(work.path)
  const out: string[] = []
  out.push('')
  out.push(`dfs benchmark, ${startedAt.toISOString()}`)
  out.push(`machine  ${machine.cpus} CPUs (nproc; ${machine.cpuModel}), ${gib(machine.memBytes)} RAM, ${machine.distro}, kernel ${machine.kernel}, node ${machine.node}`)
  out.push(`         CPUs ${fmt(busyBefore, 0)} % busy in the second before the run (other work skews every figure); load average ${loadStart.map(l => l.toFixed(2)).join(' ')} at start`)
  out.push(`disk     ${work.disk.source} (${work.disk.fstype}) on ${work.disk.mountedOn}: ${gib(work.disk.sizeBytes)}, ${gib(work.disk.availBytes)} free at start, ${gib(diskNow.availBytes)} at the end`)
  out.push(`         native folder and all dfs node folders are on it: ${work.path} (${work.why})`)
  out.push(`dfs      ${NODES} local-folder nodes, ${REPLICAS} replicas, default chunk size; --cache ${cache}, --dirty ${dirty}` +
    `${opts.cache || opts.dirty ? '' : ' (the CLI defaults)'}`)
  out.push(`         ${mountedLine.replace(/, metadata in [^)]*\)/, ')')}`)
  out.push(`         FUSE mount options: ${fuse?.options ?? '?'}; read_ahead_kb ${readAhead}`)
  out.push(`memfs    in-memory FUSE file system on the same binding (fuse-native) with dfs's mount options, its own process:`)
  out.push(`         every call answered at once from RAM, the ceiling of any FUSE file system here (src/bench/memFs.ts)`)
  out.push(`         FUSE mount options: ${memFuse?.options ?? '?'}`)
  out.push(`runs     ${opts.runs} (median shown), write/read file ${sizeLabel(opts.size)}, ${fmt(opts.files, 0)} files of 4 KiB`)
  out.push('')
  out.push('dfs vs native, dfs vs memfs: throughput figures are dfs ÷ the other, times are the other ÷ dfs; 1.00× = as fast, higher is better')
  out.push(renderRows(rows))
  out.push(...stalls)
  out.push('')
  out.push('how each figure is taken (native first, then memfs, then dfs, back to back):')
  out.push(`  write   dd if=<random ${sizeLabel(opts.size)} file, in page cache> of=<target> bs=1M conv=fsync; MB/s = 10^6 bytes/s from dd's wall time`)
  out.push(coldNative && coldDfs
    ? `  read    dd if=<target> of=/dev/null bs=1M right after sync; echo 3 > /proc/sys/vm/drop_caches; the dfs daemon was restarted before the read, so its --cache is empty too (memfs serves from its RAM)`
    : `  read    NOT cold: drop_caches was not possible (${root ? 'refused by the kernel/container' : 'not root'}); the daemon was still restarted (its own cache is empty)`)
  out.push(`  create  one node process writing the files one after another (writeFileSync: open O_CREAT|O_TRUNC, one 4 KiB write, close; no fsync); timed around the loop, node start-up excluded`)
  out.push(`  ls -l   LC_ALL=C ls -l <dir> > /dev/null, wall time of the process, right after an untimed ls -l of the same folder`)
  out.push(`  RSS     highest VmHWM of the daemon, read at the end of each phase (reset to the current RSS between phases); peak in: ${peak.phase}`)
  out.push('')
  out.push('details')
  out.push(`  before each measurement the bench waited until the dfs daemon and memfs used no CPU (< 20 ms in 300 ms)` +
    `${notQuiet ? `; ${notQuiet} time(s) they were still busy after 10 s and the measurement went ahead` : ''}`)
  if (peaks.length) out.push(`  peak RSS by phase, MiB: ${peaks.map(p => `${p.phase} ${fmt(p.bytes / MiB, 0)}`).join(', ')}`)
  if (memPeaks.length) out.push(`  memfs peak RSS by phase, MiB (it holds the files in RAM: the write phase includes the ${sizeLabel(opts.size)} file): ` +
    memPeaks.map(p => `${p.phase} ${fmt(p.bytes / MiB, 0)}`).join(', '))
  const ceiling = (x: { native: number; memfs: number }, time = false) => ratio(time ? x.native / x.memfs : x.memfs / x.native)
  out.push(`  the ceiling, memfs vs native: write ${ceiling(m.write)}, read ${ceiling(m.read)}, creates ${ceiling(m.creates)}, ls -l ${ceiling(m.ls, true)}`)
  out.push('  create, time of the loop and of the whole node process (native / memfs / dfs):')
  for (const line of createDetail) out.push(`    ${line}`)
  out.push('  dfs daemon CPU during each dfs measurement (user + system; a main thread near 100 % of wall = the one JavaScript thread is the limit):')
  for (const line of cpuLines) out.push(`    ${line}`)
  out.push('  memfs CPU during each memfs measurement (its main thread near 100 % of wall = the binding\'s one JavaScript thread is the ceiling):')
  for (const line of memCpuLines) out.push(`    ${line}`)
  if (opts.runs > 1) {
    out.push('  every run (native / memfs / dfs):')
    const list = (s: Samples, d?: number) => s.native.map((v, i) => `${fmt(v, d)} / ${fmt(s.memfs[i], d)} / ${fmt(s.dfs[i], d)}`.padStart(26)).join('')
    out.push(`    write MB/s  ${list(write, 0)}`)
    out.push(`    read MB/s   ${list(read, 0)}`)
    out.push(`    creates/s   ${list(creates, 0)}`)
    out.push(`    ls -l ms    ${list(ls, 1)}`)
  }
  if (cpuProfDir) out.push(`  CPU profiles of the daemons (Chrome DevTools or speedscope): ${cpuProfDir}`)
  if (opts.keep) out.push(`  daemon logs: ${logDir}`)
  // memfs is done: its memory and CPU go back to the machine before the cluster figures.
  await memfs?.stop()
  memfs = undefined
  if (opts.namenode || opts.cluster) {
    // The figures below run their own mounts (the cluster figures restart the local-folder cluster
    // with other flags): the main daemon goes first.
    await daemon!.stop()
    daemon = undefined
  }
  if (opts.namenode) {
    out.push(...await nameNodeFigures({
      repoRoot: REPO_ROOT, work: work.path, source, size: opts.size, sizeLabel: sizeLabel(opts.size),
      files: opts.files, fileSize: opts.fileSize, runs: opts.runs, createScript: CREATE_SCRIPT,
      nodes: NODES, replicas: REPLICAS, cache: opts.cache, dirty: opts.dirty, logDir,
      embedded: { write: m.write.dfs, read: m.read.dfs, creates: m.creates.dfs, ls: m.ls.dfs },
      readLabel, progress,
    }))
  }
  if (opts.cluster) {
    out.push(...await clusterFigures({
      repoRoot: REPO_ROOT, work: work.path, source, size: opts.size, local: config,
      localWrite: m.write.dfs, localRead: m.read.dfs, progress,
    }))
  }
  if (opts.scale > 0) {
    await daemon?.stop() // its own mount and daemon: the main one goes first
    daemon = undefined
    out.push(...await scaleFigures({ repoRoot: REPO_ROOT, work: join(work.path, 'scale'), files: opts.scale, logDir, progress, cpuProfDir }))
  }
  console.log(out.join('\n'))
}

// ---- entry point -------------------------------------------------------------------------------------

async function main(): Promise<number> {
  let opts: Options | null
  try {
    opts = parseOptions(process.argv.slice(2))
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (!opts) {
    console.log(USAGE)
    return 0
  }
  keep = opts.keep
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.on('SIGHUP', onSignal)
  try {
    await bench(opts)
    return 0
  } catch (err) {
    if (err instanceof BenchAborted) {
      progress(`interrupted (${err.message})`)
      return 130
    }
    console.error(`bench: ${(err as Error).message}`)
    if (daemon) {
      const state = daemon.running ? `pid ${daemon.pid}, still running` : `exited: ${daemon.exitText()}`
      console.error(`bench: the dfs daemon (${state}); its last lines (${daemon.logPath}):\n${daemon.lastLines()}`)
    }
    return 1
  } finally {
    try {
      await cleanup()
    } catch (err) {
      console.error(`bench: cleaning up failed: ${(err as Error).message}${work ? ` (work folder ${work.path})` : ''}`)
    }
  }
}

process.exitCode = await main()
// Give a second Ctrl-C handler nothing to race with.
await sleep(0)
