// Heartbeats: every node is pinged on a fixed interval (a TCP node answers on its connection; a local
// folder proves its identity file is still there and its own). Silence decides health:
//
//   answered within suspectAfterMs -> alive
//   silent longer than suspectAfterMs, or a ping failed -> suspect (out of the write pool at once)
//   silent longer than deadAfterMs -> dead (the healer re-replicates its chunks after a grace period)
//
// A hung node (SIGSTOP) never answers its ping: the age check catches it within suspectAfterMs plus
// one interval. Silence is only the nodes' when this process was listening: after a pause of our own
// (the daemon SIGSTOPped, a long stall) every node gets a fresh suspectAfterMs to answer before its
// silence counts, or a daemon resumed after 10 s would declare every healthy node dead. A dead node that answers again first reports what it holds (list), then is re-admitted.
// Usage is refreshed every few beats: it feeds `dfs status` and takes a node in or out of the write
// pool as its free space crosses minFreeBytes.

import type { NodeRegistry } from '../../chunks/NodeRegistry.js'
import type { DataNode } from '../../datanode/DataNode.js'
import { levelled } from '../../log/Log.js'
import type { EmitEvent } from '../EventBurst.js'
import { emitNodeEvents } from './nodeEvents.js'

export interface LivenessOptions {
  /** How often each node is pinged. */
  intervalMs: number
  /** No answer for this long: suspect. */
  suspectAfterMs: number
  /** No answer for this long: dead. */
  deadAfterMs: number
  /** A node with less free space than this takes no new chunks. */
  minFreeBytes: number
  /** Usage is refreshed every this many ms. */
  usageEveryMs?: number
  log: (message: string) => void
  /** Told of every node transition (dead, suspect, back, full, room again) while the monitor runs: the NameNode's event feed. */
  onEvent?: EmitEvent
}

export const DEFAULT_LIVENESS = { intervalMs: 500, suspectAfterMs: 2_000, deadAfterMs: 10_000 }

export class HeartbeatMonitor {
  private timer: NodeJS.Timeout | undefined
  private readonly beating = new Map<string, Promise<void>>()
  private readonly lastUsage = new Map<string, number>()
  private lastTick = 0
  /** Until then, silence and unanswered pings are blamed on our own pause, not on the nodes. */
  private excusedUntil = 0
  /**
   * When start() was called: silence counts only from then. A mount daemon starts its monitor once
   * the mount serves, seconds after the nodes were registered, and nobody was listening meanwhile.
   */
  private listeningSince = 0
  private stopEvents: (() => void) | undefined

  constructor(private readonly registry: NodeRegistry, readonly options: LivenessOptions) {}

  start(): void {
    this.listeningSince = Date.now()
    this.registry.monitored = true
    if (this.options.onEvent && !this.stopEvents) this.stopEvents = emitNodeEvents(this.registry, this.options.onEvent)
    this.timer = setInterval(() => this.tick(), this.options.intervalMs)
    this.timer.unref()
    this.tick()
  }

  /** Stop beating. Pings in flight are not waited for: a hung node's never answers. */
  stop(): void {
    clearInterval(this.timer)
    this.registry.monitored = false
    this.stopEvents?.()
    this.stopEvents = undefined
  }

  private tick(): void {
    const now = Date.now()
    const gap = this.lastTick === 0 ? 0 : now - this.lastTick
    this.lastTick = now
    if (gap > this.options.suspectAfterMs) {
      this.excusedUntil = now + this.options.suspectAfterMs + this.options.intervalMs
      levelled(this.options.log).warn(`heartbeats: this process did not run for ${seconds(gap)} (stopped or stalled); the nodes get ${seconds(this.options.suspectAfterMs)} to answer before their silence counts`)
    }
    const excused = now < this.excusedUntil
    for (const node of this.registry.nodes()) {
      if (!this.beating.has(node.nodeId)) {
        const beat = this.beat(node).finally(() => this.beating.delete(node.nodeId))
        this.beating.set(node.nodeId, beat)
      }
      const status = this.registry.status(node.nodeId)
      if (!status || excused) continue
      const silent = now - Math.max(status.lastContact, this.listeningSince)
      if (silent > this.options.deadAfterMs && status.health !== 'dead') {
        this.registry.markDead(node.nodeId, `no heartbeat for ${seconds(silent)}`)
        levelled(this.options.log).warn(`node ${node.address} is dead: no heartbeat for ${seconds(silent)}`)
      } else if (silent > this.options.suspectAfterMs && status.health === 'alive') {
        this.registry.markSuspect(node.nodeId, `no heartbeat for ${seconds(silent)}`)
        levelled(this.options.log).warn(`node ${node.address} is suspect: no heartbeat for ${seconds(silent)}`)
      }
    }
  }

  private async beat(node: DataNode): Promise<void> {
    try {
      // A hung node never answers: give up on this ping (the next beat sends another) rather than
      // wait for it forever, or the node could never be found alive again.
      await withTimeout(node.ping(), this.options.suspectAfterMs, `ping unanswered after ${seconds(this.options.suspectAfterMs)}`)
    } catch (err) {
      // The ping's timer ran out while we were not running (the tick may not have seen the pause yet).
      if (Date.now() < this.excusedUntil || Date.now() - this.lastTick > this.options.suspectAfterMs) return
      if (this.registry.health(node.nodeId) === 'alive') levelled(this.options.log).warn(`node ${node.address} is suspect: ${(err as Error).message}`)
      this.registry.markSuspect(node.nodeId, (err as Error).message)
      return
    }
    try {
      if (this.registry.health(node.nodeId) === 'dead') {
        const ids = await withTimeout(node.list(), this.options.deadAfterMs, 'no chunk report')
        this.options.log(`node ${node.address} is back with ${ids.length} chunks; re-admitted`)
        this.registry.readmit(node.nodeId, ids)
      } else {
        this.registry.markAlive(node.nodeId)
      }
      await this.refreshUsage(node)
    } catch (err) {
      this.registry.markSuspect(node.nodeId, (err as Error).message)
    }
  }

  private async refreshUsage(node: DataNode): Promise<void> {
    const every = this.options.usageEveryMs ?? 2_000
    const last = this.lastUsage.get(node.nodeId) ?? 0
    if (Date.now() - last < every && !this.registry.status(node.nodeId)?.full) return
    const usage = await withTimeout(node.usage(), this.options.suspectAfterMs, 'usage unanswered')
    this.lastUsage.set(node.nodeId, Date.now())
    this.registry.setUsage(node.nodeId, usage)
    if (usage.available < this.options.minFreeBytes) this.registry.markFull(node.nodeId, `${usage.available} bytes free`)
    else this.registry.markHasRoom(node.nodeId)
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

function withTimeout<T>(promise: Promise<T>, ms: number, why: string): Promise<T> {
  let timer: NodeJS.Timeout
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(why)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
