// The progress bar of the long commands (balance, drain, fsck), on stderr: on a terminal a bar
// redrawn in place (cli-progress); without one (CI, a pipe, a log file) a plain line now and then
// and the last one; with --json nothing at all, so stdout and stderr stay machine-readable.

import cliProgress from 'cli-progress'

/** Without a terminal, a progress line at most this often (plus the last one). */
const LINE_EVERY_MS = 1000
const BAR_WIDTH = 30

export interface ProgressOptions {
  /** What is in progress: `balance`, `drain /srv/node_1`, `fsck`. */
  label: string
  /** --json: show nothing. */
  quiet?: boolean
  stream?: NodeJS.WriteStream
  /** Clock, for tests of the plain-line pacing. */
  now?: () => number
}

export interface ProgressState {
  /** Done so far, out of total (the bar's fill); total 0 while nothing is known yet. */
  value: number
  total: number
  /** What follows the percentage: counts, bytes, speed. */
  detail: string
}

export class Progress {
  readonly #label: string
  readonly #quiet: boolean
  readonly #stream: NodeJS.WriteStream
  readonly #now: () => number
  #bar: cliProgress.SingleBar | undefined
  #lastLine = -Infinity
  #ended = false

  constructor(options: ProgressOptions) {
    this.#label = options.label
    this.#quiet = options.quiet === true
    this.#stream = options.stream ?? process.stderr
    this.#now = options.now ?? Date.now
  }

  update(state: ProgressState): void {
    if (this.#quiet || this.#ended) return
    if (this.#stream.isTTY !== true) {
      if (this.#now() - this.#lastLine < LINE_EVERY_MS) return
      this.#lastLine = this.#now()
      this.#stream.write(`${plainLine(this.#label, state)}\n`)
      return
    }
    const { value, total } = barValues(state)
    if (!this.#bar) {
      this.#bar = new cliProgress.SingleBar({
        format: `${this.#label} [{bar}] {percentage}%  {detail}`,
        stream: this.#stream,
        barsize: BAR_WIDTH,
        barCompleteChar: '#',
        barIncompleteChar: '-',
        hideCursor: true,
        gracefulExit: false, // Ctrl-C is the command's to handle
      })
      this.#bar.start(total, value, { detail: state.detail })
    } else {
      this.#bar.setTotal(total)
      this.#bar.update(value, { detail: state.detail })
    }
  }

  /** The last state: drawn, and the line ended. */
  finish(state: ProgressState): void {
    if (this.#quiet || this.#ended) return
    this.#lastLine = -Infinity
    this.update(state.total > 0 ? state : { ...state, value: 1, total: 1 }) // nothing to do: all done
    this.#bar?.stop()
    this.#ended = true
  }

  /** Stop drawing where it is (Ctrl-C): the terminal line is ended, nothing more is written. */
  interrupt(): void {
    if (this.#ended) return
    this.#bar?.stop()
    this.#ended = true
  }
}

/** `balance [##########--------------------]  33%  12/36 chunks ...`: the line without a terminal. */
export function plainLine(label: string, state: ProgressState): string {
  const { value, total } = barValues(state)
  const fraction = Math.min(1, value / total)
  const filled = Math.round(fraction * BAR_WIDTH)
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4)
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${percent}  ${state.detail}`
}

/** Nothing known yet shows as 0 of 1; never more done than there is. */
function barValues(state: ProgressState): { value: number; total: number } {
  const total = state.total > 0 ? state.total : 1
  return { value: state.total > 0 ? Math.min(state.value, total) : 0, total }
}
