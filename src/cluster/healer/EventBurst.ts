// Events that can come in floods (a rotten disk: every copy the scrubber or a read touches is bad)
// are told one by one only while they are rare. The first of a burst (the first few: toldPerWindow)
// is emitted at once, with its details; what follows within windowMs is counted and emitted as one
// summary when the window ends, and again at most once a window while the burst lasts. The dashboard's event ring keeps the last
// few hundred events: a thousand bad copies must not push everything else out of it.

import type { NewEvent } from '../../namenode/events.js'

export type EmitEvent = (event: NewEvent) => void

export interface EventBurstOptions {
  /** How long a burst is summed up before its summary (ms). Default 10 s. */
  windowMs?: number
  /** How many events of a window are told one by one before the rest are summed up. Default 1. */
  toldPerWindow?: number
  /** Timers, for tests. */
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (timer: unknown) => void
}

export class EventBurst {
  readonly #emit: EmitEvent
  readonly #summary: (count: number, windowMs: number) => NewEvent
  readonly #windowMs: number
  readonly #toldPerWindow: number
  readonly #setTimer: (fn: () => void, ms: number) => unknown
  readonly #clearTimer: (timer: unknown) => void
  #timer: unknown
  #pending = 0
  #told = 0

  /** `summary`: the one event for `count` more of them within the window. */
  constructor(emit: EmitEvent, summary: (count: number, windowMs: number) => NewEvent, options: EventBurstOptions = {}) {
    this.#emit = emit
    this.#summary = summary
    this.#windowMs = options.windowMs ?? 10_000
    this.#toldPerWindow = options.toldPerWindow ?? 1
    this.#setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms).unref())
    this.#clearTimer = options.clearTimer ?? ((timer) => clearTimeout(timer as NodeJS.Timeout))
  }

  /** One more: emitted now if it starts a burst, else counted into the window's summary. */
  add(event: NewEvent): void {
    if (this.#timer !== undefined && this.#told >= this.#toldPerWindow) {
      this.#pending++
      return
    }
    this.#emit(event)
    this.#told++
    if (this.#timer === undefined) this.#open()
  }

  /** Emit what is pending now (the service stops). */
  flush(): void {
    if (this.#timer !== undefined) this.#clearTimer(this.#timer)
    this.#timer = undefined
    this.#told = 0
    this.#emitPending()
  }

  #open(): void {
    this.#timer = this.#setTimer(() => {
      this.#timer = undefined
      // A burst still going on keeps its window open: one summary per window, not one per event.
      // Only a quiet window ends it, and the next events are told one by one again.
      if (this.#emitPending()) this.#open()
      else this.#told = 0
    }, this.#windowMs)
  }

  #emitPending(): boolean {
    const count = this.#pending
    if (count === 0) return false
    this.#pending = 0
    this.#emit(this.#summary(count, this.#windowMs))
    return true
  }
}
