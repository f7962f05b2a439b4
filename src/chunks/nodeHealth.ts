// How what a node did to a call changes its health in the registry: one rule for every reader and
// writer of chunks (the chunk store's writes, reads and syncs, the healer's repairs, the
// rebalancer's moves), so a node is judged the same whoever saw it fail. The heartbeat monitor
// (cluster/liveness) is the other source of health, from heartbeats rather than calls.
//
//   NODE_FULL                        full: out of the write pool until it has room (still readable)
//   the copy or the request was bad  nothing: the node answered (a missing or corrupt copy is the
//                                    healer's business, not the node's health)
//   anything else                    suspect: out of the write pool at once, retried after a back-off

import type { DfsError } from '../errors.js'
import type { NodeRegistry } from './NodeRegistry.js'

/** Codes a node answers with about one copy or one request: the node itself is fine. */
const ABOUT_THE_COPY = new Set<DfsError['code']>(['CHUNK_MISSING', 'CHUNK_CORRUPT', 'CHUNK_HASH_MISMATCH', 'CHUNK_ID_INVALID'])

/** A call to nodeId failed with error: tell the registry what that says about the node. */
export function noteNodeError(registry: Pick<NodeRegistry, 'markFull' | 'markSuspect'>, nodeId: string, error: Pick<DfsError, 'code' | 'message'>): void {
  if (error.code === 'NODE_FULL') registry.markFull(nodeId, error.message)
  else if (!ABOUT_THE_COPY.has(error.code)) registry.markSuspect(nodeId, error.message)
}

/** A call to nodeId succeeded: it is alive (a dead node under a monitor comes back only when readmitted). */
export function noteNodeAnswered(registry: Pick<NodeRegistry, 'markAlive'>, nodeId: string): void {
  registry.markAlive(nodeId)
}
