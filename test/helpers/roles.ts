// A whole cluster as real child processes on 127.0.0.1: N `dfs datanode` servers, one `dfs namenode`
// and K clients (`dfs mount --namenode … --foreground`), each waited for by its ready line.
//
//   const c = await startRoles({ datanodes: 3, clients: 2, chunkSize: '1M', namenodeArgs: ['--orphan-grace', '2s'] })
//   const [a, b] = c.clients                          // a.mnt, b.mnt: reach them from child processes (run/sh)
//   await c.namenode.kill9(); await c.namenode.restart()   // SIGKILL, wait for 'exit'; same meta, same port
//   await c.datanodes[2].kill9()                      // a DataNode gone; .restart() brings it back on its port
//   await a.kill9()                                   // a client gone; its mount point is cleaned up
//   const d = await c.addClient(['--cache', '1M'])    // one more client
//   await chunkFiles(c.datanodes[0].dir)              // chunk files on that node's disk
//   stopRolesAfterAll()                               // at file level: stop everything, pass or fail
//
// Every process is started and ended by pid. Servers listen on port 0 the first time and print the
// address they got; a restart asks for that same port again. Teardown (stop(), stopAllRoles(), and a
// process 'exit' guard as a last resort) stops clients first (they unmount), then the NameNode, then
// the DataNodes, and lazily unmounts any mount point a client left behind.
//
// Never touch a mount with synchronous fs calls from the test process (shared notes/testing.md).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, expect } from 'vitest'
import { freePort } from '../../src/util/freePort.js'
import type { RunResult } from './run.js'
import { DFS_BIN, REPO_ROOT, forceUnmount, isMounted } from './mount.js'
import { makeTempDir, type TempDir } from './tmp.js'

// Generous on purpose: a busy 2-core machine is slow, not wrong.
const READY_TIMEOUT_MS = 120_000
const STOP_GRACE_MS = 60_000
const OUTPUT_CAP = 4 * 1024 * 1024

export interface ExitStatus {
  code: number | null
  signal: NodeJS.Signals | null
}

export type RoleKind = 'datanode' | 'namenode' | 'client'

/** One dfs process (and its restarts): started, waited for, stopped, killed. */
export class Role {
  readonly kind: RoleKind
  readonly name: string
  /** host:port it serves on (servers), known once it has started. */
  address = ''
  /** Everything it printed since it was first started, all restarts included. */
  #output = ''
  #child: ChildProcess | undefined
  #exited: Promise<ExitStatus> = Promise.resolve({ code: null, signal: null })
  #status: ExitStatus | null = null
  #starts = 0
  readonly #args: (restart: boolean) => string[]
  readonly #ready: RegExp
  readonly #onReady: (match: RegExpExecArray) => void

  constructor(kind: RoleKind, name: string, args: (restart: boolean) => string[], ready: RegExp, onReady: (m: RegExpExecArray) => void = () => {}) {
    this.kind = kind
    this.name = name
    this.#args = args
    this.#ready = ready
    this.#onReady = onReady
  }

  get pid(): number {
    return this.#child?.pid ?? -1
  }

  get running(): boolean {
    return this.#child !== undefined && this.#status === null
  }

  /** How many times it was started (a restart counts). */
  get starts(): number {
    return this.#starts
  }

  /** Null while running. */
  exitStatus(): ExitStatus | null {
    return this.#status
  }

  /** Resolves once the current process has exited ('exit' event). */
  get exited(): Promise<ExitStatus> {
    return this.#exited
  }

  output(): string {
    return this.#output
  }

  /** The last `chars` of its output, for failure messages. */
  tail(chars = 3000): string {
    const t = this.#output.trim()
    return t.length > chars ? `...${t.slice(t.length - chars)}` : t
  }

  /** Start it (again) and wait for its ready line; rejects with its output if it exits first or hangs. */
  start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`)
    const args = [DFS_BIN, ...this.#args(this.#starts > 0)]
    this.#starts++
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    this.#status = null
    live.add(this)
    this.#exited = new Promise<ExitStatus>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#status = { code, signal }
        live.delete(this)
        resolve(this.#status)
      })
    })
    const startedAt = this.#output.length
    const keep = (s: string): void => {
      this.#output += s
      if (this.#output.length > OUTPUT_CAP) this.#output = this.#output.slice(this.#output.length - OUTPUT_CAP)
    }
    child.stdout!.setEncoding('utf8')
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', keep)
    const describe = (): string => `$ node ${args.join(' ')}\n${this.#output.slice(startedAt).trim() || '(no output)'}`

    return new Promise<void>((resolve, reject) => {
      let settled = false
      let pending = ''
      const settle = (err?: Error): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (err) reject(err)
        else resolve()
      }
      const timer = setTimeout(() => {
        settle(new Error(`${this.name}: no ready line within ${READY_TIMEOUT_MS} ms\n${describe()}`))
        void this.kill9()
      }, READY_TIMEOUT_MS)
      child.stdout!.on('data', (chunk: string) => {
        keep(chunk)
        if (settled) return
        pending += chunk
        const lines = pending.split('\n')
        pending = lines.pop() ?? ''
        for (const line of lines) {
          const m = this.#ready.exec(line)
          if (m) {
            this.#onReady(m)
            settle()
            return
          }
        }
      })
      child.once('error', (e) => settle(new Error(`${this.name}: could not start: ${e.message}`)))
      void this.#exited.then((s) => {
        // let the last output arrive before quoting it
        setTimeout(() => settle(new Error(`${this.name} exited before it was ready (${s.signal ?? `code ${s.code}`})\n${describe()}`)), 50)
      })
    })
  }

  /** Start it again on the same folders and address; it must have exited. */
  async restart(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is still running (pid ${this.pid}); stop or kill9 it first`)
    await this.start()
  }

  /** SIGTERM; SIGKILL if it has not exited after a long grace. Resolves on 'exit'. */
  async stop(): Promise<void> {
    if (!this.running) return
    this.#child!.kill('SIGTERM')
    if (!(await this.#waitExit(STOP_GRACE_MS))) {
      this.#child!.kill('SIGKILL')
      await this.#exited
    }
  }

  /** SIGKILL, and resolve once it has exited ('exit' event). */
  async kill9(): Promise<void> {
    if (!this.running) return
    this.#child!.kill('SIGKILL')
    await this.#exited
  }

  /** Send a signal to the running process (SIGSTOP, SIGCONT, ...). */
  signal(sig: NodeJS.Signals): void {
    if (this.running) this.#child!.kill(sig)
  }

  /** Resolves with the first match of `re` in its output from now on (or already there if `since` is 0). */
  async waitForOutput(re: RegExp, opts: { since?: number; timeoutMs?: number } = {}): Promise<RegExpExecArray> {
    const since = opts.since ?? this.#output.length
    const deadline = Date.now() + (opts.timeoutMs ?? READY_TIMEOUT_MS)
    for (;;) {
      const m = re.exec(this.#output.slice(Math.min(since, this.#output.length)))
      if (m) return m
      if (Date.now() > deadline) throw new Error(`${this.name}: no output matching ${re} in time\n${this.tail()}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  /** Synchronous last resort for the exit guard. */
  killNow(): void {
    try {
      this.#child?.kill('SIGKILL')
    } catch {
      /* already gone */
    }
  }

  #waitExit(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms)
      void this.#exited.then(() => {
        clearTimeout(t)
        resolve(true)
      })
    })
  }
}

/** A `dfs datanode` server and its folder. */
export class DataNodeRole extends Role {
  readonly dir: string
  nodeId = ''

  constructor(name: string, dir: string, secretFile: string) {
    let port = 0
    super('datanode', name, () => ['datanode', '--dir', dir, '--listen', `127.0.0.1:${port}`, '--secret-file', secretFile],
      /^dfs datanode: serving .* as node (\S+) on (\S+:(\d+))/, (m) => {
        this.nodeId = m[1]!
        this.address = m[2]!
        port = Number(m[3])
      })
    this.dir = dir
  }

  get url(): string {
    return `tcp://${this.address}`
  }
}

/** The `dfs namenode`: first start with the cluster settings, restarts on the same meta and port. */
export class NameNodeRole extends Role {
  readonly meta: string
  clusterId = ''

  constructor(meta: string, secretFile: string, firstArgs: () => string[], args: string[]) {
    let port = 0
    super('namenode', 'namenode', (restart) => [
      'namenode', '--meta', meta, '--listen', `127.0.0.1:${port}`, '--secret-file', secretFile,
      ...(restart ? [] : firstArgs()), ...args,
    ], /^dfs namenode: serving cluster (\S+) on tcp:\/\/(\S+:(\d+)) /, (m) => {
      this.clusterId = m[1]!
      this.address = m[2]!
      port = Number(m[3])
    })
    this.meta = meta
  }

  get url(): string {
    return `tcp://${this.address}`
  }
}

/**
 * A `dfs namenode --standby-of <the NameNode>` with its own metadata folder. `promote()` stops it and
 * runs `dfs namenode --meta <its folder> --promote` on the address reserved for it (the one clients
 * have as their second --namenode address); restart() after that restarts the promoted NameNode.
 */
export class StandbyRole extends Role {
  readonly meta: string
  readonly port: number
  #promoted = false
  #promoteArgs: string[] = []

  constructor(meta: string, secretFile: string, primary: () => string, port: number) {
    super('namenode', 'standby', () => this.#promoted
      ? ['namenode', '--meta', meta, '--promote', '--listen', `127.0.0.1:${port}`, '--secret-file', secretFile, ...this.#promoteArgs]
      : ['namenode', '--standby-of', primary(), '--meta', meta, '--secret-file', secretFile],
    /^dfs namenode: (standby of|serving cluster) /)
    this.meta = meta
    this.port = port
    this.address = `127.0.0.1:${port}`
  }

  get url(): string {
    return `tcp://${this.address}`
  }

  get promoted(): boolean {
    return this.#promoted
  }

  /** Stop the standby (SIGTERM) and start it promoted; resolves once it serves. */
  async promote(args: string[] = []): Promise<void> {
    await this.stop()
    this.#promoted = true
    this.#promoteArgs = args
    await this.start()
  }
}

/** A `dfs mount <mnt> --namenode … --foreground` client with its own mount point and log folder. */
export class ClientRole extends Role {
  readonly mnt: string
  readonly logDir: string

  constructor(name: string, dir: string, namenode: () => string, secretFile: string, args: string[]) {
    const mnt = join(dir, 'mnt')
    const logDir = join(dir, 'logs')
    mkdirSync(mnt, { recursive: true })
    mkdirSync(logDir, { recursive: true })
    super('client', name, () => ['mount', mnt, '--namenode', namenode(), '--secret-file', secretFile, '--foreground', '--log-dir', logDir, ...args],
      /^dfs: mounted /)
    this.mnt = mnt
    this.logDir = logDir
    mountpoints.add(mnt)
  }

  get mounted(): boolean {
    return isMounted(this.mnt)
  }

  /** Its log file (it logs into --log-dir, not to stderr). */
  async log(): Promise<string> {
    return readFile(join(this.logDir, 'current.log'), 'utf8').catch(() => '')
  }

  async logTail(chars = 3000): Promise<string> {
    const t = (await this.log()).trim()
    return t.length > chars ? `...${t.slice(t.length - chars)}` : t
  }

  /** SIGTERM (the daemon unmounts), then a lazy unmount if the mount is still there. */
  override async stop(): Promise<void> {
    await super.stop()
    if (isMounted(this.mnt)) await forceUnmount(this.mnt)
  }

  /** SIGKILL; the dead mount point is then unmounted so nothing trips over it. */
  override async kill9(): Promise<void> {
    await super.kill9()
    if (isMounted(this.mnt)) await forceUnmount(this.mnt)
  }
}

// ---- registry and the exit guard -----------------------------------------------------------------

const live = new Set<Role>()
const mountpoints = new Set<string>()
const clusters = new Set<Roles>()
const GUARD = Symbol.for('dfs.test.rolesExitGuard')
const holder = globalThis as typeof globalThis & { [GUARD]?: boolean }
if (!holder[GUARD]) {
  holder[GUARD] = true
  // The test process is going away without its teardown (a crash, a worker torn down): kill what is
  // left by pid and lazily unmount the client mount points, synchronously (all an 'exit' hook can do).
  process.once('exit', () => {
    for (const role of live) role.killNow()
    for (const mnt of mountpoints) {
      if (!isMounted(mnt)) continue
      try {
        execFileSync('fusermount', ['-uz', mnt], { stdio: 'ignore', timeout: 10_000 })
      } catch {
        try {
          execFileSync('umount', ['-l', mnt], { stdio: 'ignore', timeout: 10_000 })
        } catch {
          /* nothing more to do */
        }
      }
    }
  })
}

// ---- a cluster of roles --------------------------------------------------------------------------

export const TEST_SECRET = 'dfs multi-client test secret: correct horse battery staple'

export interface RolesOptions {
  /** DataNode servers (default 3). */
  datanodes?: number
  /** Clients mounted at start (default 2). */
  clients?: number
  /** NameNode first start: --replicas (default: dfs's). */
  replicas?: number
  /** NameNode first start: --chunk-size, e.g. '1M'. */
  chunkSize?: string
  /** NameNode flags on every start (service tunables: --orphan-grace, --dead-after, ...). */
  namenodeArgs?: string[]
  /** Flags for the clients started here (--cache, --namenode-timeout, ...). */
  clientArgs?: string[]
  /** A standby NameNode too, started after the NameNode; clients get its reserved address as their second --namenode. */
  standby?: boolean
}

export class Roles {
  readonly root: string
  readonly secretFile: string
  readonly datanodes: DataNodeRole[] = []
  readonly namenode: NameNodeRole
  readonly clients: ClientRole[] = []
  standby: StandbyRole | undefined
  readonly #dir: TempDir
  readonly #clientArgs: string[]

  constructor(opts: RolesOptions = {}) {
    this.#dir = makeTempDir('dfs-roles-')
    this.root = this.#dir.path
    this.secretFile = join(this.root, 'secret')
    writeFileSync(this.secretFile, TEST_SECRET + '\n', { mode: 0o600 })
    this.#clientArgs = opts.clientArgs ?? []
    for (let i = 1; i <= (opts.datanodes ?? 3); i++) {
      const dir = join(this.root, `node_${i}`)
      mkdirSync(dir)
      this.datanodes.push(new DataNodeRole(`datanode ${i}`, dir, this.secretFile))
    }
    const meta = join(this.root, 'meta')
    mkdirSync(meta)
    const first = (): string[] => [
      '--nodes', this.datanodes.map((d) => d.url).join(','),
      ...(opts.replicas !== undefined ? ['--replicas', String(opts.replicas)] : []),
      ...(opts.chunkSize !== undefined ? ['--chunk-size', opts.chunkSize] : []),
    ]
    this.namenode = new NameNodeRole(meta, this.secretFile, first, opts.namenodeArgs ?? [])
    clusters.add(this)
  }

  /** A client more (not yet started when `start` is false). */
  async addClient(args: string[] = this.#clientArgs, start = true): Promise<ClientRole> {
    const n = this.clients.length + 1
    const addresses = () => [this.namenode.url, ...(this.standby ? [this.standby.url] : [])].join(',')
    const client = new ClientRole(`client ${n}`, join(this.root, `client_${n}`), addresses, this.secretFile, args)
    this.clients.push(client)
    if (start) await client.start()
    return client
  }

  /** A standby of the NameNode, on a folder of its own, with a free port kept for its promotion. */
  async addStandby(start = true): Promise<StandbyRole> {
    const meta = join(this.root, 'standby-meta')
    this.standby = new StandbyRole(meta, this.secretFile, () => this.namenode.url, await freePort())
    if (start) await this.standby.start()
    return this.standby
  }

  /** A command that must have worked; else the test fails with its output and every role's. */
  async ok<T>(r: RunResult<T>, what: string): Promise<RunResult<T>> {
    if (r.code !== 0) {
      const out = typeof r.stdout === 'string' ? r.stdout : ''
      expect.fail(`${what}: exit ${r.code}\nstderr: ${r.stderr.trim()}\nstdout: ${out.trim().slice(-2000)}\n${await this.tails()}`)
    }
    return r
  }

  /** Every role's output (and client logs) tail, for a failure message. */
  async tails(chars = 2000): Promise<string> {
    const parts: string[] = []
    for (const r of [this.namenode, ...(this.standby ? [this.standby] : []), ...this.datanodes]) parts.push(`--- ${r.name} (pid ${r.pid}) ---\n${r.tail(chars)}`)
    for (const c of this.clients) parts.push(`--- ${c.name} (pid ${c.pid}) ---\n${c.tail(chars)}\n${await c.logTail(chars)}`)
    return parts.join('\n')
  }

  /** Stop clients (they unmount), then the NameNode, then the DataNodes; remove the folder. */
  async stop(): Promise<void> {
    clusters.delete(this)
    await Promise.all(this.clients.map((c) => c.stop().catch(() => c.kill9())))
    await this.standby?.stop().catch(() => this.standby?.kill9())
    await this.namenode.stop().catch(() => this.namenode.kill9())
    await Promise.all(this.datanodes.map((d) => d.stop().catch(() => d.kill9())))
    for (const c of this.clients) if (isMounted(c.mnt)) await forceUnmount(c.mnt)
    await this.#dir.cleanup()
  }
}

/** Start the DataNodes, then the NameNode, then the clients; on a failure, stop what started. */
export async function startRoles(opts: RolesOptions = {}): Promise<Roles> {
  const roles = new Roles(opts)
  try {
    await Promise.all(roles.datanodes.map((d) => d.start()))
    await roles.namenode.start()
    if (opts.standby) await roles.addStandby()
    for (let i = 0; i < (opts.clients ?? 2); i++) await roles.addClient()
  } catch (err) {
    await roles.stop().catch(() => {})
    throw err
  }
  return roles
}

/** Stop every cluster of roles this process started and has not stopped. */
export async function stopAllRoles(): Promise<void> {
  for (const c of [...clusters]) await c.stop()
}

/** At file or describe level: stopAllRoles() after all tests there, pass or fail. */
export function stopRolesAfterAll(): void {
  afterAll(stopAllRoles)
}

// ---- what is on the DataNodes' disks -------------------------------------------------------------

/** Chunk file names (ids) in a node folder (dir/chunks/xx/<id>); none when the folder is gone. */
export async function chunkIds(dir: string): Promise<string[]> {
  const ids: string[] = []
  const shards = await readdir(join(dir, 'chunks')).catch(() => [] as string[])
  for (const shard of shards) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue
    for (const name of await readdir(join(dir, 'chunks', shard)).catch(() => [] as string[])) {
      if (/^[0-9a-f]{32}$/.test(name)) ids.push(name)
    }
  }
  return ids.sort()
}

/** How many chunk files a node folder holds. */
export async function chunkFiles(dir: string): Promise<number> {
  return (await chunkIds(dir)).length
}
