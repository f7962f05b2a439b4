// Checking one copy of a chunk: read it from its node and verify its length and SHA-256
// (verify.ts). Every place that looks at a single copy (a read with failover, the healer confirming a
// reported copy, the scrubber, fsck) reads it here and sorts the outcome the same way:
//
//   good         the bytes verify
//   missing      the node answered: it has no such chunk (CHUNK_MISSING)
//   corrupt      the node gave bytes that fail the check (CHUNK_CORRUPT)
//   unreachable  anything else: the node did not answer, so nothing is known about the copy

import type { DataNode } from '../datanode/DataNode.js'
import type { DfsError } from '../errors.js'
import type { ChunkRef } from './ChunkRef.js'
import { asNodeError, notRegistered } from './nodeError.js'
import { verifyChunk } from './verify.js'

export type CopyCheck = 'good' | 'missing' | 'corrupt' | 'unreachable'
export type BadCopyCheck = Exclude<CopyCheck, 'good'>

export type CopyRead = { check: 'good'; data: Buffer } | { check: BadCopyCheck; error: DfsError }

/** How a copy stands, given why reading it failed. */
export function checkOf(error: Pick<DfsError, 'code'>): BadCopyCheck {
  if (error.code === 'CHUNK_MISSING') return 'missing'
  if (error.code === 'CHUNK_CORRUPT') return 'corrupt'
  return 'unreachable'
}

/** Whether the error says the copy itself is bad (missing or corrupt), not that its node failed to answer. */
export const isBadCopy = (error: Pick<DfsError, 'code'>): boolean => checkOf(error) !== 'unreachable'

/** Read the copy of ref on nodeId (`node` undefined: not registered) and verify it. Never throws. */
export async function readCopy(node: DataNode | undefined, nodeId: string, ref: Pick<ChunkRef, 'id' | 'len' | 'sha256'>): Promise<CopyRead> {
  try {
    if (!node) throw notRegistered(nodeId)
    const data = await node.get(ref.id, { len: ref.len })
    await verifyChunk(ref, data, { node: node.address, nodeId })
    return { check: 'good', data }
  } catch (err) {
    const error = asNodeError(err, node, nodeId, 'get')
    return { check: checkOf(error), error }
  }
}

/** How the copy of ref on nodeId stands. */
export async function checkCopy(node: DataNode | undefined, nodeId: string, ref: Pick<ChunkRef, 'id' | 'len' | 'sha256'>): Promise<CopyCheck> {
  return (await readCopy(node, nodeId, ref)).check
}
