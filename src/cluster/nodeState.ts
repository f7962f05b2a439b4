// A DataNode's state in one word, as `dfs status`, `dfs info`, the dashboard and /metrics show it:
// its health (alive, suspect, dead), except that an alive node taking no new chunks says why
// (draining before full: a drain is what the operator asked for). Each node is in exactly one state,
// so counts by state add up to the nodes.

import type { NodeHealth } from '../chunks/NodeRegistry.js'

export const NODE_STATES = ['alive', 'suspect', 'dead', 'full', 'draining'] as const
export type NodeState = (typeof NODE_STATES)[number]

export function nodeState(node: { health: NodeHealth | string; full: boolean; draining?: boolean }): NodeState {
  if (node.health !== 'alive') return node.health === 'suspect' ? 'suspect' : 'dead'
  return node.draining ? 'draining' : node.full ? 'full' : 'alive'
}
