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
// The node is recorded as draining in the cluster settings too, so a daemon restart keeps it out of
// the write pool and resumes the drain (unless it was cancelled: then `dfs drain <node>` moves the
// rest, `dfs drain --undo <node>` takes it back).
//
// Cancel (`dfs balance --cancel`, `dfs drain --cancel`): the job stops taking moves and ends once the
// moves in flight have finished or been abandoned; a move is copy-then-delete under the chunk's lock
// and is abandoned only before it writes anything, so every chunk keeps its R copies. A cancelled
// drain leaves its node out of the write pool. Undo (`dfs drain --undo <node>`): cancel the drain of
// that node if it runs, and put the node back in the write pool; copies already moved stay moved.
//
// Every move goes through moveCopy() under the chunk's lock shared with the healer.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import type { NodeRegistry } from '../../chunks/NodeRegistry.js'
import { noteNodeError } from '../../chunks/nodeHealth.js'
import { type DfsError, dfsError } from '../../errors.js'
import type { ChunkLocks } from '../chunkLocks.js'
import type { NodeRecord } from '../settings.js'
import { chunkBatches } from '../healer/chunkWalk.js'
import { RateMeter } from '../healer/RateMeter.js'
import { TokenBucket, sleep } from '../healer/TokenBucket.js'
import type { NamespaceMetaStore } from '../openCluster.js'
import { moveCopy } from './moveCopy.js'
import type { EmitEvent } from '../EventBurst.js'
import type { NewEvent } from '../../namenode/events.js'
import { formatSize } from '../../util/size.js'
import { concurrencyOf } from '../../util/concurrency.js'
import { type ChunkCopies, type PlannedMove, isBalanced, pieceKey, planBalance, planDrain, usageOf } from './plan.js'
import { type Layout, layoutOf, nodesHolding, nodesNeeded, piecesOf } from '../../chunks/layout.js'
import { formatPolicy } from '../../meta/namespace/policy.js'
import { type NamespaceState, isFile } from '../../meta/namespace/types.js'

export interface RebalanceOptions {
  /** Bytes per second moves may copy (0 = no limit) when given no shared budget (deps.bandwidth). Default 256 MiB/s, like the healer. */
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
type NodeFlags = Pick<NodeRecord, 'draining' | 'drainPaused' | 'drained'>
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
  /** The copy bandwidth shared with the healer; default: the rebalancer's own, of options.bandwidthBytesPerSec. */
  bandwidth?: TokenBucket
  options?: RebalanceOptions
  /** The NameNode's event feed: each balance and drain started, and how it ended. */
  onEvent?: EmitEvent
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
  /** stopped: the daemon stopped; cancelled: dfs balance/drain --cancel (or drain --undo). */
  state: 'running' | 'done' | 'failed' | 'stopped' | 'cancelled'
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
  /** Pieces this job moved (pieceKey: each moves once). */
  moved: Set<string>
  done: Promise<void>
  /** Aborted by cancel(); `signal` also follows the daemon stopping. */
  cancel: AbortController
  signal: AbortSignal
}

/** What `dfs drain --undo` did. */
export interface UndoResult {
  node: { nodeId: string; address: string }
  /** The drain of the node that was running, cancelled first. */
  cancelled?: RebalanceStatus
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
    this.#options.concurrency = concurrencyOf(this.#options.concurrency, DEFAULT_REBALANCE_OPTIONS.concurrency)
    this.#bucket = deps.bandwidth ?? new TokenBucket(this.#options.bandwidthBytesPerSec)
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
    this.#deps.onEvent?.({ kind: 'balance', level: 'info', message: 'balance started: moving copies from the most used nodes to the least used' })
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
    const target = this.#findNode(name, resolved)
    const others = all.filter((s) => s.nodeId !== target.nodeId && s.health === 'alive' && !s.draining)
    if (others.length < replicas) {
      throw dfsError('NOT_ENOUGH_NODES',
        `draining ${target.address} would leave ${others.length} alive node${others.length === 1 ? '' : 's'} for ${replicas} replicas; add a node first`,
        { node: target.address, alive: others.length, replicas })
    }
    // A stripe with a shard on the node needs, besides it, a node for each of its k + m shards (its
    // shard's new node must hold none of the others); a chunk kept in more copies than R as many.
    const widest = widestLayoutOn(this.#deps.meta.state, target.nodeId, replicas)
    if (widest && others.length < nodesNeeded(widest)) {
      const what = widest.kind === 'ec' ? `${nodesNeeded(widest)} shards, each on its own node` : `${widest.copies} copies`
      throw dfsError('NOT_ENOUGH_NODES',
        `draining ${target.address} would leave ${others.length} alive node${others.length === 1 ? '' : 's'} for its chunks stored as ${formatPolicy(widest)} (${what}); add a node first`,
        { node: target.address, alive: others.length, layout: formatPolicy(widest) })
    }
    registry.setDraining(target.nodeId, true) // out of the write pool before anything else happens
    this.#deps.log(`drain: ${target.address} takes no new chunks; moving its chunks to other nodes`)
    const job = this.#newJob('drain', { nodeId: target.nodeId, address: target.address })
    this.#deps.onEvent?.({ kind: 'drain', level: 'info', nodeId: target.nodeId, message: `drain of ${target.address} started: it takes no new chunks; its chunks move to other nodes` })
    job.done = this.#run(job, async () => {
      await this.#recordNode(target.nodeId, { draining: true }) // a restart keeps it out of the write pool
      await this.#drain(job, target.nodeId)
    })
    return this.status()!
  }

  /**
   * Cancel the balance or drain running (`kind` must match it); resolves once its moves in flight
   * have ended, with its final status. Throws NOT_RUNNING when no such job runs.
   */
  async cancel(kind: RebalanceStatus['kind']): Promise<RebalanceStatus> {
    const job = this.#job
    const s = job?.status
    if (!job || s?.state !== 'running' || s.kind !== kind) {
      const other = s?.state === 'running' ? `; a ${s.kind} is (dfs ${s.kind} --cancel stops it)` : ''
      throw dfsError('NOT_RUNNING', `no ${kind} is running${other}`, { kind })
    }
    this.#deps.log(`${kind}: cancelled after ${s.movedChunks} of ${s.plannedChunks} moves; waiting for the moves in flight`)
    job.cancel.abort()
    await job.done
    return this.status()!
  }

  /**
   * Put a node that is being drained, or was, back in the write pool (cancelling its drain if it
   * runs). Copies already moved stay where they are. Throws NOT_RUNNING for a node not draining.
   */
  async undoDrain(name: string, resolved?: string): Promise<UndoResult> {
    const target = this.#findNode(name, resolved)
    const node = { nodeId: target.nodeId, address: target.address }
    const recorded = this.#recordedNodes()?.find((n) => n.nodeId === target.nodeId)
    const job = this.#job
    const running = job?.status.state === 'running' && job.status.kind === 'drain' && job.status.node?.nodeId === target.nodeId
    if (!running && !target.draining && !recorded?.draining && !recorded?.drained) {
      throw dfsError('NOT_RUNNING', `${target.address} is not being drained; nothing to undo (dfs status shows which nodes are)`, { node: target.address })
    }
    let cancelled: RebalanceStatus | undefined
    if (running) {
      job!.cancel.abort()
      await job!.done
      cancelled = this.status()
    }
    await this.#recordNode(target.nodeId, {})
    this.#deps.registry.setDraining(target.nodeId, false)
    this.#deps.log(`drain: undone for ${target.address}: it takes new chunks again; copies already moved stay where they are`)
    return { node, ...(cancelled ? { cancelled } : {}) }
  }

  /** At start: nodes the settings record as draining or drained stay out of the write pool. */
  restoreDraining(): void {
    for (const n of this.#recordedNodes() ?? []) {
      if (!n.draining && !n.drained) continue
      if (!this.#deps.registry.status(n.nodeId)) continue
      this.#deps.registry.setDraining(n.nodeId, true)
      if (n.drainPaused) {
        this.#deps.log(`drain: the drain of ${n.address} was cancelled: it takes no new chunks; dfs drain ${n.address} moves the rest, dfs drain --undo ${n.address} takes it back`)
      }
    }
  }

  /** At start, after restoreDraining(): resume a drain the daemon's last run did not finish (and nobody cancelled). */
  resumeDrain(): void {
    const interrupted = (this.#recordedNodes() ?? []).find((n) => n.draining && !n.drainPaused && this.#deps.registry.status(n.nodeId))
    if (!interrupted) return
    try {
      this.drain(interrupted.nodeId)
      this.#deps.log(`drain: resuming the drain of ${interrupted.address} the last run did not finish`)
    } catch (err) {
      this.#deps.log(`drain: cannot resume the drain of ${interrupted.address}: ${(err as Error).message}; it takes no new chunks meanwhile`)
    }
  }

  #findNode(name: string, resolved?: string) {
    const all = this.#deps.registry.statuses()
    const target = all.find((s) => s.nodeId === name) ?? all.find((s) => s.address === name || (resolved !== undefined && s.address === resolved))
    if (!target) {
      throw dfsError('BAD_ARGUMENT', `no node ${name} in this cluster; dfs status lists the nodes (by id or address)`, { node: name })
    }
    return target
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
    const cancel = new AbortController()
    const signal = AbortSignal.any([this.#abort.signal, cancel.signal])
    const job: Job = { status, rate: new RateMeter(), moved: new Set(), done: Promise.resolve(), cancel, signal }
    this.#job = job
    return job
  }

  async #run(job: Job, body: () => Promise<void>): Promise<void> {
    const s = job.status
    try {
      await body()
      if (job.signal.aborted && s.state === 'running') s.state = job.cancel.signal.aborted ? 'cancelled' : 'stopped'
      else if (s.state === 'running') s.state = 'done'
    } catch (err) {
      s.state = 'failed'
      s.error = (err as Error).message
      this.#deps.log(`${s.kind}: failed: ${(err as Error).message}`)
    }
    // A drain that did not finish leaves its node out of the write pool (and recorded so): the next
    // start resumes it, unless it was cancelled; dfs drain runs it again, dfs drain --undo takes it back.
    if (s.kind === 'drain' && s.state === 'cancelled' && s.node) {
      await this.#recordNode(s.node.nodeId, { draining: true, drainPaused: true })
        .catch((err) => this.#deps.log(`drain: recording the cancel failed: ${(err as Error).message}`))
    }
    s.finishedAt = Date.now()
    s.elapsedMs = s.finishedAt - s.startedAt
    this.#deps.onEvent?.(endEvent(s))
  }

  // ---- balance -------------------------------------------------------------------------------------

  async #balance(job: Job): Promise<void> {
    const { registry } = this.#deps
    const s = job.status
    const maxRounds = this.#options.maxRounds ?? 5
    for (let round = 1; round <= maxRounds && !job.signal.aborted; round++) {
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
    for (let round = 1; !job.signal.aborted; round++) {
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
          `no node can take a copy of ${plan.stuck.length} chunks on ${s.node?.address}: each of the ${targets.length} writable nodes holds one already (${this.#deps.replicas} replicas), or a shard of the same stripe`,
          { node: s.node?.address, stuck: plan.stuck.length })
      }
      if (round === 1) this.#deps.log(`drain: moving ${plan.moves.length} chunks off ${s.node?.address}`)
      const movedBefore = s.movedChunks + s.skippedChunks
      await this.#execute(job, plan.moves)
      // A round that achieved nothing (a node failing): give things a moment before the next.
      if (s.movedChunks + s.skippedChunks === movedBefore) await sleep(this.#options.retryDelayMs, job.signal)
    }
    if (job.signal.aborted) return
    await this.#recordNode(nodeId, { drained: true })
    this.#deps.log(`drain: ${s.node?.address} holds no chunk any file references; moved ${s.movedChunks} chunks (${s.movedBytes} bytes). It can be removed: unmount, then mount without it`)
  }

  /**
   * Record a node's drain state in the cluster settings (replacing what was there): draining keeps it
   * out of the write pool across restarts; drained lets the next mount leave it out of --nodes.
   */
  async #recordNode(nodeId: string, flags: NodeFlags): Promise<void> {
    const { meta } = this.#deps
    const settings = meta.settings
    const recorded = this.#recordedNodes()
    const current = recorded?.find((n) => n.nodeId === nodeId)
    if (!recorded || !current || (current.draining === flags.draining && current.drainPaused === flags.drainPaused && current.drained === flags.drained)) return
    const nodes = recorded.map((n) => (n.nodeId === nodeId ? { nodeId: n.nodeId, address: n.address, ...flags } : n))
    await meta.updateSettings({ ...settings, nodes })
  }

  #recordedNodes(): NodeRecord[] | undefined {
    const nodes = this.#deps.meta.settings.nodes
    return Array.isArray(nodes) ? (nodes as NodeRecord[]) : undefined
  }

  // ---- moving --------------------------------------------------------------------------------------

  async #execute(job: Job, moves: PlannedMove[]): Promise<void> {
    const s = job.status
    s.plannedChunks += moves.length
    s.plannedBytes += moves.reduce((a, m) => a + m.len, 0)
    const queue = moves.values()
    const worker = async () => {
      for (let next = queue.next(); !next.done && !job.signal.aborted; next = queue.next()) {
        const move = next.value
        job.moved.add(pieceKey(move))
        try {
          const result = await moveCopy({
            meta: this.#deps.meta,
            nodes: this.#deps.registry,
            locks: this.#deps.locks,
            beforePut: (bytes) => this.#bucket.take(bytes, job.signal),
            signal: job.signal,
            onBadCopy: this.#deps.onBadCopy,
            onNodeError: (nodeId, error) => noteNodeError(this.#deps.registry, nodeId, error),
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
    // The registry has heard of the node that failed already (moveCopy's onNodeError).
    log(`${this.#job?.status.kind}: moving ${move.shard === undefined ? `chunk ${move.id}` : `shard ${move.shard} of chunk ${move.id}`} from ${where(move.from)} to ${where(move.to)} failed: ${(err as Error).message}`)
  }

  /** Every chunk the namespace references, walked in slices so the daemon keeps answering. */
  async #snapshot(): Promise<ChunkCopies[]> {
    const chunks: ChunkCopies[] = []
    for await (const batch of chunkBatches(this.#deps.meta.state)) {
      for (const { ino, index, ref } of batch) {
        // Each stored piece: the chunk (its copies), or each shard of a stripe, kept off the stripe's other nodes.
        const avoid = ref.ec ? nodesHolding(ref) : undefined
        for (const { ref: piece, shard } of piecesOf(ref)) {
          chunks.push({ ino, index, id: ref.id, ...(shard === undefined ? {} : { shard, avoid }), len: piece.len, nodes: piece.nodes })
        }
      }
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

/**
 * The layout needing the most nodes among the chunks with a piece on nodeId, if any needs more than
 * R (a stripe, or a chunk kept in more copies). One synchronous look: a drain is started rarely, and
 * must be refused before it changes anything.
 */
function widestLayoutOn(state: NamespaceState, nodeId: string, replicas: number): Layout | undefined {
  let widest: Layout | undefined
  for (const inode of state.inodes.values()) {
    if (!isFile(inode)) continue
    for (const ref of inode.chunks ?? []) {
      if (!ref || (!ref.ec && ref.copies === undefined)) continue
      const layout = layoutOf(ref, replicas)
      if (nodesNeeded(layout) > Math.max(replicas, widest ? nodesNeeded(widest) : 0) && nodesHolding(ref).includes(nodeId)) widest = layout
    }
  }
  return widest
}

/** How a job ended, for the event feed. */
function endEvent(s: RebalanceStatus): NewEvent {
  const what = s.kind === 'drain' ? `drain of ${s.node?.address}` : 'balance'
  const moved = `moved ${s.movedChunks.toLocaleString('en-US')} chunk${s.movedChunks === 1 ? '' : 's'} (${formatSize(s.movedBytes)}) in ${(s.elapsedMs / 1000).toFixed(1)} s`
  const failed = s.failedChunks ? `, ${s.failedChunks} failed` : ''
  const base = { kind: s.kind, count: s.movedChunks, ...(s.node ? { nodeId: s.node.nodeId } : {}) } as const
  switch (s.state) {
    case 'failed':
      return { ...base, level: 'error', message: `${what} failed after it ${moved}: ${s.error}` }
    case 'cancelled':
      return { ...base, level: 'info', message: `${what} cancelled: ${moved} of ${s.plannedChunks.toLocaleString('en-US')} planned` }
    case 'stopped':
      return { ...base, level: 'info', message: `${what} stopped with the NameNode: ${moved}` }
    default: {
      const outcome = s.kind === 'drain' ? '; the node holds no referenced chunk and can be removed' : s.balanced ? '; balanced' : '; not within tolerance'
      return { ...base, level: s.failedChunks ? 'warn' : 'info', message: `${what} finished: ${moved}${failed}${outcome}` }
    }
  }
}
