// The last record a metadata folder holds, read without opening its store: opening for writing
// takes the folder's lock and starts a new journal segment, and a command that may still be refused
// (fencing's check, cluster/fencing.ts checkClaims) must not have written anything. The checkpoint's
// header and the journal after it are read, nothing is applied.

import { join } from 'node:path'
import { pathExists } from '../util/files.js'
import { CHECKPOINT_FILE } from './Checkpoint.js'
import { readLines } from './lineReader.js'
import { scanJournal } from './replayJournal.js'

/** The folder's last journal seq; undefined when it cannot be told without more (a damaged file: the store's open says what). */
export async function lastSeqOnDisk(dir: string): Promise<number | undefined> {
  let last = 0
  const checkpoint = join(dir, CHECKPOINT_FILE)
  if (await pathExists(checkpoint)) {
    const header = await firstLine(checkpoint)
    const lastSeq = (parse(header) as { kind?: unknown; lastSeq?: unknown } | undefined)?.lastSeq
    if (!Number.isSafeInteger(lastSeq)) return undefined
    last = lastSeq as number
  }
  for await (const item of scanJournal(dir, last)) {
    // A torn tail is dropped at open; any other damage stops the open.
    if (item.kind !== 'record') return item.tornTail ? last : undefined
    last = Math.max(last, item.seq)
  }
  return last
}

async function firstLine(file: string): Promise<string | undefined> {
  for await (const line of readLines(file)) return line.text
  return undefined
}

function parse(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text)
  } catch {
    return undefined
  }
}
