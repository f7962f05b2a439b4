// The registry's node transitions as cluster events (the dashboard's Events panel): dead, suspect,
// back, full, room again. One event per transition, never per heartbeat: the registry tells only a
// change of health or of fullness, so a node that stays dead gives one. A node that flaps between
// suspect and alive (a busy host, a slow link), or between full and room again (free space at the
// threshold), is told one by one for its first few changes, then summed up once a window
// (../EventBurst.ts), so it cannot push everything else out of the event ring. Dead, and back from
// the dead, are always told.

import type { NodeHealthChange, NodeRegistry, NodeReport } from '../../chunks/NodeRegistry.js'
import { type EmitEvent, EventBurst, type EventBurstOptions } from '../EventBurst.js'

/** Changes (suspect and alive, full and room) a node is told one by one before they are summed up. */
const FLAPS_TOLD = 4

const nowState = (status: { health: string; full: boolean } | undefined) => (status ? (status.health === 'alive' && status.full ? 'full' : status.health) : 'gone')

/** Emit the registry's node transitions from now on; returns the way to stop. */
export function emitNodeEvents(
  registry: Pick<NodeRegistry, 'on' | 'off' | 'status'>,
  emit: EmitEvent,
  /** The flap window (default 60 s) and, for tests, its timers. */
  flapOptions: EventBurstOptions = {},
): () => void {
  /** What a node back from the dead reported holding (the report comes just before its change to alive). */
  const reported = new Map<string, number>()
  /** Per node: its suspect / answers-again / full / room changes (one entry per node id, dropped at stop). */
  const flaps = new Map<string, EventBurst>()
  const flapsOf = (nodeId: string, address: string) => {
    let burst = flaps.get(nodeId)
    if (!burst) {
      burst = new EventBurst(emit, (count, windowMs) => ({
        kind: 'node-suspect', level: 'warn', nodeId, count,
        message: `node ${address} changed health or room ${count} more time${count === 1 ? '' : 's'} in the last ${windowMs / 1000} s; now ${nowState(registry.status(nodeId))}`,
      }), { windowMs: 60_000, tellFirst: FLAPS_TOLD, ...flapOptions })
      flaps.set(nodeId, burst)
    }
    return burst
  }
  const onReport = (report: NodeReport) => void reported.set(report.nodeId, report.ids.length)
  const onChange = (change: NodeHealthChange) => {
    const { nodeId, address, from, to, reason } = change
    const why = reason ? `: ${reason}` : ''
    if (to === 'dead') {
      flaps.get(nodeId)?.flush() // its flapping summed up before it, not after
      emit({ kind: 'node-dead', level: 'error', nodeId, message: `node ${address} is dead${why}` })
    } else if (to === 'suspect') {
      flapsOf(nodeId, address).add({ kind: 'node-suspect', level: 'warn', nodeId, message: `node ${address} is suspect${why}` })
    } else if (from === 'dead') {
      const held = reported.get(nodeId)
      reported.delete(nodeId)
      const what = held === undefined ? '' : ` with ${held.toLocaleString('en-US')} chunk${held === 1 ? '' : 's'}`
      emit({ kind: 'node-back', level: 'info', nodeId, message: `node ${address} is back${what}; re-admitted`, ...(held === undefined ? {} : { count: held }) })
    } else {
      flapsOf(nodeId, address).add({ kind: 'node-back', level: 'info', nodeId, message: `node ${address} answers again` })
    }
  }
  const onFull = ({ nodeId, full }: { nodeId: string; full: boolean }) => {
    const status = registry.status(nodeId)
    const address = status?.address ?? nodeId
    if (full) {
      const why = status?.fullReason ? ` (${status.fullReason})` : ''
      flapsOf(nodeId, address).add({ kind: 'node-full', level: 'warn', nodeId, message: `node ${address} is full${why}; it takes no new chunks` })
    } else {
      flapsOf(nodeId, address).add({ kind: 'node-full', level: 'info', nodeId, message: `node ${address} has room again; it takes new chunks` })
    }
  }
  registry.on('report', onReport)
  registry.on('change', onChange)
  registry.on('full', onFull)
  return () => {
    registry.off('report', onReport)
    registry.off('change', onChange)
    registry.off('full', onFull)
    for (const burst of flaps.values()) burst.flush()
    flaps.clear()
  }
}
