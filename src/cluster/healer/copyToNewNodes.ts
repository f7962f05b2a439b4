// Copying a chunk to nodes that lack it, for a repair: from a copy that verifies (believed-good
// holders first, healthiest first, then any other node, since a copy may exist where the map does
// not say) to writable nodes, within the copy bandwidth shared with the rebalancer, until R nodes
// hold it (replicate.ts does the copying). Nodes that did not answer a check take no copy; ones
// whose copy is missing or corrupt may (a put replaces the file).

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import type { NodeHealth, NodeRegistry } from '../../chunks/NodeRegistry.js'
import { type RestoreResult, restoreCopies } from '../replicate.js'
import type { HealerCounts } from './HealerCounts.js'
import type { TokenBucket } from './TokenBucket.js'

export interface CopyDeps {
  registry: Pick<NodeRegistry, 'get' | 'ids' | 'health' | 'writable'>
  /** The cluster's R: copies wanted of a ref that does not say (ref.copies). */
  replicas: number
  bandwidth: TokenBucket
  /** Aborts a wait for bandwidth (the healer is stopping). */
  signal: AbortSignal
  counts: HealerCounts
  /** A copy was verified: put (the node that took it checked its SHA-256), or read intact as the source. */
  onVerifiedCopy?: (chunkId: string, nodeId: string) => void
}

/** Copies of ref until R nodes hold it. Throws CHUNK_UNREADABLE when no node has an intact copy. */
export async function copyToNewNodes(deps: CopyDeps, ref: ChunkRef, trusted: readonly string[], uncertain: readonly string[]): Promise<RestoreResult> {
  const { registry, signal } = deps
  const targets = registry.writable().filter((n) => !uncertain.includes(n))
  // Not a byte read when no node could take a copy (say R = 2 with one node left).
  if (trusted.length > 0 && !targets.some((n) => !trusted.includes(n))) {
    return { holders: [...trusted], added: [], badSources: [], failedTargets: [], bytesCopied: 0 }
  }
  const byHealth = (ids: readonly string[]) => [...ids].sort((a, b) => healthRank(registry.health(a)) - healthRank(registry.health(b)))
  const result = await restoreCopies(registry, {
    ref,
    holders: byHealth(trusted),
    fallbackSources: byHealth(registry.ids().filter((n) => !trusted.includes(n))),
    replicas: ref.copies ?? deps.replicas, // the copies this chunk wants (its directory's policy)
    targets,
    beforePut: (bytes) => deps.bandwidth.take(bytes, signal),
    onCopied: (nodeId, bytes) => {
      deps.counts.copied(bytes)
      deps.onVerifiedCopy?.(ref.id, nodeId)
    },
    shouldStop: () => signal.aborted,
  })
  if (result.source !== undefined) deps.onVerifiedCopy?.(ref.id, result.source) // read and checked as the source
  return result
}

const HEALTH_RANK: Record<NodeHealth, number> = { alive: 0, suspect: 1, dead: 2 }
const healthRank = (health: NodeHealth | undefined) => (health ? HEALTH_RANK[health] : 3)
