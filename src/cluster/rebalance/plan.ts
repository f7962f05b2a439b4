// Which copies to move, and where. Pure: the rebalancer hands in a snapshot of every chunk the
// namespace references and the nodes that may take part; these functions return moves.
//
// Usage is the bytes of referenced chunks a node holds (from the namespace, so orphans and chunks
// being written do not count, and it is exact the moment it is taken, unlike a heartbeat's report).
//
// What moves is a stored piece (chunks/layout.ts): a copy of a replicated chunk, or one shard of a
// stripe. A shard moves like a copy, with one more rule: its target holds no shard of the same stripe
// (`avoid`), also none a move planned earlier in the same plan puts there.

import { rankNodes } from '../../chunks/placement.js'

export interface ChunkCopies {
  ino: number
  index: number
  /** The chunk's id (a stripe's, for a shard): what the namespace and the locks know it by. */
  id: string
  /** A shard of erasure-coded chunk `id`: its index in the stripe. */
  shard?: number
  /** The piece's length (a shard's, for a shard). */
  len: number
  /** Nodes holding the piece. */
  nodes: readonly string[]
  /** Nodes that must not take the piece, when more than `nodes`: every node holding a shard of the stripe. */
  avoid?: readonly string[]
}

export interface PlannedMove {
  ino: number
  index: number
  id: string
  shard?: number
  len: number
  from: string
  to: string
}

/** A piece's key within a job: the chunk id, and the shard index for a shard (each moves at most once). */
export const pieceKey = (piece: { id: string; shard?: number }): string => (piece.shard === undefined ? piece.id : `${piece.id}#${piece.shard}`)

/**
 * Nodes planned to take a piece of each chunk in this plan: a stripe's second shard must not follow
 * its first to the same node (the snapshot's `avoid` predates the plan).
 */
class PlannedTargets {
  readonly #byChunk = new Map<string, Set<string>>()

  add(chunk: ChunkCopies, to: string): void {
    let set = this.#byChunk.get(chunk.id)
    if (!set) this.#byChunk.set(chunk.id, (set = new Set()))
    set.add(to)
  }

  /** Whether `to` may take this piece: holds none of it, nor of its stripe, nor is planned to. */
  allows(chunk: ChunkCopies, to: string): boolean {
    return !(chunk.avoid ?? chunk.nodes).includes(to) && !chunk.nodes.includes(to) && !this.#byChunk.get(chunk.id)?.has(to)
  }
}

/** Bytes of referenced chunks on each of `nodeIds` (0 for a node holding none). */
export function usageOf(chunks: Iterable<ChunkCopies>, nodeIds: readonly string[]): Map<string, number> {
  const used = new Map(nodeIds.map((n) => [n, 0]))
  for (const chunk of chunks) {
    for (const nodeId of new Set(chunk.nodes)) {
      const bytes = used.get(nodeId)
      if (bytes !== undefined) used.set(nodeId, bytes + chunk.len)
    }
  }
  return used
}

/**
 * Balanced: every node that may take copies, and every node above the mean, is within `tolerance`
 * bytes of the mean. (A node below the mean that may not take copies, a full one, cannot be helped.)
 */
export function isBalanced(used: ReadonlyMap<string, number>, tolerance: number, targets?: readonly string[]): boolean {
  if (used.size === 0) return true
  const mean = [...used.values()].reduce((a, b) => a + b, 0) / used.size
  for (const [nodeId, bytes] of used) {
    if (bytes > mean + tolerance) return false
    if (bytes < mean - tolerance && (!targets || targets.includes(nodeId))) return false
  }
  return true
}

export interface BalanceInput {
  chunks: readonly ChunkCopies[]
  /** Nodes taking part: alive and not draining. Chunks with a copy elsewhere are left alone (the healer's business). */
  nodes: readonly string[]
  /** Nodes that may take a copy (writable): a subset of `nodes`. */
  targets: readonly string[]
  /** Bytes a node may be off the mean. */
  tolerance: number
  /** Chunks not to move (moved once already). */
  exclude?: ReadonlySet<string>
}

export interface BalancePlan {
  moves: PlannedMove[]
  /** Usage now, and as it will be once every move is done. */
  before: Map<string, number>
  after: Map<string, number>
}

/**
 * Greedy: the least-used node that may take copies takes the largest chunk that still lowers the
 * spread from the most-used node that has one it lacks, until usage is within tolerance or no move
 * helps. Each chunk moves at most once, so a plan is at most one move per chunk and always ends.
 */
export function planBalance(input: BalanceInput): BalancePlan {
  const members = new Set(input.nodes)
  const before = usageOf(input.chunks, input.nodes)
  const used = new Map(before)
  const targets = new Set(input.targets.filter((n) => members.has(n)))
  const moves: PlannedMove[] = []
  if (members.size < 2 || targets.size === 0) return { moves, before, after: used }

  // Movable chunks per node, largest first; a chunk with a copy outside `nodes` stays put.
  const onNode = new Map<string, ChunkCopies[]>([...members].map((n) => [n, []]))
  for (const chunk of input.chunks) {
    if (input.exclude?.has(pieceKey(chunk)) || !chunk.nodes.every((n) => members.has(n))) continue
    for (const nodeId of new Set(chunk.nodes)) onNode.get(nodeId)!.push(chunk)
  }
  for (const list of onNode.values()) list.sort((a, b) => b.len - a.len)
  const start = new Map<string, number>([...members].map((n) => [n, 0]))
  const moved = new Set<string>()
  const planned = new PlannedTargets()

  const pick = (from: string, to: string, below: number): ChunkCopies | undefined => {
    const list = onNode.get(from)!
    let i = start.get(from)!
    while (i < list.length && moved.has(pieceKey(list[i]))) i++
    start.set(from, i) // everything before i has moved
    for (; i < list.length; i++) {
      const chunk = list[i]
      if (chunk.len < below && !moved.has(pieceKey(chunk)) && planned.allows(chunk, to)) return chunk
    }
    return undefined
  }

  while (!isBalanced(used, input.tolerance, [...targets]) && targets.size > 0) {
    const to = [...targets].reduce((a, b) => (used.get(b)! < used.get(a)! ? b : a))
    const sources = [...members].filter((n) => n !== to && used.get(n)! > used.get(to)!).sort((a, b) => used.get(b)! - used.get(a)!)
    let found: { chunk: ChunkCopies; from: string } | undefined
    for (const from of sources) {
      // Moving len bytes from `from` to `to` lowers the spread only if len < their difference.
      const chunk = pick(from, to, used.get(from)! - used.get(to)!)
      if (chunk) {
        found = { chunk, from }
        break
      }
    }
    if (!found) {
      targets.delete(to) // nothing more this node can usefully take
      continue
    }
    const { chunk, from } = found
    moved.add(pieceKey(chunk))
    planned.add(chunk, to)
    used.set(from, used.get(from)! - chunk.len)
    used.set(to, used.get(to)! + chunk.len)
    moves.push(plannedMove(chunk, from, to))
  }
  return { moves, before, after: used }
}

export interface DrainInput {
  chunks: readonly ChunkCopies[]
  /** The node being emptied. */
  node: string
  /** Nodes that may take a copy (writable, not the drained one). */
  targets: readonly string[]
  /** Current usage of the targets, so copies go to the least-used first. */
  used: ReadonlyMap<string, number>
}

export interface DrainPlan {
  moves: PlannedMove[]
  /** Pieces on the node that no target can take (every target holds a copy, or a shard of the stripe). */
  stuck: ChunkCopies[]
}

/**
 * A move for every piece on `node`: to the least-used target without a copy, or without a shard of
 * the stripe (ties: placement order).
 */
export function planDrain(input: DrainInput): DrainPlan {
  const used = new Map(input.targets.map((n) => [n, input.used.get(n) ?? 0]))
  const moves: PlannedMove[] = []
  const stuck: ChunkCopies[] = []
  const planned = new PlannedTargets()
  for (const chunk of input.chunks) {
    if (!chunk.nodes.includes(input.node)) continue
    const free = input.targets.filter((n) => n !== input.node && planned.allows(chunk, n))
    if (free.length === 0) {
      stuck.push(chunk)
      continue
    }
    const rank = rankNodes(pieceKey(chunk), free)
    const to = rank.reduce((a, b) => (used.get(b)! < used.get(a)! ? b : a))
    used.set(to, used.get(to)! + chunk.len)
    planned.add(chunk, to)
    moves.push(plannedMove(chunk, input.node, to))
  }
  return { moves, stuck }
}

function plannedMove(chunk: ChunkCopies, from: string, to: string): PlannedMove {
  return { ino: chunk.ino, index: chunk.index, id: chunk.id, ...(chunk.shard === undefined ? {} : { shard: chunk.shard }), len: chunk.len, from, to }
}
