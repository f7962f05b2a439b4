// /api/live: server-sent events to every open page. `status` about once a second, computed once per
// tick for all viewers (and only while someone watches); `cluster-event` as each one happens, with
// its seq as the event id, so a reconnecting EventSource (Last-Event-ID) gets what it missed. A
// viewer that cannot keep up (its socket buffer past a bound) or went away is dropped.

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ClusterEvent, EventFeed } from '../namenode/events.js'

/** Bytes queued for one viewer before it is taken for gone. */
const MAX_BUFFERED = 1024 * 1024
/** What a reconnecting viewer is sent back at most. */
const REPLAY_MAX = 200

export interface LiveOptions {
  events: EventFeed
  /** The status JSON (already serialised); errors are logged and the tick skipped. */
  status: () => Promise<string>
  intervalMs?: number
  log: (message: string) => void
}

export class LiveHub {
  private readonly viewers = new Set<ServerResponse>()
  private readonly unsubscribe: () => void
  private timer: NodeJS.Timeout | undefined
  private ticking = false

  constructor(private readonly opts: LiveOptions) {
    this.unsubscribe = opts.events.subscribe(event => this.broadcast(eventMessage(event)))
  }

  get size(): number {
    return this.viewers.size
  }

  /** Take a request for /api/live: headers, what it missed, the current status, then the stream. */
  open(req: IncomingMessage, res: ServerResponse, url: URL): void {
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
    const after = Number(req.headers['last-event-id'] ?? url.searchParams.get('after') ?? NaN)
    if (Number.isSafeInteger(after) && after >= 0) {
      for (const event of this.opts.events.recent(REPLAY_MAX, after).reverse()) res.write(eventMessage(event))
    }
    this.viewers.add(res)
    res.on('close', () => this.viewers.delete(res))
    void this.tick(res)
    this.timer ??= setInterval(() => void this.tick(), this.opts.intervalMs ?? 1000)
  }

  /** One status for every viewer (or just the one that arrived). */
  private async tick(only?: ServerResponse): Promise<void> {
    if (this.viewers.size === 0) {
      clearInterval(this.timer)
      this.timer = undefined
      return
    }
    if (this.ticking && !only) return
    if (!only) this.ticking = true
    try {
      const message = `event: status\ndata: ${await this.opts.status()}\n\n`
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

function eventMessage(event: ClusterEvent): string {
  return `id: ${event.seq}\nevent: cluster-event\ndata: ${JSON.stringify(event)}\n\n`
}
