// `dfs balance` and `dfs drain` inside the mount daemon: one job at a time, run in the background,
// its progress read by polling status().
//
// Balance: plan moves from the most-used to the least-used writable nodes until every node holds
// the mean of referenced bytes within a tolerance (5 % of the mean or the largest chunk, whichever
// is more), then move them; plan again from the namespace as it is then (files changed meanwhile),
// for a few rounds or until a plan is empty. Each chunk moves at most once per job, so at most one of
// its copies is ever in flight.
//
// Drain: take the node out of the write pool at once (it stays readable), then move every chunk
// with a copy on it to the least-used writable node without one, round after round until no file
// references a chunk there (chunks being written when the drain began are caught by the next
// round). Then the cluster settings record the node as drained, so the next mount may leave it out
// of --nodes. A drain that would leave fewer than R alive nodes is refused before anything changes.
//
// Every move goes through moveCopy() under the chunk's lock shared with the healer.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import type { NodeRegistry } from '../../chunks/NodeRegistry.js'
import { type DfsError, dfsError, isDfsError } from '../../errors.js'
import type { ChunkLocks } from '../chunkLocks.js'
import { chunkBatches } from '../healer/chunkWalk.js'
import { RateMeter } from '../healer/RateMeter.js'
import { TokenBucket, sleep } from '../healer/TokenBucket.js'
import type { NamespaceMetaStore } from '../openCluster.js'
import { moveCopy } from './moveCopy.js'
import { type ChunkCopies, type PlannedMove, isBalanced, planBalance, planDrain, usageOf } from './plan.js'

export interface RebalanceOptions {
  /** Bytes per second moves may copy (0 = no limit). Default 256 MiB/s, like the healer. */
  bandwidthBytesPerSec?: number
  /** Moves at once. Default 4. */
  concurrency?: number
  /** Fraction of the mean a node may be off it. Default 0.05. */
  tolerance?: number
  /** Plan-and-move rounds before a job gives up. Default 5 for balance, 10 for drain. */
  maxRounds?: number
  /** Pause before a round that follows one that moved nothing (ms). Default 200. */
  retryDelayMs?: number
}

export const DEFAULT_REBALANCE_OPTIONS = {
  bandwidthBytesPerSec: 256 * 1024 * 1024,
  concurrency: 4,
  tolerance: 0.05,
  retryDelayMs: 200,
}

export type RebalanceMeta = Pick<NamespaceMetaStore, 'state' | 'commit' | 'sync' | 'settings' | 'updateSettings'>
export type RebalanceRegistry = Pick<NodeRegistry, 'get' | 'ids' | 'status' | 'statuses' | 'health' | 'writable' | 'setDraining' | 'markFull' | 'markSuspect'>

export interface RebalancerDeps {
  meta: RebalanceMeta
  registry: RebalanceRegistry
  /** Copies of each chunk (R). */
  replicas: number
  /** Shared with the healer: one repair or move of a chunk at a time. */
  locks: ChunkLocks
  log: (message: string) => void
  /** Told of copies found missing or corrupt on the way (the healer's reportBadCopy). */
  onBadCopy?: (ref: ChunkRef, nodeId: string, error: DfsError) => void
  options?: RebalanceOptions
}

export interface NodeUsageReport {
  nodeId: string
  address: string
  /** Referenced bytes when the job began, and now (as of the last plan, plus the moves since). */
  before: number
  now: number
}

/** What `dfs balance`, `dfs drain` and `dfs status` show. */
export interface RebalanceStatus {
  /** Counts up per daemon: the CLI follows the job it started. */
  id: number
  kind: 'balance' | 'drain'
  /** The node being drained. */
  node?: { nodeId: string; address: string }
  state: 'running' | 'done' | 'failed' | 'stopped'
  startedAt: number
  finishedAt?: number
  elapsedMs: number
  round: number
  /** Moves planned so far (later rounds add theirs), and how they went. */
  plannedChunks: number
  plannedBytes: number
  movedChunks: number
  movedBytes: number
  /** Moves given up because the file moved on, or the copy was gone already. */
  skippedChunks: number
  failedChunks: number
  /** Copy speed over the last 5 s. */
  bytesPerSec: number
  /** Balance: bytes a node may be off the mean; balanced: whether usage is within it. */
  toleranceBytes?: number
  balanced?: boolean
  /** Drain: chunks still with a copy on the node. */
  remainingChunks?: number
  nodes: NodeUsageReport[]
  /** Why it failed. */
  error?: string
}

interface Job {
  status: RebalanceStatus
  rate: RateMeter
  /** Chunk ids this job moved (each moves once). */
  moved: Set<string>
  done: Promise<void>
}

export class Rebalancer {
  readonly #deps: RebalancerDeps
  readonly #options: Required<Omit<RebalanceOptions, 'maxRounds'>> & { maxRounds?: number }
  readonly #bucket: TokenBucket
  readonly #abort = new AbortController()
  #job: Job | undefined
  #nextId = 1

  constructor(deps: RebalancerDeps) {
    this.#deps = deps
    const given = Object.fromEntries(Object.entries(deps.options ?? {}).filter(([, v]) => v !== undefined))
    this.#options = { ...DEFAULT_REBALANCE_OPTIONS, ...given }
    this.#options.concurrency = Math.max(1, Math.floor(this.#options.concurrency))
    this.#bucket = new TokenBucket(this.#options.bandwidthBytesPerSec)
  }

  /** The job running, else the last one (undefined before the first). */
  status(): RebalanceStatus | undefined {
    const job = this.#job
    if (!job) return undefined
    const s = job.status
    return {
      ...s,
      elapsedMs: (s.finishedAt ?? Date.now()) - s.startedAt,
      bytesPerSec: s.state === 'running' ? job.rate.perSecond() : s.elapsedMs > 0 ? Math.round(s.movedBytes / (s.elapsedMs / 1000)) : 0,
      nodes: s.nodes.map((n) => ({ ...n })),
      ...(s.node ? { node: { ...s.node } } : {}),
    }
  }

  get running(): boolean {
    return this.#job?.status.state === 'running'
  }

  /** Start balancing. Throws ALREADY_RUNNING while a job runs. */
  balance(): RebalanceStatus {
    this.#assertIdle()
    const job = this.#newJob('balance')
    job.done = this.#run(job, () => this.#balance(job))
    return this.status()!
  }

  /**
   * Start draining a node, named by id or address (`resolved`: the address as an absolute path, for
   * a folder named relative to the caller's directory). Throws BAD_ARGUMENT for an unknown node,
   * NOT_ENOUGH_NODES when fewer than R alive nodes would be left, ALREADY_RUNNING while a job runs.
   */
  drain(name: string, resolved?: string): RebalanceStatus {
    this.#assertIdle()
    const { registry, replicas } = this.#deps
    const all = registry.statuses()
    const target = all.find((s) => s.nodeId === name) ?? all.find((s) => s.address === name || (resolved !== undefined && s.address === resolved))
    if (!target) {
      throw dfsError('BAD_ARGUMENT', `no node ${name} in this cluster; dfs status lists the nodes (by id or address)`, { node: name })
    }
    const others = all.filter((s) => s.nodeId !== target.nodeId && s.health === 'alive' && !s.draining)
    if (others.length < replicas) {
      throw dfsError('NOT_ENOUGH_NODES',
        `draining ${target.address} would leave ${others.length} alive node${others.length === 1 ? '' : 's'} for ${replicas} replicas; add a node first`,
        { node: target.address, alive: others.length, replicas })
    }
    registry.setDraining(target.nodeId, true) // out of the write pool before anything else happens
    this.#deps.log(`drain: ${target.address} takes no new chunks; moving its chunks to other nodes`)
    const job = this.#newJob('drain', { nodeId: target.nodeId, address: target.address })
    job.done = this.#run(job, () => this.#drain(job, target.nodeId))
    return this.status()!
  }

  /** Resolves when the job running now (if any) has ended. */
  async settle(): Promise<RebalanceStatus | undefined> {
    await this.#job?.done
    return this.status()
  }

  /** Stop after the moves in flight (each finishes or leaves the chunk as it was). */
  async stop(): Promise<void> {
    this.#abort.abort()
    await this.#job?.done
  }

  #assertIdle(): void {
    if (this.#abort.signal.aborted) throw dfsError('EIO', 'the daemon is stopping')
    const s = this.#job?.status
    if (s?.state === 'running') {
      const what = s.kind === 'drain' ? `a drain of ${s.node?.address}` : 'a balance'
      throw dfsError('ALREADY_RUNNING', `${what} is already running (${s.movedChunks} of ${s.plannedChunks} chunks moved); dfs status shows its progress`, { kind: s.kind })
    }
  }

  #newJob(kind: RebalanceStatus['kind'], node?: { nodeId: string; address: string }): Job {
    const now = Date.now()
    const status: RebalanceStatus = {
      id: this.#nextId++, kind, ...(node ? { node } : {}), state: 'running', startedAt: now, elapsedMs: 0, round: 0,
      plannedChunks: 0, plannedBytes: 0, movedChunks: 0, movedBytes: 0, skippedChunks: 0, failedChunks: 0, bytesPerSec: 0, nodes: [],
    }
    const job: Job = { status, rate: new RateMeter(), moved: new Set(), done: Promise.resolve() }
    this.#job = job
    return job
  }

  async #run(job: Job, body: () => Promise<void>): Promise<void> {
    const s = job.status
    try {
      await body()
      if (this.#abort.signal.aborted && s.state === 'running') s.state = 'stopped'
      else if (s.state === 'running') s.state = 'done'
    } catch (err) {
      s.state = 'failed'
      s.error = (err as Error).message
      this.#deps.log(`${s.kind}: failed: ${(err as Error).message}`)
    }
    s.finishedAt = Date.now()
    s.elapsedMs = s.finishedAt - s.startedAt
    if (s.kind === 'drain' && s.state !== 'done' && s.node) this.#deps.registry.setDraining(s.node.nodeId, false)
  }

  // ---- balance -------------------------------------------------------------------------------------

  async #balance(job: Job): Promise<void> {
    const { registry } = this.#deps
    const s = job.status
    const maxRounds = this.#options.maxRounds ?? 5
    for (let round = 1; round <= maxRounds && !this.#stopping; round++) {
      const chunks = await this.#snapshot()
      const members = registry.ids().filter((n) => registry.health(n) === 'alive' && !registry.status(n)?.draining)
      const targets = registry.writable().filter((n) => members.includes(n))
      const largest = chunks.reduce((max, c) => Math.max(max, c.len), 0)
      const before = usageOf(chunks, members)
      const mean = members.length ? [...before.values()].reduce((a, b) => a + b, 0) / members.length : 0
      const tolerance = Math.max(Math.ceil(this.#options.tolerance * mean), largest)
      const { moves } = planBalance({ chunks, nodes: members, targets, tolerance, exclude: job.moved })
      s.toleranceBytes = tolerance
      s.round = round
      this.#setUsage(s, before, round === 1)
      s.balanced = isBalanced(before, tolerance, targets)
      if (moves.length === 0) break
      if (round === 1) this.#deps.log(`balance: moving ${moves.length} chunks (${moves.reduce((a, m) => a + m.len, 0)} bytes) across ${members.length} nodes`)
      const movedBefore = s.movedChunks
      await this.#execute(job, moves)
      if (s.movedChunks === movedBefore) break // nothing could move: another round would plan the same
    }
    const finalChunks = await this.#snapshot()
    const members = s.nodes.map((n) => n.nodeId)
    const used = usageOf(finalChunks, members)
    this.#setUsage(s, used, false)
    s.balanced = isBalanced(used, s.toleranceBytes ?? 0, registry.writable())
    this.#deps.log(`balance: ${s.balanced ? 'balanced' : 'done, not within tolerance'}; moved ${s.movedChunks} chunks (${s.movedBytes} bytes), ${s.failedChunks} failed`)
  }

  // ---- drain ---------------------------------------------------------------------------------------

  async #drain(job: Job, nodeId: string): Promise<void> {
    const { registry } = this.#deps
    const s = job.status
    const maxRounds = this.#options.maxRounds ?? 10
    for (let round = 1; !this.#stopping; round++) {
      const chunks = await this.#snapshot()
      const onNode = chunks.filter((c) => c.nodes.includes(nodeId))
      s.remainingChunks = onNode.length
      const members = registry.ids().filter((n) => n === nodeId || (registry.health(n) === 'alive' && !registry.status(n)?.draining))
      const used = usageOf(chunks, members)
      this.#setUsage(s, used, round === 1)
      if (onNode.length === 0) break
      if (round > maxRounds) {
        throw dfsError('EIO', `${onNode.length} chunks still have a copy on ${s.node?.address} after ${maxRounds} rounds (${s.failedChunks} moves failed; the daemon log says why); run dfs drain again`)
      }
      s.round = round
      const targets = registry.writable().filter((n) => n !== nodeId)
      const plan = planDrain({ chunks: onNode, node: nodeId, targets, used })
      if (plan.moves.length === 0) {
        throw dfsError('NOT_ENOUGH_NODES',
          `no node can take a copy of ${plan.stuck.length} chunks on ${s.node?.address}: each of the ${targets.length} writable nodes holds one already (${this.#deps.replicas} replicas)`,
          { node: s.node?.address, stuck: plan.stuck.length })
      }
      if (round === 1) this.#deps.log(`drain: moving ${plan.moves.length} chunks off ${s.node?.address}`)
      const movedBefore = s.movedChunks + s.skippedChunks
      await this.#execute(job, plan.moves)
      // A round that achieved nothing (a node failing): give things a moment before the next.
      if (s.movedChunks + s.skippedChunks === movedBefore) await sleep(this.#options.retryDelayMs, this.#abort.signal)
    }
    if (this.#stopping) return
    await this.#recordDrained(nodeId)
    this.#deps.log(`drain: ${s.node?.address} holds no chunk any file references; moved ${s.movedChunks} chunks (${s.movedBytes} bytes). It can be removed: unmount, then mount without it`)
  }

  /** Mark the node drained in the cluster settings: the next mount may leave it out of --nodes. */
  async #recordDrained(nodeId: string): Promise<void> {
    const { meta } = this.#deps
    const settings = meta.settings
    if (!Array.isArray(settings.nodes)) return
    const nodes = (settings.nodes as { nodeId: string }[]).map((n) => (n.nodeId === nodeId ? { ...n, drained: true } : n))
    await meta.updateSettings({ ...settings, nodes })
  }

  // ---- moving --------------------------------------------------------------------------------------

  get #stopping(): boolean {
    return this.#abort.signal.aborted
  }

  async #execute(job: Job, moves: PlannedMove[]): Promise<void> {
    const s = job.status
    s.plannedChunks += moves.length
    s.plannedBytes += moves.reduce((a, m) => a + m.len, 0)
    const queue = moves.values()
    const worker = async () => {
      for (let next = queue.next(); !next.done && !this.#stopping; next = queue.next()) {
        const move = next.value
        job.moved.add(move.id)
        try {
          const result = await moveCopy({
            meta: this.#deps.meta,
            nodes: this.#deps.registry,
            locks: this.#deps.locks,
            beforePut: (bytes) => this.#bucket.take(bytes, this.#abort.signal),
            signal: this.#abort.signal,
            onBadCopy: this.#deps.onBadCopy,
            log: (m) => this.#deps.log(`${s.kind}: ${m}`),
          }, move)
          if (result.moved) {
            s.movedChunks++
            s.movedBytes += result.bytes
            job.rate.add(result.bytes)
            this.#shiftUsage(s, move)
            if (s.kind === 'drain' && s.remainingChunks) s.remainingChunks--
          } else if (result.why !== 'stopping') {
            s.skippedChunks++
          }
        } catch (err) {
          s.failedChunks++
          this.#noteFailure(move, err)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#options.concurrency, moves.length) }, worker))
  }

  #noteFailure(move: PlannedMove, err: unknown): void {
    const { registry, log } = this.#deps
    const where = (n: string) => registry.get(n)?.address ?? n
    log(`${this.#job?.status.kind}: moving chunk ${move.id} from ${where(move.from)} to ${where(move.to)} failed: ${(err as Error).message}`)
    // Tell the registry what we saw, as the chunk store and the healer do.
    if (isDfsError(err, 'NODE_FULL')) registry.markFull(move.to, err.message)
    else if (isDfsError(err, 'NODE_UNAVAILABLE') && typeof err.context.nodeId === 'string') registry.markSuspect(err.context.nodeId, err.message)
  }

  /** Every chunk the namespace references, walked in slices so the daemon keeps answering. */
  async #snapshot(): Promise<ChunkCopies[]> {
    const chunks: ChunkCopies[] = []
    for await (const batch of chunkBatches(this.#deps.meta.state)) {
      for (const { ino, index, ref } of batch) chunks.push({ ino, index, id: ref.id, len: ref.len, nodes: ref.nodes })
    }
    return chunks
  }

  #setUsage(s: RebalanceStatus, used: ReadonlyMap<string, number>, first: boolean): void {
    const previous = new Map(s.nodes.map((n) => [n.nodeId, n]))
    s.nodes = [...used].map(([nodeId, bytes]) => ({
      nodeId,
      address: this.#deps.registry.get(nodeId)?.address ?? nodeId,
      before: first ? bytes : previous.get(nodeId)?.before ?? bytes,
      now: bytes,
    }))
  }

  #shiftUsage(s: RebalanceStatus, move: PlannedMove): void {
    for (const n of s.nodes) {
      if (n.nodeId === move.from) n.now -= move.len
      else if (n.nodeId === move.to) n.now += move.len
    }
  }
}
