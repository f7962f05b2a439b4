// Counting turns of the event loop instead of measuring milliseconds.
//
// A test that wants to know "does this long job let others run?" watches the event loop, not the
// clock: a ticker re-arms itself with setImmediate, so it runs once per turn of the loop. A job that
// yields (setImmediate, I/O) between slices lets the ticker run between them; a job that keeps the
// thread for its whole length lets it run at most once. How long a turn took is a benchmark figure
// (npm run bench), never a test assertion: on a busy machine it says more about the machine.

export interface LoopTurns {
  /** Turns of the event loop seen so far. */
  readonly count: number
  /** Stop ticking, with a last call of onTurn so work done since the last turn is seen (idempotent). */
  stop(): void
}

/** Start counting turns; onTurn (optional) runs at each one, e.g. to sample a job's progress. */
export function countLoopTurns(onTurn?: () => void): LoopTurns {
  let count = 0
  let stopped = false
  const tick = () => {
    if (stopped) return
    count++
    onTurn?.()
    setImmediate(tick)
  }
  setImmediate(tick)
  return {
    get count() {
      return count
    },
    stop() {
      if (stopped) return
      stopped = true
      onTurn?.()
    },
  }
}
