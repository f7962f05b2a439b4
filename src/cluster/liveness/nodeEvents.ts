// The registry's node transitions as cluster events (the dashboard's Events panel): dead, suspect,
// back, full, room again. One event per transition, never per heartbeat: the registry tells only a
// change of health or of fullness, and a node that stays dead gives one. A node that flaps (a call
// fails, the next heartbeat answers; free space hovering at the limit) could change every second: its
// suspect, answers-again, full and room-again events are told one by one up to a few a minute, the
// rest summed up (EventBurst), so one flapping node cannot push every other event out of the ring.
// Dead, and back from the dead, are always told: each takes the dead threshold of silence.

import type { NodeHealthChange, NodeRegistry, NodeReport } from '../../chunks/NodeRegistry.js'
import { type EmitEvent, EventBurst, type EventBurstOptions } from '../healer/EventBurst.js'

/** A node's changes of health (short of dead) and of room told one by one per window, before the rest are summed. */
export const FLAPS_TOLD = 6
export const FLAP_WINDOW_MS = 60_000

/** Emit the registry's node transitions from now on; returns the way to stop. */
export function emitNodeEvents(registry: Pick<NodeRegistry, 'on' | 'off' | 'status'>, emit: EmitEvent, burstOptions: EventBurstOptions = {}): () => void {
  const flaps = new Map<string, EventBurst>()
  const flap = (nodeId: string, address: string) => {
    let burst = flaps.get(nodeId)
    if (!burst) {
      const summary = (count: number, windowMs: number) => {
        const status = registry.status(nodeId)
        const now = status ? `; now ${status.health}${status.full ? ' and full' : ''}` : ''
        return { kind: 'node-suspect', level: 'warn', nodeId, count, message: `node ${address} flapping: ${count} more changes of health or room in ${Math.round(windowMs / 1000)} s${now}` } as const
      }
      burst = new EventBurst(emit, summary, { windowMs: FLAP_WINDOW_MS, toldPerWindow: FLAPS_TOLD, ...burstOptions })
      flaps.set(nodeId, burst)
    }
    return burst
  }
  /** What a node back from the dead reported holding (the report comes just before its change to alive). */
  const reported = new Map<string, number>()
  const onReport = (report: NodeReport) => void reported.set(report.nodeId, report.ids.length)
  const onChange = (change: NodeHealthChange) => {
    const { nodeId, address, from, to, reason } = change
    const why = reason ? `: ${reason}` : ''
    if (to === 'dead') {
      emit({ kind: 'node-dead', level: 'error', nodeId, message: `node ${address} is dead${why}` })
    } else if (to === 'suspect') {
      flap(nodeId, address).add({ kind: 'node-suspect', level: 'warn', nodeId, message: `node ${address} is suspect${why}` })
    } else if (from === 'dead') {
      const held = reported.get(nodeId)
      reported.delete(nodeId)
      const what = held === undefined ? '' : ` with ${held.toLocaleString('en-US')} chunk${held === 1 ? '' : 's'}`
      emit({ kind: 'node-back', level: 'info', nodeId, message: `node ${address} is back${what}; re-admitted`, ...(held === undefined ? {} : { count: held }) })
    } else {
      flap(nodeId, address).add({ kind: 'node-back', level: 'info', nodeId, message: `node ${address} answers again` })
    }
  }
  const onFull = ({ nodeId, full }: { nodeId: string; full: boolean }) => {
    const status = registry.status(nodeId)
    const address = status?.address ?? nodeId
    if (full) {
      const why = status?.fullReason ? ` (${status.fullReason})` : ''
      flap(nodeId, address).add({ kind: 'node-full', level: 'warn', nodeId, message: `node ${address} is full${why}; it takes no new chunks` })
    } else {
      flap(nodeId, address).add({ kind: 'node-full', level: 'info', nodeId, message: `node ${address} has room again; it takes new chunks` })
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
  }
}
