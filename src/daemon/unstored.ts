// What a stopping daemon could not store: written bytes that die with it. The daemon logs the line
// and leaves it beside its registry record, where `dfs unmount` (which waits for it to exit) reads it.

import type { UnstoredFile } from '../fs/FileSystem.js'
import { formatSize } from '../util/size.js'

const NAMED = 3

/** One line: how many files, the first few paths, how many bytes, and that they were dropped. */
export function describeUnstored(mountpoint: string, files: readonly UnstoredFile[]): string {
  const bytes = files.reduce((sum, file) => sum + file.bytes, 0)
  const names = files.slice(0, NAMED).map(file => file.path ? `${mountpoint.replace(/\/$/, '')}${file.path}` : `inode ${file.ino}`)
  const more = files.length > NAMED ? ` and ${files.length - NAMED} more` : ''
  const count = files.length === 1 ? '1 file' : `${files.length} files`
  return `unmounting ${mountpoint} dropped ${formatSize(bytes)} written to ${count} that could not be stored (${files[0]?.reason ?? 'unknown'}): ${names.join(', ')}${more}; those files keep only what was stored before`
}
