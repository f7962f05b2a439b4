// Which nodes' copies (or shards) a repair counts on: registered and alive, suspect, or dead for less
// than the grace period (they may well come back with them). Shared by ChunkRepair and StripeRepair.

import type { NodeRegistry } from '../../chunks/NodeRegistry.js'
import { copyStateOf } from '../replication.js'

export function usableNodes(registry: Pick<NodeRegistry, 'ids' | 'status'>, graceMs: number): Set<string> {
  const copyState = copyStateOf(registry, graceMs)
  return new Set(registry.ids().filter((nodeId) => copyState(nodeId, '') !== 'gone'))
}
