// /api/live: server-sent events to every open page. On connect the status, then the recent events
// (oldest first); then `status` about once a second, computed once per tick for all viewers (and
// only while someone watches), and `cluster-event` as each one happens. An event's id is
// <NameNode start>.<seq>: a reconnecting EventSource (Last-Event-ID) gets only what it missed from
// the same NameNode, and everything recent from a restarted one (whose seqs start again at 1). A
// viewer that cannot keep up (its socket buffer past a bound) or went away is dropped.

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ClusterEvent, EventFeed } from '../namenode/events.js'

/** Bytes queued for one viewer before it is taken for gone. */
const MAX_BUFFERED = 1024 * 1024
/** Open pages at most; one more is told to come back later (503). */
const MAX_VIEWERS = 100
/** What a reconnecting viewer is sent back at most. */
const REPLAY_MAX = 200
/**
 * A status walks the whole namespace (chunks by copies): on the NameNode's event loop, where every
 * client's request waits behind it. Ticks are spaced so the walk takes at most 1/COST_SHARE of the
 * time: every second for a small cluster, every 10 s for one where the walk takes 200 ms.
 */
export const COST_SHARE = 50

export interface LiveOptions {
  events: EventFeed
  /** Tells this NameNode's events from those of an earlier run (its start time). */
  incarnation: number
  /** The status JSON (already serialised); errors are logged and the tick skipped. */
  status: () => Promise<string>
  intervalMs?: number
  log: (message: string) => void
  /** ms, monotonic (tests inject one). */
  now?: () => number
}

export class LiveHub {
  private readonly viewers = new Set<ServerResponse>()
  private readonly unsubscribe: () => void
  private timer: NodeJS.Timeout | undefined
  private ticking = false
  /** now() before which a tick is skipped (see COST_SHARE). */
  private nextTickAt = 0
  private readonly now: () => number

  constructor(private readonly opts: LiveOptions) {
    this.now = opts.now ?? (() => performance.now())
    this.unsubscribe = opts.events.subscribe(event => this.broadcast(this.eventMessage(event)))
  }

  get size(): number {
    return this.viewers.size
  }

  /** Take a request for /api/live: headers, the current status, what it missed, then the stream. */
  async open(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.viewers.size >= MAX_VIEWERS) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '10' })
      res.end(`dfs dashboard: ${MAX_VIEWERS} live viewers already; try again later\n`)
      return
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    res.write('retry: 2000\n\n')
    this.viewers.add(res)
    res.on('close', () => this.viewers.delete(res))
    this.timer ??= setInterval(() => void this.tick(), this.opts.intervalMs ?? 1000)
    // Events emitted while the status is computed reach the viewer twice at most (it keeps one by seq).
    await this.tick(res)
    for (const event of this.opts.events.recent(REPLAY_MAX, this.missedAfter(req.headers['last-event-id'])).reverse()) this.send(res, this.eventMessage(event))
  }

  /** The seq a reconnecting viewer saw last from this NameNode (0: it saw none of this one's). */
  private missedAfter(lastEventId: string | string[] | undefined): number {
    const m = /^(\d+)\.(\d+)$/.exec(String(lastEventId ?? ''))
    return m && Number(m[1]) === this.opts.incarnation ? Number(m[2]) : 0
  }

  private eventMessage(event: ClusterEvent): string {
    return `id: ${this.opts.incarnation}.${event.seq}\nevent: cluster-event\ndata: ${JSON.stringify(event)}\n\n`
  }

  /** One status for every viewer (or just the one that arrived). */
  private async tick(only?: ServerResponse): Promise<void> {
    if (this.viewers.size === 0) {
      clearInterval(this.timer)
      this.timer = undefined
      return
    }
    if (!only && (this.ticking || this.now() < this.nextTickAt)) return
    if (!only) this.ticking = true
    try {
      const started = this.now()
      const message = `event: status\ndata: ${await this.opts.status()}\n\n`
      if (!only) this.nextTickAt = started + COST_SHARE * (this.now() - started)
      if (only) this.send(only, message)
      else this.broadcast(message)
    } catch (err) {
      this.opts.log(`dashboard: status failed: ${(err as Error).message}`)
    } finally {
      if (!only) this.ticking = false
    }
  }

  private broadcast(message: string): void {
    for (const viewer of this.viewers) this.send(viewer, message)
  }

  private send(viewer: ServerResponse, message: string): void {
    if (viewer.destroyed || viewer.writableEnded) {
      this.viewers.delete(viewer)
      return
    }
    if (viewer.writableLength > MAX_BUFFERED) {
      this.viewers.delete(viewer)
      viewer.destroy()
      return
    }
    viewer.write(message)
  }

  /** End every stream and stop listening. */
  close(): void {
    this.unsubscribe()
    clearInterval(this.timer)
    this.timer = undefined
    for (const viewer of this.viewers) viewer.end()
    this.viewers.clear()
  }
}
