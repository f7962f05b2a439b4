// The registry's node transitions as cluster events (the dashboard's Events panel): dead, suspect,
// back, full, room again. One event per transition, never per heartbeat: the registry tells only a
// change of health or of fullness, so a node that flaps gives one event each way and a node that
// stays dead gives one.

import type { NodeHealthChange, NodeRegistry, NodeReport } from '../../chunks/NodeRegistry.js'
import type { EmitEvent } from '../healer/EventBurst.js'

/** Emit the registry's node transitions from now on; returns the way to stop. */
export function emitNodeEvents(registry: Pick<NodeRegistry, 'on' | 'off' | 'status'>, emit: EmitEvent): () => void {
  /** What a node back from the dead reported holding (the report comes just before its change to alive). */
  const reported = new Map<string, number>()
  const onReport = (report: NodeReport) => void reported.set(report.nodeId, report.ids.length)
  const onChange = (change: NodeHealthChange) => {
    const { nodeId, address, from, to, reason } = change
    const why = reason ? `: ${reason}` : ''
    if (to === 'dead') {
      emit({ kind: 'node-dead', level: 'error', nodeId, message: `node ${address} is dead${why}` })
    } else if (to === 'suspect') {
      emit({ kind: 'node-suspect', level: 'warn', nodeId, message: `node ${address} is suspect${why}` })
    } else if (from === 'dead') {
      const held = reported.get(nodeId)
      reported.delete(nodeId)
      const what = held === undefined ? '' : ` with ${held.toLocaleString('en-US')} chunk${held === 1 ? '' : 's'}`
      emit({ kind: 'node-back', level: 'info', nodeId, message: `node ${address} is back${what}; re-admitted`, ...(held === undefined ? {} : { count: held }) })
    } else {
      emit({ kind: 'node-back', level: 'info', nodeId, message: `node ${address} answers again` })
    }
  }
  const onFull = ({ nodeId, full }: { nodeId: string; full: boolean }) => {
    const status = registry.status(nodeId)
    const address = status?.address ?? nodeId
    if (full) {
      const why = status?.fullReason ? ` (${status.fullReason})` : ''
      emit({ kind: 'node-full', level: 'warn', nodeId, message: `node ${address} is full${why}; it takes no new chunks` })
    } else {
      emit({ kind: 'node-full', level: 'info', nodeId, message: `node ${address} has room again; it takes new chunks` })
    }
  }
  registry.on('report', onReport)
  registry.on('change', onChange)
  registry.on('full', onFull)
  return () => {
    registry.off('report', onReport)
    registry.off('change', onChange)
    registry.off('full', onFull)
  }
}
