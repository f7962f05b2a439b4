// Rebuilding a stripe's shards, shared by the healer (healer/StripeRepair.ts) and the offline repair
// (fsck.ts --repair), as replicate.ts is shared for copies. One rule for both:
//   - k shards read and verified against their own SHA-256 (the caller's read), healthiest nodes first;
//   - the rest computed (erasure/stripe.ts), each rebuilt shard checked against its recorded SHA-256;
//   - each put (same id) and synced on a writable node that holds no shard of this stripe; only the
//     node of the very shard being rebuilt, whose copy there is missing or corrupt, may take it back
//     (a put replaces the file), and only when no other node can: with k + m nodes there is no other;
//   - each shard's new node recorded ('replicas' record with `shard`) only if the file still points
//     at the stripe (stillReferenced.ts).
// Why a shared function rather than running the healer's StripeRepair offline: the healer's repair
// is bound to its own state (hints, counts, bandwidth bucket, the heal pass, the grace period of dead
// nodes), none of which an offline repair has, while fsck has already read every shard and knows
// each one's standing. So the callers each decide how every shard stands and what to delete (after
// the map is durable); the rebuild, its placement and the record are written once, here.

import type { ChunkRef } from '../chunks/ChunkRef.js'
import { rebuildShards } from '../chunks/erasure/stripe.js'
import { asNodeError, notRegistered } from '../chunks/nodeError.js'
import type { NodeHealth, NodeRegistry } from '../chunks/NodeRegistry.js'
import { rankNodes } from '../chunks/placement.js'
import { sha256 } from '../chunks/verify.js'
import type { DfsError } from '../errors.js'
import type { NamespaceMetaStore } from './openCluster.js'
import { type ChunkPlace, commitShardNodes } from './stillReferenced.js'

/**
 * How one shard stands in a repair:
 *   good       on a usable node, not reported bad, or reported and read intact
 *   uncertain  reported bad but its node did not answer: stays listed, is not rebuilt
 *   gone       its node is gone (dead past the grace period; offline: could not be opened): rebuilt elsewhere
 *   broken     read missing or corrupt: rebuilt; unlisted even if no node can take it
 *   lost       no node recorded: rebuilt
 */
export type Standing = 'good' | 'uncertain' | 'gone' | 'broken' | 'lost'

export interface ShardState {
  readonly index: number
  readonly piece: ChunkRef
  /** The node the map lists it on. */
  readonly nodeId: string | undefined
  standing: Standing
  /** Why a broken shard is broken. */
  why?: 'missing' | 'corrupt'
  /** Its bytes, read and verified (a source for the rebuild). */
  data?: Buffer
  /** Its new home: a node it was rebuilt onto, or one already holding an intact unlisted copy. */
  newNode?: string
}

/** A copy of a piece on a node: what is put, or deleted. */
export interface PieceCopy {
  nodeId: string
  id: string
}

export const needsHome = (s: ShardState): boolean => s.newNode === undefined && (s.standing === 'gone' || s.standing === 'broken' || s.standing === 'lost')

export interface RebuildDeps {
  registry: Pick<NodeRegistry, 'get' | 'health' | 'writable'>
  /** Read the shard from its listed node and verify it: set its data, or mark it broken or uncertain. */
  read: (shard: ShardState) => Promise<void>
  /** Awaited before each put with the bytes about to be sent (the healer's bandwidth). */
  beforePut?: (bytes: number) => Promise<void>
  /** True abandons the rest (the healer is stopping). */
  stopped?: () => boolean
  /** A rebuilt shard did not match its recorded SHA-256: the stripe's shards were never consistent; nothing stored. */
  onMismatch?: (shard: ShardState) => void
  onPutFailed?: (shard: ShardState, nodeId: string, error: DfsError) => void
  /** The shard was put and synced on nodeId (shard.newNode is set). */
  onPut?: (shard: ShardState, nodeId: string, bytes: number) => void
}

/**
 * Rebuild every shard that needs a home (needsHome) and put it on a node holding no shard of the
 * stripe (nor any in `extraHolders`: nodes found holding an unlisted copy of one). Returns what was
 * put; undefined when fewer than k verified shards could be read (nothing put). A shard no node
 * could take keeps no newNode: the caller says so.
 */
export async function rebuildStripe(deps: RebuildDeps, ref: ChunkRef, shards: ShardState[], extraHolders: ReadonlySet<string> = new Set()): Promise<PieceCopy[] | undefined> {
  const { registry } = deps
  const { k, m } = ref.ec!
  const stopped = () => deps.stopped?.() === true

  // k verified shards: those already read, then the rest, healthiest nodes first.
  const rank = (s: ShardState) => healthRank(registry.health(s.nodeId!))
  const candidates = shards.filter((s) => !s.data && (s.standing === 'good' || s.standing === 'uncertain')).sort((a, b) => rank(a) - rank(b) || a.index - b.index)
  for (;;) {
    const have = shards.filter((s) => s.data).length
    if (have >= k || candidates.length === 0 || stopped()) break
    await Promise.all(candidates.splice(0, k - have).map((shard) => deps.read(shard)))
  }
  if (shards.filter((s) => s.data).length < k) return undefined

  const all = await rebuildShards(shards.map((s) => s.data), k, m)
  // Nodes that hold (or are about to hold) a shard of this stripe take no other one.
  const holding = new Set<string>(extraHolders)
  for (const s of shards) {
    if (s.nodeId !== undefined && s.standing !== 'lost') holding.add(s.nodeId)
    if (s.newNode !== undefined) holding.add(s.newNode)
  }
  const writable = registry.writable()
  const put: PieceCopy[] = []
  for (const shard of shards.filter(needsHome)) {
    if (stopped()) break
    const bytes = all[shard.index]!
    if ((await sha256(bytes)) !== shard.piece.sha256) {
      deps.onMismatch?.(shard)
      continue
    }
    // Its own node takes it back only when its copy there is bad and no node without a shard can.
    const elsewhere = rankNodes(shard.piece.id, writable.filter((n) => !holding.has(n)))
    const ownNode = shard.standing === 'broken' && shard.nodeId !== undefined && writable.includes(shard.nodeId) ? [shard.nodeId] : []
    for (const nodeId of [...elsewhere, ...ownNode]) {
      if (stopped()) break
      const node = registry.get(nodeId)
      try {
        if (!node) throw notRegistered(nodeId)
        await deps.beforePut?.(bytes.length)
        await node.put(shard.piece.id, bytes, shard.piece.sha256)
        await node.sync([shard.piece.id])
      } catch (err) {
        if (stopped()) break
        deps.onPutFailed?.(shard, nodeId, asNodeError(err, node, nodeId, 'put'))
        continue
      }
      shard.newNode = nodeId
      holding.add(nodeId)
      put.push({ nodeId, id: shard.piece.id })
      deps.onPut?.(shard, nodeId, bytes.length)
      break
    }
  }
  return put
}

/**
 * Record the map: each shard that has a new home, and each broken one that found none (unlisted, so
 * no read goes there). False when the file moved on (the caller deletes what it put).
 */
export function recordShardNodes(meta: Pick<NamespaceMetaStore, 'state' | 'commit'>, at: ChunkPlace, shards: readonly ShardState[]): boolean {
  for (const shard of shards) {
    const next = shard.newNode !== undefined ? [shard.newNode] : shard.standing === 'broken' ? [] : undefined
    if (!next || sameList(next, shard.piece.nodes)) continue
    if (!commitShardNodes(meta, at, shard.index, next)) return false
  }
  return true
}

const HEALTH_RANK: Record<NodeHealth, number> = { alive: 0, suspect: 1, dead: 2 }
const healthRank = (health: NodeHealth | undefined) => (health ? HEALTH_RANK[health] ?? 3 : 3)

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i])
}
