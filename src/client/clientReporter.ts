// A mount tells its NameNode who it is and what it counted (protocol/clientStats.ts): at once, then
// every couple of seconds while its counters move, once more after they stopped (so the NameNode's
// rates, taken from the last two reports, fall back to zero), and at least every `quietMs` (so a
// NameNode that restarted, or missed one, learns of it). The counters are cumulative: a lost report
// loses nothing. Through the session: a direct call embedded, a one-way request over TCP.

import type { ClientReport, NameNodeSession } from '../protocol/api.js'
import { type ClientAbout, type ClientCounters, REPORT_EVERY_MS, REPORT_QUIET_MS } from '../protocol/clientStats.js'

export interface ClientReporterOptions {
  session: Pick<NameNodeSession, 'report'>
  about: ClientAbout
  counters: () => ClientCounters
  /** How often to look whether the counters moved (ms). */
  everyMs?: number
  /** The longest time between two reports, moved or not (ms). */
  quietMs?: number
  now?: () => number
}

export class ClientReporter {
  private timer: NodeJS.Timeout | undefined
  private sentMark = -1
  private sentAt = 0
  /** The last report carried a change: one more follows, so the rates end at zero. */
  private moving = false
  private readonly now: () => number

  constructor(private readonly opts: ClientReporterOptions) {
    this.now = opts.now ?? Date.now
  }

  /** Report now, then keep reporting until stop(). */
  start(): void {
    this.send(this.opts.counters())
    this.timer = setInterval(() => this.tick(), this.opts.everyMs ?? REPORT_EVERY_MS)
    this.timer.unref()
  }

  /** One look: report when something moved, right after it stopped, or after `quietMs`. */
  tick(): void {
    const counters = this.opts.counters()
    const moved = mark(counters) !== this.sentMark
    if (moved || this.moving || this.now() - this.sentAt >= (this.opts.quietMs ?? REPORT_QUIET_MS)) this.send(counters)
  }

  /** A last report (the NameNode keeps a departed client's final counts), then no more. */
  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.send(this.opts.counters())
  }

  private send(counters: ClientCounters): void {
    const m = mark(counters)
    this.moving = m !== this.sentMark && this.sentMark !== -1
    this.sentMark = m
    this.sentAt = this.now()
    const report: ClientReport = { about: this.opts.about, counters }
    try {
      this.opts.session.report(report)
    } catch {
      // Reporting is for the operator's view; it never gets in the way of the mount.
    }
  }
}

/** Grows whenever any counter grows (they only grow): compared to tell whether anything moved. */
function mark(c: ClientCounters): number {
  let n = c.failovers
  for (const h of Object.values(c.ops)) n += h.count
  for (const io of Object.values(c.nodes)) n += io.reads + io.writes
  return n
}
