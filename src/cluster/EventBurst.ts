// Events that can come in floods (a rotten disk: every copy the scrubber or a read touches is bad)
// are told one by one only while they are rare. The first of a burst (the first `tellFirst`) is
// emitted at once, with its details; what follows within windowMs is counted and emitted as one
// summary when the window ends, and again at most once a window while the burst lasts. The
// dashboard's event ring keeps the last few hundred events: a thousand bad copies must not push
// everything else out of it.

import type { NewEvent } from '../namenode/events.js'

export type EmitEvent = (event: NewEvent) => void

export interface EventBurstOptions {
  /** How long a burst is summed up before its summary (ms). Default 10 s. */
  windowMs?: number
  /** How many of a burst are told one by one before the rest are counted. Default 1. */
  tellFirst?: number
  /** Timers, for tests. */
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (timer: unknown) => void
}

export class EventBurst {
  readonly #emit: EmitEvent
  readonly #summary: (count: number, windowMs: number) => NewEvent
  readonly #windowMs: number
  readonly #tellFirst: number
  readonly #setTimer: (fn: () => void, ms: number) => unknown
  readonly #clearTimer: (timer: unknown) => void
  #timer: unknown
  #pending = 0
  /** Told one by one in the burst going on. */
  #told = 0

  /** `summary`: the one event for `count` more of them within the window. */
  constructor(emit: EmitEvent, summary: (count: number, windowMs: number) => NewEvent, options: EventBurstOptions = {}) {
    this.#emit = emit
    this.#summary = summary
    this.#windowMs = options.windowMs ?? 10_000
    this.#tellFirst = options.tellFirst ?? 1
    this.#setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms).unref())
    this.#clearTimer = options.clearTimer ?? ((timer) => clearTimeout(timer as NodeJS.Timeout))
  }

  /** One more: emitted now if it starts a burst, else counted into the window's summary. */
  add(event: NewEvent): void {
    if (this.#told >= this.#tellFirst) {
      this.#pending++
      return
    }
    this.#emit(event)
    this.#told++
    if (this.#timer === undefined) this.#open()
  }

  /** Emit what is pending now (the service stops, or news that must come after the summary). */
  flush(): void {
    if (this.#timer !== undefined) this.#clearTimer(this.#timer)
    this.#timer = undefined
    this.#emitPending()
    this.#told = 0
  }

  #open(): void {
    this.#timer = this.#setTimer(() => {
      this.#timer = undefined
      // A burst still going on keeps its window open: one summary per window, not one per event.
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
