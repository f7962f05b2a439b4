// What a `dfs policy apply` job reports: the CLI's progress bar follows it, `dfs status` shows it in
// one line (conversionLine). No dependencies beyond formatting, so the CLI can import it cheaply.

import { formatSize } from '../../util/size.js'
import { oneLine } from '../../util/oneLine.js'

export interface ConversionStatus {
  /** Counts up per NameNode run: the CLI follows the job it started. */
  id: number
  /** The directory converted, as a path in the namespace ("/data/cold"). */
  path: string
  /** The policy in force at that directory when the job began (subdirectories may have their own). */
  policy: string
  /** stopped: the NameNode stopped; cancelled: dfs policy apply --cancel. */
  state: 'running' | 'done' | 'failed' | 'stopped' | 'cancelled'
  /** While running: still counting what there is to convert, or converting it. */
  phase: 'counting' | 'converting' | 'finished'
  startedAt: number
  finishedAt?: number
  elapsedMs: number
  /** Files (and their chunks, and bytes of file data) found in another layout than their directory's policy. */
  filesTotal: number
  chunksTotal: number
  bytesTotal: number
  /** Files whose every planned chunk is handled (converted, skipped or failed). */
  filesDone: number
  chunksDone: number
  bytesDone: number
  /** Chunks a client replaced meanwhile, or already in the layout by then: nothing to do. */
  skippedChunks: number
  /** Chunks whose conversion failed: they keep their old layout (the daemon log says why). */
  failedChunks: number
  /** Bytes on nodes of the converted chunks, before and after (storedBytes of the refs). */
  storedBefore: number
  storedAfter: number
  /** Bytes of file data per second over the last 5 s. */
  bytesPerSec: number
  /** Why it failed. */
  error?: string
}

/** `policy apply /cold (ec:2+1): converting, 12/40 files, 30/120 chunks, 90 MiB/360 MiB, 2 failed` */
export function conversionLine(s: ConversionStatus): string {
  const doing = s.state !== 'running' ? s.state : s.phase === 'counting' ? 'counting' : 'converting'
  const parts = [
    `${s.filesDone}/${s.filesTotal} files`,
    `${s.chunksDone}/${s.chunksTotal} chunks`,
    `${formatSize(s.bytesDone)}/${formatSize(s.bytesTotal)}`,
  ]
  if (s.state === 'running') parts.push(`${formatSize(s.bytesPerSec)}/s`)
  if (s.skippedChunks) parts.push(`${s.skippedChunks} skipped`)
  if (s.failedChunks) parts.push(`${s.failedChunks} failed`)
  if (s.storedBefore > 0) parts.push(`stored ${formatSize(s.storedBefore)} -> ${formatSize(s.storedAfter)}`)
  const line = `policy apply ${oneLine(s.path)} (${s.policy}): ${doing}, ${parts.join(', ')}`
  return s.error ? `${line}: ${oneLine(s.error)}` : line
}
