// standby.json: this metadata folder is a standby's copy of another NameNode's (`dfs namenode
// --standby-of`). It follows that primary's journal and must never be opened as a primary by
// accident: that would claim the DataNodes with a second history. Only `dfs namenode --promote`
// opens it for writing, and removes the mark once it holds the cluster.
//
//   { format: 1, kind: 'dfs-standby', primary: 'tcp://host:port', since }

import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { dfsError } from '../errors.js'
import { fsyncPath, readTextIfExists, replaceFile } from '../util/files.js'

export const STANDBY_FILE = 'standby.json'
const STANDBY_FORMAT = 1
const KIND = 'dfs-standby'

export interface StandbyMark {
  /** The primary this folder follows (or last followed). */
  primary: string
  /** When it started following, ISO time. */
  since: string
}

/** The folder's mark; undefined when it is no standby's. */
export async function readStandbyMark(dir: string): Promise<StandbyMark | undefined> {
  const file = join(dir, STANDBY_FILE)
  const text = await readTextIfExists(file)
  if (text === undefined) return undefined
  let value: Partial<StandbyMark & { format: number; kind: string }> | undefined
  try {
    value = JSON.parse(text) as typeof value
  } catch {
    value = undefined
  }
  if (value?.format !== STANDBY_FORMAT || value.kind !== KIND || typeof value.primary !== 'string' || typeof value.since !== 'string') {
    throw dfsError('META_FOREIGN', `${file} is not a valid dfs standby mark; a standby's folder opens only with dfs namenode --standby-of or --promote: restore the file or make a new standby`, { dir, file })
  }
  return { primary: value.primary, since: value.since }
}

export async function writeStandbyMark(dir: string, primary: string): Promise<void> {
  await replaceFile(join(dir, STANDBY_FILE), `${JSON.stringify({ format: STANDBY_FORMAT, kind: KIND, primary, since: new Date().toISOString() }, null, 2)}\n`)
}

/** After a promotion: the folder is a primary's now. */
export async function clearStandbyMark(dir: string): Promise<void> {
  await rm(join(dir, STANDBY_FILE), { force: true })
  await fsyncPath(dir)
}
