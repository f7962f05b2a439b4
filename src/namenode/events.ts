// What happened in the cluster, newest first: nodes that died or came back, chunks healed,
// corruption found and repaired, clients that came and went, checkpoints. The NameNode's services
// emit here; the dashboard's Events panel and its live stream read it. A bounded ring: old events
// fall off, as in a log viewer; the log keeps everything.

import { oneLine } from '../util/oneLine.js'

export type ClusterEventKind =
  | 'node-dead' | 'node-suspect' | 'node-back' | 'node-full'
  | 'healed' | 'corruption' | 'repaired' | 'lost'
  | 'client-connected' | 'client-gone'
  | 'checkpoint' | 'balance' | 'drain' | 'standby'
  | 'convert'

export interface ClusterEvent {
  /** Increases by one per event: a live viewer asks for what came after the last one it has. */
  seq: number
  /** When (ms since the epoch). */
  at: number
  kind: ClusterEventKind
  level: 'info' | 'warn' | 'error'
  /** One line a person reads. */
  message: string
  nodeId?: string
  clientId?: string
  /** How many (chunks healed, repaired). */
  count?: number
}

export type NewEvent = Omit<ClusterEvent, 'seq' | 'at'>

export class EventFeed {
  private readonly ring: ClusterEvent[] = []
  private readonly listeners = new Set<(event: ClusterEvent) => void>()
  private seq = 0

  constructor(private readonly capacity = 500, private readonly now: () => number = Date.now) {}

  emit(event: NewEvent): ClusterEvent {
    // One line whatever went into it (a mount point with a newline, a client's escape sequences).
    const full: ClusterEvent = { seq: ++this.seq, at: this.now(), ...event, message: oneLine(event.message) }
    this.ring.push(full)
    if (this.ring.length > this.capacity) this.ring.shift()
    // A listener that throws (a viewer gone mid-write) must not stop the service that emitted.
    for (const listener of this.listeners) {
      try {
        listener(full)
      } catch {}
    }
    return full
  }

  /** Newest first; at most `limit`; only those after `afterSeq` when given. */
  recent(limit = this.capacity, afterSeq = 0): ClusterEvent[] {
    const out: ClusterEvent[] = []
    for (let i = this.ring.length - 1; i >= 0 && out.length < limit; i--) {
      const event = this.ring[i]!
      if (event.seq <= afterSeq) break
      out.push(event)
    }
    return out
  }

  /** Hear every event from now on; returns the way to stop. */
  subscribe(listener: (event: ClusterEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}
