// Re-replication, shared by offline repair (fsck --repair) and the healer in the mount daemon: copy a
// chunk from a copy that verifies to nodes that lack it until it has R, and pick which copies to drop
// when it has more. Nothing here touches the namespace: callers record the holder list these
// functions return, and delete dropped copies only once that record is durable.

import type { ChunkRef } from '../chunks/ChunkRef.js'
import { asNodeError, notRegistered } from '../chunks/nodeError.js'
import { rankNodes, type WeightOf } from '../chunks/placement.js'
import { fetchVerified } from '../chunks/readReplicas.js'
import type { ChunkId, DataNode } from '../datanode/DataNode.js'
import type { DfsError } from '../errors.js'

/** How replication finds a node by id (a NodeRegistry fits). */
export interface NodeLookup {
  get(nodeId: string): DataNode | undefined
}

export interface RestoreRequest {
  ref: Pick<ChunkRef, 'id' | 'len' | 'sha256'>
  /** Nodes believed to hold an intact copy, best source first. The one read from is verified. */
  holders: readonly string[]
  /** Where else to look for an intact copy if no holder gives one (a copy the map does not list). */
  fallbackSources?: readonly string[]
  /** Copies wanted (R). */
  replicas: number
  /** Nodes that may take a copy (writable ones); tried in placement order. */
  targets: readonly string[]
  weightOf?: WeightOf
  /** Awaited before each put with the bytes about to be sent: a bandwidth limit waits here. */
  beforePut?: (bytes: number) => Promise<void>
  /** Told of each copy made (put and synced). */
  onCopied?: (nodeId: string, bytes: number) => void
  /** Checked before each put: true abandons the rest (the daemon is stopping). */
  shouldStop?: () => boolean
}

export interface RestoreResult {
  /** Nodes with an intact copy now: the holders that were not found bad, the source, and `added`. */
  holders: string[]
  /** Nodes that took a new copy (put and synced). */
  added: string[]
  /** Where the copied bytes came from; undefined when nothing had to be copied. */
  source?: string
  /** Holders (or fallback sources) that failed to give an intact copy, and why: CHUNK_MISSING, CHUNK_CORRUPT, NODE_UNAVAILABLE. */
  badSources: { nodeId: string; error: DfsError }[]
  /** Targets whose put or sync failed. */
  failedTargets: { nodeId: string; error: DfsError }[]
  /** Bytes sent to nodes. */
  bytesCopied: number
}

/**
 * Copy a chunk from a verified copy to nodes without one until `replicas` nodes hold it. Holders are
 * tried as sources in order (then fallbackSources); one whose bytes fail verification is left out of
 * the result and named in badSources. Each new copy is put and synced before it counts. Fewer targets
 * than needed is not an error: the result simply holds fewer than `replicas`. Throws CHUNK_UNREADABLE
 * when no source gives an intact copy.
 */
export async function restoreCopies(nodes: NodeLookup, req: RestoreRequest): Promise<RestoreResult> {
  const holders = [...new Set(req.holders)]
  const result: RestoreResult = { holders, added: [], badSources: [], failedTargets: [], bytesCopied: 0 }
  if (holders.length >= req.replicas) return result

  const order = [...holders, ...(req.fallbackSources ?? []).filter((id) => !holders.includes(id))]
  const bad = new Set<string>()
  const fetched = await fetchVerified(req.ref as ChunkRef, order, (id) => nodes.get(id), (nodeId, error) => {
    bad.add(nodeId)
    result.badSources.push({ nodeId, error })
  })
  result.holders = holders.filter((id) => !bad.has(id))
  if (!result.holders.includes(fetched.nodeId)) result.holders.push(fetched.nodeId)
  result.source = fetched.nodeId

  // A node whose copy is corrupt or missing may take a fresh one (put replaces the file); one that did
  // not answer may not.
  const unreachable = new Set(result.badSources.filter((b) => b.error.code === 'NODE_UNAVAILABLE').map((b) => b.nodeId))
  const candidates = rankNodes(req.ref.id, req.targets.filter((id) => !result.holders.includes(id) && !unreachable.has(id)), req.weightOf)
  for (const nodeId of candidates) {
    if (result.holders.length >= req.replicas || req.shouldStop?.()) break
    const node = nodes.get(nodeId)
    try {
      if (!node) throw notRegistered(nodeId)
      await req.beforePut?.(fetched.data.length)
      if (req.shouldStop?.()) break
      await node.put(req.ref.id, fetched.data, req.ref.sha256)
      await node.sync([req.ref.id])
    } catch (err) {
      result.failedTargets.push({ nodeId, error: asNodeError(err, node, nodeId, 'put') })
      continue
    }
    result.holders.push(nodeId)
    result.added.push(nodeId)
    result.bytesCopied += fetched.data.length
    req.onCopied?.(nodeId, fetched.data.length)
  }
  return result
}

export interface TrimPlan {
  keep: string[]
  drop: string[]
}

/**
 * Which copies to drop to get a chunk back to `replicas`: those on the most-used nodes (ties: the
 * node placement ranks lower goes first). Pure. `usedOf` is a node's stored bytes.
 */
export function planTrim(chunkId: ChunkId, holders: readonly string[], replicas: number, usedOf: (nodeId: string) => number): TrimPlan {
  const unique = [...new Set(holders)]
  if (unique.length <= replicas) return { keep: unique, drop: [] }
  const rank = rankNodes(chunkId, unique)
  const byPreference = [...unique].sort((a, b) => usedOf(a) - usedOf(b) || rank.indexOf(a) - rank.indexOf(b))
  const keep = new Set(byPreference.slice(0, replicas))
  return { keep: unique.filter((id) => keep.has(id)), drop: unique.filter((id) => !keep.has(id)) }
}

/**
 * Delete a chunk's copies from the named nodes (only those). Missing copies are fine; a node that
 * cannot be reached is reported in `failed` and keeps its copy.
 */
export async function dropCopies(
  nodes: NodeLookup,
  id: ChunkId,
  nodeIds: readonly string[],
): Promise<{ dropped: string[]; failed: { nodeId: string; error: DfsError }[] }> {
  const dropped: string[] = []
  const failed: { nodeId: string; error: DfsError }[] = []
  await Promise.all(
    [...new Set(nodeIds)].map(async (nodeId) => {
      const node = nodes.get(nodeId)
      try {
        if (!node) throw notRegistered(nodeId)
        await node.delete(id)
        dropped.push(nodeId)
      } catch (err) {
        failed.push({ nodeId, error: asNodeError(err, node, nodeId, 'delete') })
      }
    }),
  )
  return { dropped, failed }
}
