// Where a chunk goes: rendezvous (highest-random-weight) hashing. Every node gets a pseudo-random
// score for the chunk id and the nodes are tried in score order. Because chunk ids are random, each
// node comes first for an equal share of chunks; removing a node moves only the chunks it held
// (everyone else's ranking among the remaining nodes is unchanged); and no table has to be stored:
// anyone can recompute the order from the chunk id and the node ids.
//
// With weights (e.g. available bytes) the score is -weight / ln(u), u uniform in (0, 1), which makes
// a node come first with probability proportional to its weight (Schindler & Thaler's weighted HRW).

import type { ChunkId } from '../datanode/DataNode.js'
import { sha256Bytes } from '../util/sha256.js'

/** Weight of a node for placement; > 0. Nodes with weight <= 0 (or NaN) rank after all others. */
export type WeightOf = (nodeId: string) => number

/** Node ids in the order a chunk should be placed on them (best first). Pure and deterministic. */
export function rankNodes(chunkId: ChunkId, nodeIds: readonly string[], weightOf?: WeightOf): string[] {
  const scored = [...new Set(nodeIds)].map((nodeId) => ({ nodeId, score: score(chunkId, nodeId, weightOf?.(nodeId) ?? 1) }))
  // Ties (only possible for weight <= 0) fall back to node id order so the result stays deterministic.
  scored.sort((a, b) => b.score - a.score || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
  return scored.map((entry) => entry.nodeId)
}

function score(chunkId: ChunkId, nodeId: string, weight: number): number {
  if (!(weight > 0)) return -Infinity
  return -weight / Math.log(uniform(chunkId, nodeId))
}

/** A uniform number in (0, 1) from SHA-256 of the pair: 52 bits, the precision of a double. */
function uniform(chunkId: ChunkId, nodeId: string): number {
  const digest = sha256Bytes(`${chunkId}\0${nodeId}`)
  const bits = digest.readUIntBE(0, 6) * 16 + (digest[6] >> 4) // 52 bits
  return (bits + 0.5) / 2 ** 52
}
