// Read with failover: try the nodes that should hold a chunk, best first, and return the first copy
// that verifies. A missing file, an unreachable node and a bad hash are all the same to the reader:
// one more reason to try the next copy. Only when every candidate has failed is the chunk unreadable.

import { dfsError, type DfsError } from '../errors.js'
import type { DataNode } from '../datanode/DataNode.js'
import type { ChunkRef } from './ChunkRef.js'
import type { NodeRegistry } from './NodeRegistry.js'
import { readCopy } from './checkCopy.js'
import { attemptOf, type NodeAttempt } from './nodeError.js'

const HEALTH_ORDER = { alive: 0, suspect: 1, dead: 2 } as const

/** Which node to read from first: alive (0), then suspect (1), then dead or unknown (2). */
export function healthRank(registry: Pick<NodeRegistry, 'health'>, nodeId: string): number {
  return HEALTH_ORDER[registry.health(nodeId) ?? 'dead']
}

/**
 * The order to try nodes in for ref: the nodes the ref lists (alive, then suspect, then dead;
 * otherwise in the ref's order), then every other registered node in the same order, because after a
 * failover or an interrupted repair a copy may exist where the map does not say.
 */
export function readOrder(ref: ChunkRef, registry: NodeRegistry): string[] {
  const rank = (id: string) => healthRank(registry, id)
  const byHealth = (ids: string[]) => ids.map((id, i) => ({ id, i })).sort((a, b) => rank(a.id) - rank(b.id) || a.i - b.i).map((e) => e.id)
  const listed = [...new Set(ref.nodes)]
  const others = registry.ids().filter((id) => !listed.includes(id))
  return [...byHealth(listed), ...byHealth(others)]
}

export interface FetchResult {
  data: Buffer
  nodeId: string
  /** The attempts that failed before this one. */
  failures: NodeAttempt[]
}

/**
 * Get ref from the first of `order` whose bytes verify. `onFailure` hears of every node that could not
 * give an intact copy, as it happens. Throws CHUNK_UNREADABLE with every attempt in its context.
 */
export async function fetchVerified(
  ref: ChunkRef,
  order: readonly string[],
  nodeOf: (nodeId: string) => DataNode | undefined,
  onFailure: (nodeId: string, error: DfsError) => void,
): Promise<FetchResult> {
  const failures: NodeAttempt[] = []
  for (const nodeId of order) {
    const node = nodeOf(nodeId)
    const copy = await readCopy(node, nodeId, ref)
    if (copy.check === 'good') return { data: copy.data, nodeId, failures }
    failures.push(attemptOf(nodeId, node, copy.error))
    onFailure(nodeId, copy.error)
  }
  const why = failures.map((f) => `${f.address ?? f.nodeId}: ${f.code}`).join(', ')
  throw dfsError('CHUNK_UNREADABLE', `no intact copy of chunk ${ref.id} (${why || 'no nodes to try'})`, {
    chunk: ref.id,
    tried: failures,
  })
}
