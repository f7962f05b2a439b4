// `npm run bench`: dfs beside the native disk it runs on, and beside the ceiling: an in-memory FUSE file
// system on the same binding (src/bench/memFs.ts, the fastest any FUSE file system can be here),
// measured back to back in one run. The targets of issue 11 are ratios to the ceiling (targets.ts).
//
//   npm run bench                          1 GiB, medians of 3 runs
//   npm run bench -- --size 256M --runs 1  a quick run
//   npm run bench -- --no-namenode         without the NameNode-over-TCP table (namenode.ts)
//   npm run bench -- --no-ec               without the erasure-coding table (ec.ts)
//
// A fresh work folder on the project's disk (<repo>/.bench/run-*, gitignored) holds a native folder
// and a dfs cluster (3 local-folder nodes, 2 replicas, default chunk size, default --cache/--dirty),
// mounted by a real `dfs mount --foreground` daemon, and the ceiling, a memfs mount (src/bench/memFs.ts:
// same binding, same mount options, everything in memory, its own process). Each figure is measured
// with real tools as separate processes (dd, ls, a node script): native first, then the ceiling, then dfs,
// except that the ceiling reads its big file back, and deletes it, before dfs writes (see the run loop).
// Everything is removed at the end, also on error or Ctrl-C. How to read the output: docs/bench.md.

import { mkdir, mkdtemp, rm, readdir, readFile, rmdir } from 'node:fs/promises'
import os from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { parseSize } from '../util/size.js'
import { clusterFigures, stopServers } from './cluster.js'
import { killNameNodeRun, nameNodeFigures, stopNameNodeRun } from './namenode.js'
import { DfsDaemon, type DaemonConfig, MountProcess, mountInfo, unmountIfMounted, waitIdle } from './daemon.js'
import { busyPercent, describeMachine, diskOf, dropCaches, gib, isRoot, machineCpu, makeWorkDir, type WorkDir } from './machine.js'
import { abortChildren, BenchAborted, run, sleep } from './proc.js'
import { TOOL_ENV, createFiles as createFilesIn, dd, listFiles, readFiles as readFilesIn } from './measure.js'
import { ceilingRow, fmt, fmtRatio, median, ratioTo, type Row, renderRows, verdict } from './report.js'
import { type CpuCost, perUnit, renderCpuCosts } from './cpuCost.js'
import { profileClock, readProfile, renderProfileSummary, summarizeProfile, type Window } from './profileSummary.js'
import { CEILING_TARGETS, CPU_BEFORE, CPU_TARGETS } from './targets.js'
import { dashboardCost, renderDashboardCost, renderStalls, stallFigures } from './stalls.js'
import { scaleFigures } from './scale.js'
import { ecDiskNeed, ecFigures, killEcRun, stopEcRun } from './ec.js'

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const CREATE_SCRIPT = join(REPO_ROOT, 'dist', 'bench', 'createFiles.js')
const READ_SCRIPT = join(REPO_ROOT, 'dist', 'bench', 'readFiles.js')
const MEMFS_SCRIPT = join(REPO_ROOT, 'dist', 'bench', 'memFs.js')
const MiB = 2 ** 20
const GiB = 2 ** 30
const REPLICAS = 2
const NODES = 3

// The peak RSS target (an earlier issue's); the others are issue 11's, in targets.ts.
const TARGET_RSS_BASE = 300 * MiB
// Three runs by default: the issue's targets are on medians of --runs 3 (a 1 GiB default run takes a few minutes).
const DEFAULT_RUNS = 3

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
  /** The erasure-coding figures (ec.ts). */
  ec: boolean
  /** Files of the scale figures (scale.ts); 0: skipped. */
  scale: number
}

const USAGE = `usage: npm run bench -- [options]

  --runs <n>        repeat every measurement n times and show the median (default 3)
  --size <size>     size of the sequential write/read file, a multiple of 1M (default 1G)
  --files <n>       number of 4 KiB files to create, list and read back (default 2000)
  --dir <folder>    where to make the work folder (default <repo>/.bench/, which must not be tmpfs)
  --cache <size>    pass --cache to dfs mount (default: the CLI's default)
  --dirty <size>    pass --dirty to dfs mount (default: the CLI's default)
  --no-namenode     skip the client-of-a-NameNode-over-TCP figures (dfs namenode + dfs mount --namenode)
  --no-cluster      skip the cluster figures (TCP DataNodes, failure detection, re-replication)
  --no-ec           skip the erasure-coding figures (ec:2+1 and ec:4+2 beside 2 replicas on 6 nodes)
  --scale <n>       files in the scale figures' namespace (default 1000000; scale.ts)
  --no-scale        skip the scale figures (a namespace of --scale files mounted, listed, checkpointed)
  --no-stalls       skip the event-loop stall figures (checkpoint, healer scan; in-process, no mount)
  --cpu-prof        write a V8 CPU profile of every dfs daemon, NameNode and client mount (node --cpu-prof), kept
                    beside the work folder, and print where each one's time went during the measurements
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
      'no-ec': { type: 'boolean' },
      scale: { type: 'string' },
      'no-scale': { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) return null
  const runs = Number(values.runs ?? String(DEFAULT_RUNS))
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
    ec: !(values['no-ec'] ?? false),
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
/** The ceiling: the in-memory FUSE file system (memfs) and its mount point. */
let memfs: MountProcess | undefined
let memMountpoint: string | undefined
let keep = false
let signals = 0
/** With --cpu-prof: where the daemons' profiles go, and when each daemon measured what (by profile name). */
let cpuProfDir: string | undefined
const profileWindows = new Map<string, (Window & { what: string })[]>()

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
  killEcRun()
  void Promise.all([mountpoint, memMountpoint].map(m => (m ? unmountIfMounted(m) : undefined))).finally(() => process.exit(130))
}

async function cleanup(): Promise<void> {
  await stopServers()
  await stopNameNodeRun()
  await stopEcRun()
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
  /** The in-memory FUSE file system (memfs). */
  ceiling: number[]
  dfs: number[]
}
const samples = (): Samples => ({ native: [], ceiling: [], dfs: [] })

/** The phases whose CPU cost is counted, per mount process and run. */
type Phase = 'write' | 'read' | 'create' | 'ls' | 'readAll'
type CpuSeconds = Record<Phase, number[]>
const cpuSeconds = (): CpuSeconds => ({ write: [], read: [], create: [], ls: [], readAll: [] })

interface PhasePeak {
  phase: string
  bytes: number
}

const createFiles = (dir: string, opts: Options) => createFilesIn(CREATE_SCRIPT, dir, opts.files, opts.fileSize)
const readFiles = (dir: string, opts: Options) => readFilesIn(READ_SCRIPT, dir, opts.files, opts.fileSize)

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
  // The scale figures' metadata (journal, checkpoints) takes about 1 KiB a file.
  // The EC figures write the file once per policy (2 + 1.5 + 1.5 times its size).
  // Each run keeps its big file (native and dfs) until the end, and so does the NameNode's cluster,
  // whose fsync'd-write figures hold one more at a time.
  const nameNodeCopies = opts.namenode ? REPLICAS * (opts.runs + 1) : 0
  const need = opts.size * (1 + opts.runs * (1 + REPLICAS) + nameNodeCopies) + (opts.ec ? ecDiskNeed(opts.size) : 0) + opts.scale * 1024 + GiB
  if (work.disk.availBytes < need) {
    throw new Error(`${work.disk.mountedOn} has ${gib(work.disk.availBytes)} free; this run needs about ${gib(need)} ` +
      `(source, and per run a native copy and ${REPLICAS} dfs replicas of ${sizeLabel(opts.size)}${opts.ec ? ', the EC figures\' 5 × the file' : ''}, the scale namespace's metadata, plus slack). Try --size 256M or a smaller --scale.`)
  }
  // memfs keeps the big file in its memory from its write to its read.
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
  cpuProfDir = opts.cpuProf ? `${work.path}-profiles` : undefined
  if (cpuProfDir) await mkdir(cpuProfDir, { recursive: true })
  progress(`work folder ${work.path} (${work.disk.source} ${work.disk.fstype})`)

  // In-process figures first, while no daemon competes for the CPU.
  let stalls: string[] = []
  if (opts.stalls) {
    progress('event-loop stalls: a checkpoint and a healer scan, in this process')
    // Their scratch folders stay until the work folder goes: removed now, they would slow the
    // creates measured next (measure.ts, RECENTLY_DELETED_MS).
    stalls = renderStalls(await stallFigures({ under: work.path, keep: true }))
    progress('what watching the cluster costs: a status and a /metrics scrape of 200,000 chunk references')
    const costWork = await mkdtemp(join(work.path, 'dashboard-'))
    stalls.push(...renderDashboardCost(await dashboardCost(costWork, 200_000)))
  }

  // The source of the three writes: random bytes (no file system or chunk layer can shortcut them the
  // way it could zeros), made once, read from the page cache by every writer.
  progress(`making a ${sizeLabel(opts.size)} random source file`)
  await run('dd', ['if=/dev/urandom', `of=${source}`, 'bs=1M', `count=${opts.size / MiB}`, 'iflag=fullblock'], { env: TOOL_ENV })

  const config: DaemonConfig = {
    repoRoot: REPO_ROOT, mountpoint: mnt, nodes, meta, replicas: REPLICAS,
    cache: opts.cache, dirty: opts.dirty, logDir, cpuProfDir,
  }
  memMountpoint = memMnt
  progress('mounting the ceiling (memfs, the in-memory FUSE file system)')
  memfs = await MountProcess.launch({
    what: 'memfs', readyPrefix: 'memfs: mounted', mountpoint: memMnt,
    argv: ['--expose-gc', MEMFS_SCRIPT, memMnt], cwd: REPO_ROOT, logPath: join(logDir, 'memfs.log'),
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
  const readAll = samples()
  const createDetail: string[] = []
  const readAllDetail: string[] = []
  const peaks: PhasePeak[] = []
  const memPeaks: PhasePeak[] = []
  let coldNative = true
  let coldDfs = true
  let coldSmall = true

  const notePeak = (phase: string, { ceiling = true } = {}) => {
    const m = daemon?.memory()
    if (m) peaks.push({ phase, bytes: m.hwm })
    const mm = ceiling ? memfs?.memory() : undefined
    if (mm) memPeaks.push({ phase, bytes: mm.hwm })
  }
  const resetPeaks = () => {
    daemon?.resetPeak()
    memfs?.resetPeak()
  }
  /**
   * A mount process's CPU time while `measure` runs (is its one JavaScript thread the limit?), and
   * what the measurement cost it until it is idle again (cpuUse: the CPU-per-unit figures).
   */
  const cpuLines: string[] = []
  const memCpuLines: string[] = []
  const cpuUse = { dfs: cpuSeconds(), ceiling: cpuSeconds() }
  /**
   * Wait (untimed) until neither mount process uses the CPU: dfs goes on storing and journaling after
   * a tool has exited, and on 2 CPUs that work would land in the next column's figure. At most 10 s.
   */
  let notQuiet = 0
  const quiet = async () => {
    if (!(await waitIdle([daemon, memfs]))) notQuiet++
  }
  const phaseLabel: Record<Phase, string> = { write: 'write', read: 'read', create: 'create', ls: '2 × ls -l', readAll: 'read-all' }
  const withCpu = async <T>(proc: MountProcess | undefined, lines: string[], use: CpuSeconds, phase: Phase, r: number, measure: () => Promise<T>): Promise<T> => {
    const what = `${phaseLabel[phase]} (run ${r})`
    await quiet()
    const before = proc?.cpu()
    const machineBefore = await machineCpu()
    const from = profileClock()
    const start = performance.now()
    const result = await measure()
    const wall = (performance.now() - start) / 1000
    const machineAfter = await machineCpu()
    const after = proc?.cpu()
    // Work deferred past the tool's exit (storing, journaling) is part of what the measurement cost.
    await quiet()
    const idle = proc?.cpu()
    if (cpuProfDir && proc instanceof DfsDaemon) {
      profileWindows.set(proc.profileName, [...(profileWindows.get(proc.profileName) ?? []), { what, from, to: profileClock() }])
    }
    if (before && after && idle) {
      const main = after.main - before.main
      use[phase].push(idle.process - before.process)
      lines.push(`${what.padEnd(18)} ${proc === memfs ? 'ceiling' : 'daemon'} ${fmt(after.process - before.process)} s CPU ` +
        `(+ ${fmt(idle.process - after.process)} s after, until idle), its main thread ${fmt(main)} s ` +
        `= ${fmt((100 * main) / wall, 0)} % of ${fmt(wall)} s wall; all ${machine.cpus} CPUs ${fmt(busyPercent(machineBefore, machineAfter), 0)} % busy`)
    }
    return result
  }
  const withDaemonCpu = <T>(phase: Phase, r: number, measure: () => Promise<T>) => withCpu(daemon, cpuLines, cpuUse.dfs, phase, r, measure)
  const withCeilingCpu = <T>(phase: Phase, r: number, measure: () => Promise<T>) => withCpu(memfs, memCpuLines, cpuUse.ceiling, phase, r, measure)
  const restartDaemon = async () => {
    progress('restarting the dfs daemon (SIGTERM, then mount again) so its chunk cache is cold')
    await daemon!.stop()
    daemon = undefined
    daemon = await DfsDaemon.start(config)
    progress('mounted again')
  }

  for (let r = 1; r <= opts.runs; r++) {
    const tag = `run ${r}/${opts.runs}`
    // A file of its own per run, all kept until the end: no delete of the bench's own lands in ext4's
    // recently-deleted window of a later run's creates (measure.ts, RECENTLY_DELETED_MS).
    const bigName = `big-${r}.bin`

    // 1. sequential write, and 2. cold read. The ceiling writes and reads its copy back to back and
    // deletes it before dfs writes: memfs holds the file in its own memory, and on a VM 1 GiB held by
    // another process makes the next writer's fresh memory dear (docs/bench.md, "Known limits"). Its
    // memory is not ext4's, so that delete slows no create. Each side writes with the source in the page cache
    // and the rest of it dropped, and reads cold: a new dfs daemon (empty chunk cache), then sync +
    // drop_caches right before each dd. Dropping the caches empties the kernel's page cache of the
    // ceiling's file too, so every byte crosses FUSE as on dfs, from memfs's memory.
    // Every writer starts alike: the page cache dropped (the last writer's file out of it), then the
    // source read back into it, then nothing running.
    const beforeWrite = async () => {
      await dropCaches()
      await run('dd', [`if=${source}`, 'of=/dev/null', 'bs=1M'])
      await quiet()
    }
    resetPeaks()
    await beforeWrite()
    const nw = await dd([`if=${source}`, `of=${join(native, bigName)}`, 'conv=fsync'], opts.size)
    progress(`${tag}: native write  ${fmt(nw)} MB/s`)
    await beforeWrite()
    const mw = await withCeilingCpu('write', r, () => dd([`if=${source}`, `of=${join(memMnt, bigName)}`, 'conv=fsync'], opts.size))
    progress(`${tag}: ceiling write ${fmt(mw)} MB/s`)
    await quiet()
    coldDfs = (await dropCaches()) && coldDfs
    const mr = await withCeilingCpu('read', r, () => dd([`if=${join(memMnt, bigName)}`, 'of=/dev/null'], opts.size))
    progress(`${tag}: ceiling read  ${fmt(mr)} MB/s`)
    // Untimed: memfs gives the file's memory back at once (memFs.ts, letGo).
    await run('rm', ['-f', join(memMnt, bigName)])
    await beforeWrite()
    const dw = await withDaemonCpu('write', r, () => dd([`if=${source}`, `of=${join(mnt, bigName)}`, 'conv=fsync'], opts.size))
    progress(`${tag}: dfs write     ${fmt(dw)} MB/s`)
    write.native.push(nw)
    write.ceiling.push(mw)
    write.dfs.push(dw)
    notePeak(`write (run ${r})`)

    await restartDaemon()
    await quiet()
    coldNative = (await dropCaches()) && coldNative
    const nr = await dd([`if=${join(native, bigName)}`, 'of=/dev/null'], opts.size)
    progress(`${tag}: native read   ${fmt(nr)} MB/s`)
    coldDfs = (await dropCaches()) && coldDfs
    resetPeaks()
    const dr = await withDaemonCpu('read', r, () => dd([`if=${join(mnt, bigName)}`, 'of=/dev/null'], opts.size))
    progress(`${tag}: dfs read      ${fmt(dr)} MB/s`)
    read.native.push(nr)
    read.ceiling.push(mr)
    read.dfs.push(dr)
    notePeak(`read (run ${r})`, { ceiling: false }) // the ceiling read inside the write phase

    // 3. small files: a fresh folder per run on each side. First, untimed, a round of creates on
    // each FUSE side into a folder of its own (kept, as everything: see RECENTLY_DELETED_MS). The
    // daemon was restarted for the cold read, and a process runs its first thousand or so creates
    // mostly in V8's interpreter: by hand, a fresh dfs daemon spent 1.41 ms of CPU per file on its
    // first 2,000 creates and 1.0 ms on the next. A mount in use is long past that; the bench
    // measures the path as it runs, not its compilation.
    for (const side of [memMnt, mnt]) {
      await run('mkdir', [join(side, `warm-${r}`)])
      await createFiles(join(side, `warm-${r}`), opts)
    }
    const dirName = `files-${r}`
    await mkdir(join(native, dirName))
    await run('mkdir', [join(memMnt, dirName)])
    await run('mkdir', [join(mnt, dirName)])
    await run('sync', [])
    resetPeaks()
    await quiet()
    const nc = await createFiles(join(native, dirName), opts)
    progress(`${tag}: native creates  ${fmt(nc.perSecond, 0)} files/s`)
    const mc = await withCeilingCpu('create', r, () => createFiles(join(memMnt, dirName), opts))
    progress(`${tag}: ceiling creates ${fmt(mc.perSecond, 0)} files/s`)
    const dc = await withDaemonCpu('create', r, () => createFiles(join(mnt, dirName), opts))
    progress(`${tag}: dfs creates     ${fmt(dc.perSecond, 0)} files/s`)
    creates.native.push(nc.perSecond)
    creates.ceiling.push(mc.perSecond)
    creates.dfs.push(dc.perSecond)
    createDetail.push(`run ${r}: loop ${fmt(nc.loopMs, 0)} / ${fmt(mc.loopMs, 0)} / ${fmt(dc.loopMs, 0)} ms, ` +
      `process ${fmt(nc.processMs, 0)} / ${fmt(mc.processMs, 0)} / ${fmt(dc.processMs, 0)} ms`)

    // 4. ls -l of those files, caches warm: the stat rate is files ÷ the timed listing's wall time.
    await quiet()
    const nl = await listFiles(join(native, dirName), opts.files)
    const ml = await withCeilingCpu('ls', r, () => listFiles(join(memMnt, dirName), opts.files))
    const dl = await withDaemonCpu('ls', r, () => listFiles(join(mnt, dirName), opts.files))
    progress(`${tag}: ls -l native ${fmt(nl)} ms, ceiling ${fmt(ml)} ms, dfs ${fmt(dl)} ms`)
    const statRate = (ms: number) => opts.files / (ms / 1000)
    ls.native.push(statRate(nl))
    ls.ceiling.push(statRate(ml))
    ls.dfs.push(statRate(dl))
    notePeak(`create + ls (run ${r})`)

    // 5. read-all: every small file read back, cold on each side as the big read is: a new daemon
    // (empty chunk cache), the caches dropped right before each (dentries and inodes too, so every
    // lookup crosses FUSE). memfs answers from its RAM.
    await restartDaemon()
    await quiet()
    coldSmall = (await dropCaches()) && coldSmall
    const na = await readFiles(join(native, dirName), opts)
    progress(`${tag}: native read-all  ${fmt(na.perSecond, 0)} files/s`)
    resetPeaks()
    coldSmall = (await dropCaches()) && coldSmall
    const ma = await withCeilingCpu('readAll', r, () => readFiles(join(memMnt, dirName), opts))
    progress(`${tag}: ceiling read-all ${fmt(ma.perSecond, 0)} files/s`)
    coldSmall = (await dropCaches()) && coldSmall
    const da = await withDaemonCpu('readAll', r, () => readFiles(join(mnt, dirName), opts))
    progress(`${tag}: dfs read-all     ${fmt(da.perSecond, 0)} files/s`)
    readAll.native.push(na.perSecond)
    readAll.ceiling.push(ma.perSecond)
    readAll.dfs.push(da.perSecond)
    readAllDetail.push(`run ${r}: loop ${fmt(na.loopMs, 0)} / ${fmt(ma.loopMs, 0)} / ${fmt(da.loopMs, 0)} ms, ` +
      `process ${fmt(na.processMs, 0)} / ${fmt(ma.processMs, 0)} / ${fmt(da.processMs, 0)} ms`)
    notePeak(`read-all (run ${r})`)
  }

  // 5. memory: the highest VmHWM seen (each phase's peak was read at its end).
  const peak = peaks.reduce<PhasePeak>((best, p) => (p.bytes > best.bytes || Number.isNaN(best.bytes) ? p : best), { phase: '—', bytes: NaN })
  const rssTarget = TARGET_RSS_BASE + parseSize(cache, '--cache', { allowZero: true })

  // ---- the report --------------------------------------------------------------------------------
  const med = (x: Samples) => ({ native: median(x.native), ceiling: median(x.ceiling), dfs: median(x.dfs) })
  const m = { write: med(write), read: med(read), creates: med(creates), ls: med(ls), readAll: med(readAll) }
  const readLabel = coldNative && coldDfs ? 'cold read' : 'read (WARM: caches not dropped)'
  const files = fmt(opts.files, 0)
  const rows: Row[] = [
    ceilingRow(`sequential write ${sizeLabel(opts.size)} (conv=fsync), MB/s`, m.write, { atLeastVsCeiling: CEILING_TARGETS.write }),
    ceilingRow(`${readLabel} ${sizeLabel(opts.size)}, MB/s`, m.read, { atLeastVsCeiling: CEILING_TARGETS.read, judged: coldNative && coldDfs }),
    ceilingRow(`create ${files} × 4 KiB files, files/s`, m.creates, { atLeastVsCeiling: CEILING_TARGETS.creates }),
    ceilingRow(`ls -l stat rate, ${files} files (warm), files/s`, m.ls, { atLeastVsCeiling: CEILING_TARGETS.stat }),
    ceilingRow(`read-all ${files} × 4 KiB files (${coldSmall ? 'cold' : 'WARM'}), files/s`, m.readAll, { atLeastVsCeiling: CEILING_TARGETS.readAll, judged: coldSmall }),
    {
      // memfs keeps every file in its memory, so its peak says little about a FUSE daemon's own cost:
      // it is listed under details, not compared.
      figure: 'dfs daemon peak RSS (VmHWM), MiB',
      native: '—', ceiling: '—', dfs: fmt(peak.bytes / MiB, 0), ratioNative: '—', ratioCeiling: '—',
      target: `≤ ${fmt(rssTarget / MiB, 0)} MiB (300 + --cache ${cache})`, result: verdict(peak.bytes, { atMost: rssTarget }),
    },
  ]
  // CPU per unit: the median run's CPU seconds (from the measurement's start until idle) ÷ its units.
  const gibs = opts.size / GiB
  const cost = (figure: string, phase: Phase, unit: 's' | 'ms', units: number, target?: { before: number; atMost: number }): CpuCost => ({
    figure, unit, ...target,
    ceiling: perUnit(median(cpuUse.ceiling[phase]), units, unit === 'ms' ? 1000 : 1),
    dfs: perUnit(median(cpuUse.dfs[phase]), units, unit === 'ms' ? 1000 : 1),
  })
  const costs: CpuCost[] = [
    cost('CPU per GiB written', 'write', 's', gibs, { before: CPU_BEFORE.secondsPerGiBWritten, atMost: CPU_TARGETS.secondsPerGiBWritten }),
    cost(`CPU per GiB read${coldNative && coldDfs ? ' cold' : ' (WARM)'}`, 'read', 's', gibs),
    cost('CPU per 4 KiB file created', 'create', 'ms', opts.files, { before: CPU_BEFORE.msPerFileCreated, atMost: CPU_TARGETS.msPerFileCreated }),
    cost('CPU per file statted (ls -l)', 'ls', 'ms', 2 * opts.files),
    cost('CPU per small file read back', 'readAll', 'ms', opts.files),
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
  out.push(`ceiling  memfs, an in-memory FUSE file system on the same binding (fuse-native) with dfs's mount options, its own process:`)
  out.push(`         every call answered at once from RAM, nothing hashed or stored, fsync a no-op: the fastest any file system`)
  out.push(`         on this binding can be on this machine (src/bench/memFs.ts). FUSE mount options: ${memFuse?.options ?? '?'}`)
  out.push(`runs     ${opts.runs} (median shown), write/read file ${sizeLabel(opts.size)}, ${files} files of 4 KiB`)
  out.push('')
  out.push('dfs ÷ native, dfs ÷ ceiling: every figure is a rate, 1.00× = as fast, higher is better; the targets are ratios to the ceiling (issue 11)')
  out.push(renderRows(rows))
  out.push('')
  out.push('CPU per unit of work: the mount process\'s CPU (user + system, all threads) from the start of a measurement until it is idle again, ÷ its units')
  out.push('(dfs ÷ ceiling here = times the ceiling\'s CPU, lower is better; "before" = when issue 11 was filed, the target halves it)')
  out.push(renderCpuCosts(costs))
  out.push(...stalls)
  out.push('')
  out.push('how each figure is taken (native first, then the ceiling, then dfs, back to back, but the ceiling reads its big file back and deletes it before dfs writes):')
  out.push(`  write    dd if=<random ${sizeLabel(opts.size)} file, in page cache> of=<target> bs=1M conv=fsync; MB/s = 10^6 bytes/s from dd's wall time`)
  out.push(coldNative && coldDfs
    ? `  read     dd if=<target> of=/dev/null bs=1M right after sync; echo 3 > /proc/sys/vm/drop_caches; the dfs daemon was restarted before the read, so its --cache is empty too (the ceiling serves from its RAM)`
    : `  read     NOT cold: drop_caches was not possible (${root ? 'refused by the kernel/container' : 'not root'}); the daemon was still restarted (its own cache is empty)`)
  out.push(`  create   one node process writing the files one after another (writeFileSync: open O_CREAT|O_TRUNC, one 4 KiB write, close; no fsync); timed around the loop, node start-up excluded;`)
  out.push(`           after an untimed round of as many creates on the ceiling and on dfs (their first creates after a start run in V8's interpreter);`)
  out.push(`           the bench deletes nothing before it (each run keeps its files until the end: ext4 without a journal makes new inodes skip those deleted lately)`)
  out.push(`  ls -l    LC_ALL=C ls -l <dir> > /dev/null right after an untimed ls -l of the same folder; files/s = ${files} ÷ the timed process's wall time`)
  out.push(`  read-all one node process listing the folder and reading every file to the end (readFileSync), timed around that, node start-up excluded;`)
  out.push(`           the dfs daemon restarted before it and the caches dropped before each side${coldSmall ? '' : ' (NOT possible here: WARM)'}`)
  out.push(`  RSS      highest VmHWM of the daemon, read at the end of each phase (reset to the current RSS between phases); peak in: ${peak.phase}`)
  out.push('')
  out.push('details')
  out.push(`  before each measurement, and after it for its CPU cost, the bench waited until the dfs daemon and the ceiling used no CPU (< 20 ms in 300 ms)` +
    `${notQuiet ? `; ${notQuiet} time(s) they were still busy after 10 s and the bench went ahead` : ''}`)
  if (peaks.length) out.push(`  peak RSS by phase, MiB: ${peaks.map(p => `${p.phase} ${fmt(p.bytes / MiB, 0)}`).join(', ')}`)
  if (memPeaks.length) out.push(`  ceiling peak RSS by phase, MiB (it holds the files in RAM: the write phase includes the ${sizeLabel(opts.size)} file): ` +
    memPeaks.map(p => `${p.phase} ${fmt(p.bytes / MiB, 0)}`).join(', '))
  const vsNative = (x: { native: number; ceiling: number }) => fmtRatio(ratioTo(x.ceiling, x.native))
  out.push(`  the ceiling vs native (what FUSE on this binding costs here): write ${vsNative(m.write)}, read ${vsNative(m.read)}, ` +
    `creates ${vsNative(m.creates)}, ls -l ${vsNative(m.ls)}, read-all ${vsNative(m.readAll)}`)
  out.push('  create, time of the loop and of the whole node process (native / ceiling / dfs):')
  for (const line of createDetail) out.push(`    ${line}`)
  out.push('  read-all, time of the loop and of the whole node process (native / ceiling / dfs):')
  for (const line of readAllDetail) out.push(`    ${line}`)
  out.push('  dfs daemon CPU during each dfs measurement (user + system; a main thread near 100 % of wall = the one JavaScript thread is the limit):')
  for (const line of cpuLines) out.push(`    ${line}`)
  out.push('  ceiling CPU during each of its measurements (its main thread near 100 % of wall = the binding\'s one JavaScript thread is the limit):')
  for (const line of memCpuLines) out.push(`    ${line}`)
  if (opts.runs > 1) {
    out.push('  every run (native / ceiling / dfs):')
    const list = (s: Samples, d?: number) => s.native.map((v, i) => `${fmt(v, d)} / ${fmt(s.ceiling[i], d)} / ${fmt(s.dfs[i], d)}`.padStart(26)).join('')
    out.push(`    write MB/s     ${list(write, 0)}`)
    out.push(`    read MB/s      ${list(read, 0)}`)
    out.push(`    creates/s      ${list(creates, 0)}`)
    out.push(`    ls -l files/s  ${list(ls, 0)}`)
    out.push(`    read-all /s    ${list(readAll, 0)}`)
  }
  if (cpuProfDir) out.push(`  CPU profiles of the daemons (Chrome DevTools or speedscope): ${cpuProfDir}; summaries after the tables`)
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
      native: { write: m.write.native, read: m.read.native, creates: m.creates.native, stat: m.ls.native },
      ceiling: { write: m.write.ceiling, read: m.read.ceiling, creates: m.creates.ceiling, stat: m.ls.ceiling },
      embedded: { write: m.write.dfs, read: m.read.dfs, creates: m.creates.dfs, stat: m.ls.dfs },
      readLabel, progress, cpuProfDir,
      profileWindow: (name, w) => profileWindows.set(name, [...(profileWindows.get(name) ?? []), w]),
    }))
  }
  if (opts.cluster) {
    out.push(...await clusterFigures({
      repoRoot: REPO_ROOT, work: work.path, source, size: opts.size, local: config,
      localWrite: m.write.dfs, localRead: m.read.dfs, progress,
    }))
  }
  if (opts.ec) {
    await daemon?.stop() // its own cluster of 6 nodes: the main daemon goes first
    daemon = undefined
    out.push(...await ecFigures({
      repoRoot: REPO_ROOT, work: work.path, source, size: opts.size, sizeLabel: sizeLabel(opts.size), runs: opts.runs,
      cache: opts.cache, dirty: opts.dirty, logDir, cpuProfDir, progress,
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
  let measured = false
  try {
    await bench(opts)
    measured = true
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
    // A daemon writes its profile as it exits, so the last ones exist only after the cleanup.
    if (measured && cpuProfDir) await printProfileSummaries(cpuProfDir)
  }
}

/** Where each daemon's main-thread time went: the top functions and files by self time. */
async function printProfileSummaries(dir: string): Promise<void> {
  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter(name => name.endsWith('.cpuprofile'))
    // The embedded mount's daemons first (daemon-N), then the NameNode table's (namenode, client-N).
    .sort((a, b) => Number(!a.startsWith('daemon-')) - Number(!b.startsWith('daemon-')) || a.localeCompare(b, 'en', { numeric: true }))
  const out = ['', `where the dfs processes' time went (--cpu-prof; top 10; the profiles: ${dir})`]
  for (const name of names) {
    const windows = profileWindows.get(name)
    const title = windows
      ? `${name}${name.startsWith('daemon-') ? '' : ' (the NameNode table)'}, during ${windows.map(w => w.what).join(', ')}`
      : `${name}, its whole life (it took no measurement of the main table: a later table's daemon)`
    try {
      out.push(...renderProfileSummary(title, summarizeProfile(await readProfile(join(dir, name)), 10, windows)))
    } catch (err) {
      out.push(`  ${name}: cannot read it: ${(err as Error).message}`)
    }
  }
  if (names.length === 0) out.push('  no profiles were written')
  console.log(out.join('\n'))
}

process.exitCode = await main()
// Give a second Ctrl-C handler nothing to race with.
await sleep(0)
