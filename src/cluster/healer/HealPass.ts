// One healing pass: from the moment the healer's queue gets work until no repair runs any more.
// The healer logs one line per pass (chunks restored, bytes copied, copies trimmed, failures, how
// long it took), not one per chunk: the thousand chunks of a dead node are one line at info level
// (warn when something failed), and each chunk's story is there at debug level. Likewise for the
// NameNode's event feed: a pass is at most one "healed N chunks", one "repaired N corrupt copies"
// and one "N chunks lost" event.

import { formatSize } from '../../util/size.js'
import type { LogLevel } from '../../log/Log.js'
import type { NewEvent } from '../../namenode/events.js'

/** The healer's running totals a pass is measured against. */
export interface HealCounts {
  copiedChunks: number
  copiedBytes: number
  trimmedCopies: number
  corruptRemoved: number
  failed: number
}

export class HealPass {
  readonly #startedAt: number
  readonly #before: HealCounts
  /** Chunks that got at least one new copy. */
  restored = 0
  /** Chunks left with fewer than R copies: not enough writable nodes. */
  short = 0
  /** Chunks found with no intact copy anywhere. */
  lost = 0
  /** Copies a target node did not take. */
  failedCopies = 0
  /** Missing or corrupt copies a fresh copy overwrote (the corrupt ones deleted are in the totals). */
  replacedBad = 0
  #firstFailure: string | undefined

  constructor(counts: HealCounts, now = Date.now()) {
    this.#before = { ...counts }
    this.#startedAt = now
  }

  /** Something failed; the first such message goes into the summary. */
  failure(message: string): void {
    this.#firstFailure ??= message
  }

  /** The pass's line, or undefined when it changed nothing and nothing failed. */
  summary(counts: HealCounts, now = Date.now()): { level: LogLevel; message: string; context: Record<string, number> } | undefined {
    const copies = counts.copiedChunks - this.#before.copiedChunks
    const bytes = counts.copiedBytes - this.#before.copiedBytes
    const trimmed = counts.trimmedCopies - this.#before.trimmedCopies
    const corrupt = counts.corruptRemoved - this.#before.corruptRemoved
    const failed = counts.failed - this.#before.failed
    const context = { restored: this.restored, copies, bytes, trimmed, corruptRemoved: corrupt, failed, failedCopies: this.failedCopies, belowR: this.short, lost: this.lost, ms: now - this.#startedAt }
    if (this.restored + copies + trimmed + corrupt + failed + this.failedCopies + this.short + this.lost === 0) return undefined
    const parts = [`${this.restored} chunk${this.restored === 1 ? '' : 's'} restored (${copies} cop${copies === 1 ? 'y' : 'ies'}, ${formatSize(bytes)})`]
    if (trimmed) parts.push(`${trimmed} extra cop${trimmed === 1 ? 'y' : 'ies'} removed`)
    if (corrupt) parts.push(`${corrupt} corrupt cop${corrupt === 1 ? 'y' : 'ies'} removed`)
    parts.push(`${failed} failed`)
    if (this.failedCopies) parts.push(`${this.failedCopies} cop${this.failedCopies === 1 ? 'y' : 'ies'} refused by their target`)
    if (this.short) parts.push(`${this.short} still below R copies (not enough writable nodes)`)
    if (this.lost) parts.push(`${this.lost} with no intact copy`)
    const trouble = failed + this.failedCopies + this.short + this.lost > 0
    const first = trouble && this.#firstFailure ? `; first failure: ${this.#firstFailure}` : ''
    return { level: trouble ? 'warn' : 'info', message: `healer: pass done in ${seconds(context.ms)}: ${parts.join(', ')}${first}`, context }
  }

  /** The pass's events for the NameNode's feed (events.ts): none for a pass that healed, repaired and lost nothing. */
  events(counts: HealCounts, now = Date.now()): NewEvent[] {
    const copies = counts.copiedChunks - this.#before.copiedChunks
    const bytes = counts.copiedBytes - this.#before.copiedBytes
    const repaired = counts.corruptRemoved - this.#before.corruptRemoved + this.replacedBad
    const took = seconds(now - this.#startedAt)
    const events: NewEvent[] = []
    if (this.restored > 0) {
      events.push({
        kind: 'healed', level: 'info', count: this.restored,
        message: `healed ${plural(this.restored, 'chunk')} in ${took} (${plural(copies, 'copy', 'copies')}, ${formatSize(bytes)})` +
          (this.short ? `; ${plural(this.short, 'chunk')} still below R copies (not enough writable nodes)` : ''),
      })
    }
    if (repaired > 0) {
      events.push({ kind: 'repaired', level: 'info', count: repaired, message: `repaired ${plural(repaired, 'bad copy', 'bad copies')}: each overwritten by a verified copy or deleted` })
    }
    if (this.lost > 0) {
      events.push({ kind: 'lost', level: 'error', count: this.lost, message: `${plural(this.lost, 'chunk')} lost: no intact copy on any node (dfs fsck lists the files)` })
    }
    return events
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
