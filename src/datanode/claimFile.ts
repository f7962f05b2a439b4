// <dir>/dfs-claim.json, the node's fencing claim (claim.ts), as bytes on disk.
//
// The claim's watermark is raised every few seconds while a NameNode runs. Replacing the file (a temp
// name renamed over it) makes a new directory entry each time, and `rm -rf node_1` while mounted, the
// test every user runs, then fails "Directory not empty" whenever a raise lands between rm's listing
// and its rmdir. So once made, the file is only ever rewritten in place (LocalFolderNode decides when
// a file that went missing is made again). It holds two slots, and a write goes to the slot that does
// not hold the last claim known durable, so a write torn by a crash leaves that claim intact:
//
//   two lines of SLOT_BYTES each (padded with spaces), a JSON object or blank:
//   { format: 2, generation, epoch, token, seqWatermark, claimedAt, sum }
//
// A slot is a whole 4 KiB block, so a torn write of one cannot reach the other (a disk that rewrites
// a block to change part of it would risk both if they shared one). The slot of the highest
// generation whose sum verifies is the claim. A folder claimed by an older dfs holds a single JSON
// object (format 1); it is read as such and replaced whole by the next write.

import { randomBytes } from 'node:crypto'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { dfsError } from '../errors.js'
import { replaceFile } from '../util/files.js'
import { isNotFound } from '../util/osError.js'
import { sha256Hex } from '../util/sha256.js'
import { type ClaimRequest, isEpochClaim, type NodeClaim, refuseClaim } from './claim.js'

export const CLAIM_FILE = 'dfs-claim.json'
export const CLAIM_TEMP_PREFIX = `${CLAIM_FILE}.tmp-`
const SLOT_BYTES = 4096
const SLOTS = 2
const FORMAT = 2
const OLD_FORMAT = 1

/** The claim as the file holds it. */
export interface ClaimFile {
  record: NodeClaim
  /** Which write of the file made it; the next write goes to the other slot. 0: a format 1 file. */
  generation: number
}

/**
 * A node folder's claim rule without opening the folder as a node (no scan, no lock): for a check
 * before anything is opened for writing (cluster/fencing.ts checkClaims). No process serves a
 * folder another holds, so no live holder (EPOCH_HELD) is asked about.
 */
export function folderClaimCheck(dir: string, address = dir): { address: string; claim(request: ClaimRequest): Promise<void> } {
  return {
    address,
    async claim(request) {
      const refusal = refuseClaim(await readNodeClaim(dir, address), request, address)
      if (refusal) throw refusal
    },
  }
}

/** The folder's claim; undefined when none was ever made. A damaged file is NODE_FOLDER_INVALID. */
export async function readNodeClaim(dir: string, shownAs = dir): Promise<NodeClaim | undefined> {
  return (await readClaimFile(dir, shownAs))?.record
}

/** The folder's claim file; undefined when there is none. A damaged file is NODE_FOLDER_INVALID. */
export async function readClaimFile(dir: string, shownAs = dir): Promise<ClaimFile | undefined> {
  let text: string
  try {
    // One character per byte: a slot a crash tore may hold any bytes, and must not shift the other.
    text = (await readFile(join(dir, CLAIM_FILE))).toString('latin1')
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
  const found = text.length === SLOT_BYTES * SLOTS ? newestSlot(text) : oldFormat(text)
  if (!found) {
    throw dfsError('NODE_FOLDER_INVALID', `${join(shownAs, CLAIM_FILE)} is not a valid dfs claim file; it is rewritten by the next NameNode that opens the cluster once removed`, { node: shownAs })
  }
  return found
}

/**
 * Write `record` as the folder's claim, and return the generation written. `after` is the generation
 * of the last claim known durable in a file in slots: the write goes in place to the other slot (and
 * a file gone meanwhile is not made again: ENOENT). Undefined: the file is made whole, replacing a
 * format 1 file if there is one. After a failed write, pass the same `after` again: the slot that
 * write went to may hold anything, the other one the claim it knew.
 */
export async function writeClaimFile(dir: string, record: NodeClaim, after: number | undefined): Promise<number> {
  const file = join(dir, CLAIM_FILE)
  const generation = (after ?? 0) + 1
  if (after === undefined) {
    const slots = Array.from({ length: SLOTS }, (_, i) => (i === generation % SLOTS ? slotText(record, generation) : ' '.repeat(SLOT_BYTES - 1) + '\n'))
    await replaceFile(file, slots.join(''), `${CLAIM_TEMP_PREFIX}${randomBytes(6).toString('hex')}`)
    return generation
  }
  const fh = await open(file, 'r+') // never O_CREAT
  try {
    await fh.write(slotText(record, generation), (generation % SLOTS) * SLOT_BYTES, 'utf8')
    await fh.datasync()
  } finally {
    await fh.close()
  }
  return generation
}

function slotText(record: NodeClaim, generation: number): string {
  const fields = { format: FORMAT, generation, epoch: record.epoch, token: record.token, seqWatermark: record.seqWatermark, claimedAt: new Date().toISOString() }
  const line = JSON.stringify({ ...fields, sum: sumOf(fields) })
  if (line.length >= SLOT_BYTES) throw new Error(`a claim of ${line.length} bytes does not fit a ${SLOT_BYTES}-byte slot`)
  return line.padEnd(SLOT_BYTES - 1, ' ') + '\n'
}

const sumOf = (fields: object): string => sha256Hex(JSON.stringify(fields)).slice(0, 16)

function newestSlot(text: string): ClaimFile | undefined {
  let newest: ClaimFile | undefined
  for (let i = 0; i < SLOTS; i++) {
    const line = text.slice(i * SLOT_BYTES, (i + 1) * SLOT_BYTES).trim()
    if (line === '') continue
    // A slot that does not verify is a write a crash cut short: the other slot holds the claim before it.
    const { sum, ...fields } = (parseJson(line) ?? {}) as { sum?: unknown; generation?: unknown; format?: unknown }
    if (sum !== sumOf(fields) || fields.format !== FORMAT || !Number.isSafeInteger(fields.generation)) continue
    const claim = claimOf(fields)
    if (claim && (!newest || (fields.generation as number) > newest.generation)) newest = { record: claim, generation: fields.generation as number }
  }
  return newest
}

function oldFormat(text: string): ClaimFile | undefined {
  const value = parseJson(text) as { format?: unknown } | undefined
  const claim = value?.format === OLD_FORMAT ? claimOf(value) : undefined
  return claim && { record: claim, generation: 0 }
}

function claimOf(value: object): NodeClaim | undefined {
  const v = value as Partial<NodeClaim>
  const seqWatermark = v.seqWatermark
  if (!isEpochClaim(v) || !Number.isSafeInteger(seqWatermark)) return undefined
  return { epoch: v.epoch, token: v.token, seqWatermark: seqWatermark! }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
