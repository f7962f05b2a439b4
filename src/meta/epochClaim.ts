// epoch.json: the NameNode epoch this metadata folder last claimed on the cluster's DataNodes
// (fencing; the nodes' half is datanode/claim.ts). Written, durably, before the nodes are claimed:
// a crash in between leaves a folder whose claim is one epoch ahead of the nodes, which the next
// open claims from as usual (a node behind the basis is not ahead of it).
//
//   { format: 1, epoch, token, previous?: { epoch, token }, claimedAt, afterRepair?, promotingFrom?: { epoch, token } }
//
// promotingFrom is the old primary's claim a promotion (dfs namenode --promote) started from, kept
// while the promotion has not claimed every node: one that stopped part way, run again, still has
// to compare its journal with the nodes that hold that claim (cluster/fencing.ts). It goes once every
// node took the new claim.
//
// afterRepair is set by `dfs fsck --meta --repair` when it cut the journal: the next claim may then
// be below the nodes' seq watermark (records were lost for good), once.

import { join } from 'node:path'
import { dfsError } from '../errors.js'
import { readTextIfExists, replaceFile } from '../util/files.js'

export const EPOCH_FILE = 'epoch.json'
const EPOCH_FORMAT = 1

export interface MetaEpoch {
  epoch: number
  token: string
  previous?: { epoch: number; token: string }
  afterRepair?: boolean
  promotingFrom?: { epoch: number; token: string }
}

/** The folder's last claim; undefined when it never made one (a new folder, or one from before fencing). */
export async function readMetaEpoch(dir: string): Promise<MetaEpoch | undefined> {
  const file = join(dir, EPOCH_FILE)
  const text = await readTextIfExists(file)
  if (text === undefined) return undefined
  let value: Partial<MetaEpoch & { format: number }> | undefined
  try {
    value = JSON.parse(text) as Partial<MetaEpoch & { format: number }>
  } catch {
    value = undefined
  }
  if (value?.format !== EPOCH_FORMAT || !Number.isSafeInteger(value.epoch) || typeof value.token !== 'string') {
    throw dfsError('META_FOREIGN', `${file} is not a valid dfs epoch file; it records which NameNode epoch this folder claimed, and cannot be guessed: restore it from the copy you took this folder from`, { dir, file })
  }
  return {
    epoch: value.epoch!, token: value.token,
    ...(value.previous ? { previous: value.previous } : {}),
    ...(value.afterRepair ? { afterRepair: true } : {}),
    ...(value.promotingFrom ? { promotingFrom: value.promotingFrom } : {}),
  }
}

export async function writeMetaEpoch(dir: string, epoch: MetaEpoch): Promise<void> {
  await replaceFile(join(dir, EPOCH_FILE), `${JSON.stringify({ format: EPOCH_FORMAT, ...epoch, claimedAt: new Date().toISOString() }, null, 2)}\n`)
}

/** After a repair that cut the journal: the next claim may be below the nodes' watermark. */
export async function markRepaired(dir: string): Promise<void> {
  const current = await readMetaEpoch(dir).catch(() => undefined)
  if (current) await writeMetaEpoch(dir, { ...current, afterRepair: true })
}
