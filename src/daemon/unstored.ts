// What a stopping daemon could not make safe: written bytes that die with it (files no node or
// NameNode would take), and a namespace it could not make durable (the journal's or the NameNode's
// sync failed: what changed since the last fsync may be lost). The daemon logs it and leaves it
// beside its registry record, where `dfs unmount` (which waits for it to exit) reads it; a
// foreground `dfs mount` says it as it exits. Either way the exit status is not 0.

import { type DfsError, dfsError } from '../errors.js'
import type { UnstoredFile } from '../fs/FileSystem.js'
import { formatSize } from '../util/size.js'

const NAMED = 3

export interface StopLoss {
  /** Files whose written bytes were dropped. */
  files: UnstoredFile[]
  /** Why the namespace could not be made durable at the end, if it could not. */
  unsynced?: string
}

/** One line: how many files, the first few paths, how many bytes, and that they were dropped. */
export function describeUnstored(mountpoint: string, files: readonly UnstoredFile[]): string {
  const bytes = files.reduce((sum, file) => sum + file.bytes, 0)
  const names = files.slice(0, NAMED).map(file => file.path ? `${mountpoint.replace(/\/$/, '')}${file.path}` : `inode ${file.ino}`)
  const more = files.length > NAMED ? ` and ${files.length - NAMED} more` : ''
  const count = files.length === 1 ? '1 file' : `${files.length} files`
  return `unmounting ${mountpoint} dropped ${formatSize(bytes)} written to ${count} that could not be stored (${files[0]?.reason ?? 'unknown'}): ${names.join(', ')}${more}; those files keep only what was stored before`
}

/** One line for a namespace that could not be made durable. */
export function describeUnsynced(mountpoint: string, reason: string): string {
  return `unmounting ${mountpoint} could not make the metadata durable (${reason}); what changed since the last fsync that returned may be lost`
}

/** The error a stop that lost something ends with (dropped files first: they name what to write again); none when nothing was lost. */
export function stopLossError(mountpoint: string, loss: StopLoss): DfsError | undefined {
  if (loss.files.length > 0) return dfsError('UNSTORED_DROPPED', describeUnstored(mountpoint, loss.files), { mountpoint, files: loss.files.length })
  if (loss.unsynced !== undefined) return dfsError('METADATA_UNSYNCED', describeUnsynced(mountpoint, loss.unsynced), { mountpoint })
  return undefined
}
