// The NameNode figures of `npm run bench`: a client mount of a `dfs namenode` over TCP on 127.0.0.1
// (`dfs namenode` + `dfs mount --namenode`), measured the way the main table measures the embedded
// mount (measure.ts: the same create, ls -l, write and cold read), and shown as ratios to the
// ceiling's (the in-memory FUSE file system) and the embedded mount's medians from the same run; the
// targets are ratios to the ceiling (targets.ts). The cluster is of the same kind as the embedded one: 3
// local-folder nodes on the same disk, 2 replicas, the default chunk size, the same --cache/--dirty.
// Namespace operations cross the TCP hop (each create is a round trip to the NameNode); chunk bytes go
// from the client to the node folders directly, as in the embedded mount.

import { mkdir, rm, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { MountProcess, unmountIfMounted, waitIdle } from './daemon.js'
import { busyPercent, dropCaches, machineCpu } from './machine.js'
import { createFiles, dd, deletedMany, listFiles, restAfterDeletes } from './measure.js'
import { run, sleep } from './proc.js'
import { fmt, fmtRatio, median, ratioTo, renderTable, verdict } from './report.js'
import { NAMENODE_CEILING_TARGETS } from './targets.js'
import { profileClock, type Window } from './profileSummary.js'

export interface NameNodeBenchInput {
  repoRoot: string
  work: string
  /** The random source file of the writes (in the page cache before each). */
  source: string
  size: number
  sizeLabel: string
  files: number
  fileSize: number
  runs: number
  createScript: string
  nodes: number
  replicas: number
  cache?: string
  dirty?: string
  logDir: string
  /** Native's, the ceiling's and the embedded mount's medians from the main table (MB/s, files/s; stat: ls -l files/s). */
  native: MainMedians
  ceiling: MainMedians
  embedded: MainMedians
  /** Whether the main table's read was cold (caches dropped): this one is taken the same way. */
  readLabel: string
  progress: (message: string) => void
  /** With --cpu-prof: profile the NameNode and each client there, and mark each measurement's window. */
  cpuProfDir?: string
  profileWindow?: (profileName: string, window: Window & { what: string }) => void
}

export interface MainMedians {
  write: number
  read: number
  creates: number
  stat: number
}

/** The processes of this phase, so the bench's cleanup (also on Ctrl-C) can stop them. */
let running: MountProcess[] = []

/** Stop the client, then the NameNode (SIGTERM; the client stores what it buffered first). */
export async function stopNameNodeRun(): Promise<void> {
  for (const p of running.splice(0).reverse()) await p.stop()
}

/** SIGKILL (a second Ctrl-C). */
export function killNameNodeRun(): void {
  for (const p of running) p.kill()
}

export async function nameNodeFigures(input: NameNodeBenchInput): Promise<string[]> {
  const root = join(input.work, 'namenode')
  const nodes = Array.from({ length: input.nodes }, (_, i) => join(root, `node_${i + 1}`))
  const meta = join(root, 'meta')
  const mnt = join(root, 'mnt')
  const secret = join(root, 'secret')
  for (const d of [...nodes, meta, mnt]) await mkdir(d, { recursive: true })
  await writeFile(secret, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 })
  const bin = join(input.repoRoot, 'bin', 'dfs.js')
  let started = 0
  const profiled = (name: string) => (input.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${input.cpuProfDir}`, `--cpu-prof-name=${name}`] : [])
  const NAMENODE_PROFILE = 'namenode.cpuprofile'
  let clientProfile = ''

  input.progress('NameNode: starting dfs namenode on 127.0.0.1')
  const namenode = await MountProcess.launch({
    // A NameNode mounts nothing; its "mount point" is only where the stop looks for a leftover mount.
    what: 'dfs namenode', readyPrefix: 'dfs namenode: serving', mountpoint: meta,
    argv: [...profiled(NAMENODE_PROFILE), bin, 'namenode', '--meta', meta, '--nodes', nodes.join(','), '--replicas', String(input.replicas),
      '--listen', '127.0.0.1:0', '--secret-file', secret],
    cwd: input.repoRoot, logPath: join(input.logDir, 'namenode.log'),
  })
  running.push(namenode)
  const address = / on (tcp:\/\/\S+) /.exec(namenode.readyLine)?.[1]
  if (!address) throw new Error(`dfs namenode printed no address: ${namenode.readyLine}`)
  const mountClient = async () => {
    const n = ++started
    clientProfile = `client-${n}.cpuprofile`
    const client = await MountProcess.launch({
      what: 'the dfs client mount', readyPrefix: 'dfs: mounted', mountpoint: mnt,
      argv: [...profiled(clientProfile), bin, 'mount', mnt, '--namenode', address, '--secret-file', secret,
        ...(input.cache ? ['--cache', input.cache] : []), ...(input.dirty ? ['--dirty', input.dirty] : []), '--foreground'],
      cwd: input.repoRoot, logPath: join(input.logDir, `client-${n}.log`),
    })
    running.push(client)
    return client
  }
  input.progress(`NameNode: mounting a client of ${address}`)
  let client = await mountClient()

  /** Untimed: wait until neither process uses the CPU (as the main table does), at most 10 s. */
  const quiet = async () => {
    await waitIdle([namenode, client])
  }
  const cpuLines: string[] = []
  const withCpu = async <T>(what: string, measure: () => Promise<T>): Promise<T> => {
    await quiet()
    const before = { nn: namenode.cpu(), client: client.cpu(), machine: await machineCpu() }
    const from = profileClock()
    const start = performance.now()
    const result = await measure()
    const wall = (performance.now() - start) / 1000
    const to = profileClock()
    for (const name of [NAMENODE_PROFILE, clientProfile]) input.profileWindow?.(name, { what, from, to })
    const after = { nn: namenode.cpu(), client: client.cpu(), machine: await machineCpu() }
    const main = (a: { main: number } | null, b: { main: number } | null) => (a && b ? `${fmt((100 * (b.main - a.main)) / wall, 0)} %` : '?')
    cpuLines.push(`${what.padEnd(18)} client main thread ${main(before.client, after.client)}, NameNode main thread ${main(before.nn, after.nn)} of ${fmt(wall)} s wall; ` +
      `all CPUs ${fmt(busyPercent(before.machine, after.machine), 0)} % busy`)
    return result
  }

  const write: number[] = []
  const read: number[] = []
  const creates: number[] = []
  const ls: number[] = []
  let standbyRows: string[] = []
  try {
    for (let r = 1; r <= input.runs; r++) {
      const tag = `NameNode run ${r}/${input.runs}`
      // A file of its own per run, kept: no delete lands in a later run's creates (measure.ts, RECENTLY_DELETED_MS).
      const big = join(mnt, `big-${r}.bin`)
      await run('sync', [])
      await run('dd', [`if=${input.source}`, 'of=/dev/null', 'bs=1M'])
      write.push(await withCpu(`write (run ${r})`, () => dd([`if=${input.source}`, `of=${big}`, 'conv=fsync'], input.size)))
      input.progress(`${tag}: write ${fmt(write.at(-1)!)} MB/s`)

      // Cold read: a new client (its chunk cache empty), caches dropped. The NameNode stays up: it
      // holds no chunk bytes the client reads.
      await client.stop()
      running = running.filter(p => p !== client)
      client = await mountClient()
      await quiet()
      await dropCaches()
      read.push(await withCpu(`read (run ${r})`, () => dd([`if=${big}`, 'of=/dev/null'], input.size)))
      input.progress(`${tag}: read  ${fmt(read.at(-1)!)} MB/s`)

      // Untimed first, as in the main table (run.ts): the client just started runs its first creates
      // mostly in V8's interpreter.
      await run('mkdir', [join(mnt, `warm-${r}`)])
      await createFiles(input.createScript, join(mnt, `warm-${r}`), input.files, input.fileSize)
      const dir = join(mnt, `files-${r}`)
      await run('mkdir', [dir])
      await run('sync', [])
      const c = await withCpu(`create (run ${r})`, () => createFiles(input.createScript, dir, input.files, input.fileSize))
      creates.push(c.perSecond)
      input.progress(`${tag}: creates ${fmt(c.perSecond, 0)} files/s`)
      const ms = await withCpu(`2 × ls -l (run ${r})`, () => listFiles(dir, input.files))
      ls.push(input.files / (ms / 1000))
      input.progress(`${tag}: ls -l ${fmt(ms)} ms`)
    }
    standbyRows = await standbyFigures({ ...input, bin, address, secret, root, mnt, withCpu })
  } finally {
    await stopNameNodeRun()
    await unmountIfMounted(mnt)
    await rm(root, { recursive: true, force: true })
  }

  const e = input.embedded
  const c = input.ceiling
  const n = input.native
  const m = { write: median(write), read: median(read), creates: median(creates), stat: median(ls) }
  const t = NAMENODE_CEILING_TARGETS
  // Every figure a rate: 1.00× = as fast, higher is better.
  const row = (figure: string, key: keyof MainMedians, min: number, judged = true) => {
    const vsCeiling = ratioTo(m[key], c[key])
    return [figure, fmt(n[key], 0), fmt(c[key], 0), fmt(e[key], 0), fmt(m[key], 0),
      fmtRatio(ratioTo(m[key], n[key])), fmtRatio(vsCeiling), fmtRatio(ratioTo(m[key], e[key])),
      `≥ ${min.toFixed(2)}× ceiling`, judged ? verdict(vsCeiling, { atLeast: min }) : '—']
  }
  const rows = [
    row(`create ${fmt(input.files, 0)} × 4 KiB files, files/s`, 'creates', t.creates),
    row(`ls -l stat rate, ${fmt(input.files, 0)} files (warm), files/s`, 'stat', t.stat),
    row(`sequential write ${input.sizeLabel} (conv=fsync), MB/s`, 'write', t.write),
    row(`${input.readLabel} ${input.sizeLabel}, MB/s`, 'read', t.read, !input.readLabel.includes('WARM')),
  ]
  const out = [
    '',
    `A client of a NameNode over TCP (dfs namenode + dfs mount --namenode on 127.0.0.1; ${input.nodes} local-folder nodes, ${input.replicas} replicas, as above) vs native, the ceiling and the embedded mount (the columns above):`,
    renderTable(['figure', 'native', 'ceiling', 'embedded', 'namenode tcp', 'tcp ÷ native', 'tcp ÷ ceiling', 'tcp ÷ embedded', 'target', 'result'], rows,
      [false, true, true, true, true, true, true, true, false, false]),
    '  measured after the main table, the same way (median of the runs); the client mount is restarted before the read, the NameNode is not',
    '  every figure a rate: 1.00× = as fast, higher is better; native, ceiling and embedded are the medians of the main table',
    '  CPU during each measurement (the client answers FUSE calls; the NameNode answers its namespace requests):',
    ...cpuLines.map(line => `    ${line}`),
  ]
  if (input.runs > 1) {
    const list = (values: number[], d?: number) => values.map(v => fmt(v, d)).join(' / ')
    out.push(`  every run: write ${list(write, 0)} MB/s; read ${list(read, 0)} MB/s; creates ${list(creates, 0)} files/s; ls -l ${list(ls, 0)} files/s`)
  }
  return [...out, ...standbyRows]
}

/** Files per fsync'd-create measurement: each one is a journal fsync (and, with a standby, its ack). */
const FSYNC_FILES = 300

/**
 * The price of a standby: fsync'd creates and an fsync'd sequential write on the same client, first
 * with the NameNode alone, then with a standby following it (another `dfs namenode --standby-of`
 * on this host, its folder on the same disk), alternating, median of the runs.
 */
async function standbyFigures(input: NameNodeBenchInput & {
  bin: string; address: string; secret: string; root: string; mnt: string
  withCpu: <T>(what: string, measure: () => Promise<T>) => Promise<T>
}): Promise<string[]> {
  const standbyMeta = join(input.root, 'standby-meta')
  const alone = { creates: [] as number[], write: [] as number[] }
  const paired = { creates: [] as number[], write: [] as number[] }
  let n = 0
  const measure = async (into: typeof alone, label: string) => {
    const dir = join(input.mnt, `fsync-${++n}`)
    await run('mkdir', [dir])
    await restAfterDeletes()
    await run('sync', [])
    const c = await input.withCpu(`fsync'd creates, ${label}`, () => createFiles(input.createScript, dir, FSYNC_FILES, 4096, true))
    into.creates.push(c.perSecond)
    const big = join(input.mnt, `fsync-big-${n}.bin`)
    await run('dd', [`if=${input.source}`, 'of=/dev/null', 'bs=1M'])
    into.write.push(await input.withCpu(`fsync'd write, ${label}`, () => dd([`if=${input.source}`, `of=${big}`, 'conv=fsync'], input.size)))
    // The big file goes (its folder of fsync'd files stays: small, and a delete slows the next creates).
    await run('rm', ['-f', big])
    deletedMany()
    input.progress(`NameNode ${label}: fsync'd creates ${fmt(c.perSecond, 0)} files/s, write ${fmt(into.write.at(-1)!)} MB/s`)
  }
  for (let r = 1; r <= input.runs; r++) {
    await measure(alone, `alone (run ${r}/${input.runs})`)
    input.progress('NameNode: starting a standby')
    const standby = await MountProcess.launch({
      what: 'dfs namenode --standby-of', readyPrefix: 'dfs namenode: standby of', mountpoint: standbyMeta,
      argv: [input.bin, 'namenode', '--standby-of', input.address, '--meta', standbyMeta, '--secret-file', input.secret],
      cwd: input.repoRoot, logPath: join(input.logDir, `standby-${r}.log`),
    })
    running.push(standby)
    try {
      await untilFollowing(input)
      await measure(paired, `with a standby (run ${r}/${input.runs})`)
    } finally {
      await standby.stop()
      running = running.filter(p => p !== standby)
    }
  }
  const ratio = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '—')
  const a = { creates: median(alone.creates), write: median(alone.write) }
  const p = { creates: median(paired.creates), write: median(paired.write) }
  return [
    '',
    'The same NameNode alone vs with a standby following it (dfs namenode --standby-of, on this host and disk): fsyncs wait for the standby\'s ack',
    renderTable(['figure', 'alone', 'with standby', 'standby vs alone'], [
      [`create ${FSYNC_FILES} × 4 KiB files, each fsync'd, files/s`, fmt(a.creates, 0), fmt(p.creates, 0), ratio(p.creates / a.creates)],
      [`sequential write ${input.sizeLabel} (conv=fsync), MB/s`, fmt(a.write, 0), fmt(p.write, 0), ratio(p.write / a.write)],
    ], [false, true, true, true]),
    '  alternating runs, median; 1.00× = no cost, lower = the standby\'s price',
  ]
}

/** Until `dfs status --namenode` says the standby follows (took its snapshot), at most 120 s. */
async function untilFollowing(input: { bin: string; address: string; secret: string; repoRoot: string }): Promise<void> {
  const deadline = Date.now() + 120_000
  for (;;) {
    const r = await run(process.execPath, [input.bin, 'status', '--namenode', input.address, '--secret-file', input.secret, '--json'], { cwd: input.repoRoot })
    if ((JSON.parse(r.stdout) as { standby?: { state?: string } }).standby?.state === 'following') return
    if (Date.now() > deadline) throw new Error('the standby did not catch up within 120 s')
    await sleep(200)
  }
}
