// Where a file's chunks live (`dfs info`, the xattr user.dfs.placement, the dashboard's file view):
// for each chunk its id, offset, length, SHA-256 and layout (replicas:<R>, ec:<k>+<m>), and for each
// copy the node that holds it, that node's state and whether the copy counts. An erasure-coded chunk
// lists its shards (index, id, SHA-256, node, state), and each shard's node among its copies. One look at the NameNode's state, synchronously (the
// namespace, the node registry, the healer's reports of bad copies, the scrubber's verifications).
//
// Whether a copy counts is the rule dfs status and the healer use (cluster/replication.ts): a copy
// is ok when it is `live` there. A copy that is not live is `bad` when the healer knows it missing
// or corrupt, else `unreachable` (its node is suspect, dead or gone).

import type { NodeRegistry, NodeStatus } from '../chunks/NodeRegistry.js'
import { nodeState } from '../cluster/nodeState.js'
import { copyStateOf } from '../cluster/replication.js'
import { dfsError } from '../errors.js'
import { type Inode, type NamespaceState, isDir, isFile, isSymlink } from '../meta/namespace/types.js'
import type { ChunkPlacement, CopyPlacement, FilePlacement, PagedPlacement, ShardPlacement } from '../protocol/placement.js'
import type { ChunkRef } from '../chunks/ChunkRef.js'
import { layoutOf, nodesNeeded, piecesOf, piecesToRead } from '../chunks/layout.js'
import { formatPolicy } from '../meta/namespace/policy.js'

/** What filePlacement reads: the NameNode's state, as NameNodeHost holds it. */
export interface PlacementSources {
  state: NamespaceState
  registry: Pick<NodeRegistry, 'ids' | 'status'>
  chunkSize: number
  replicas: number
  /** The healer's grace period for dead nodes (copyStateOf's). */
  graceMs: number
  /** Copies the healer knows to be missing or corrupt (Healer.isKnownBad). */
  isBadCopy?: (nodeId: string, chunkId: string) => boolean
  /** When a copy last verified intact (Scrubber.verified.get; the healer records there too). */
  verifiedAt?: (chunkId: string, nodeId: string) => number | undefined
  now?: number
}

/** Some of a file's chunks: those with index >= from, at most limit of them. */
export interface ChunkRange {
  from: number
  limit: number
}

/**
 * Where inode `ino`'s chunks are. ENOENT for an inode that is not there. With a range, only those
 * chunks are looked at (a 1 TiB file has 256 Ki of them: the dashboard pages through them, and a
 * page must not cost the whole file on the NameNode's thread); `next` is the index the next page
 * starts at.
 */
export function filePlacement(src: PlacementSources, ino: number, path = '', range?: ChunkRange): PagedPlacement {
  const inode = src.state.inodes.get(ino)
  if (!inode) throw dfsError('ENOENT', `${path || `inode ${ino}`}: no such file or directory`, { ino, path })
  const copyState = copyStateOf(src.registry, src.graceMs, src.now ?? Date.now(), src.isBadCopy)
  const nodes = new Map<string, NodeStatus | undefined>()
  const statusOf = (nodeId: string) => {
    if (!nodes.has(nodeId)) nodes.set(nodeId, src.registry.status(nodeId))
    return nodes.get(nodeId)
  }
  const chunks: ChunkPlacement[] = []
  const refs = isFile(inode) ? inode.chunks ?? [] : []
  let next: number | undefined
  for (let index = range?.from ?? 0; index < refs.length; index++) {
    const ref = refs[index]
    if (!ref) continue
    if (range && chunks.length >= range.limit) {
      next = index
      break
    }
    const layout = layoutOf(ref, src.replicas)
    const copyOf = (piece: ChunkRef, shard: number | undefined) => (nodeId: string): CopyPlacement => {
      const status = statusOf(nodeId)
      const verifiedAt = src.verifiedAt?.(piece.id, nodeId)
      return {
        ...(shard === undefined ? {} : { shard }),
        nodeId,
        address: status?.address ?? '?',
        node: status ? nodeState(status) : 'unknown',
        // Bad copies are known by the chunk's id and the node (a stripe's shards by the stripe's id).
        state: copyState(nodeId, ref.id) === 'live' ? 'ok' : src.isBadCopy?.(nodeId, ref.id) ? 'bad' : 'unreachable',
        ...(verifiedAt === undefined ? {} : { verifiedAt }),
      }
    }
    const copies: CopyPlacement[] = []
    const shards: ShardPlacement[] = []
    for (const { ref: piece, shard } of piecesOf(ref)) {
      const mine = [...new Set(piece.nodes)].map(copyOf(piece, shard))
      copies.push(...mine)
      if (shard === undefined) continue
      const best = mine.find(c => c.state === 'ok') ?? mine[0]
      shards.push({
        index: shard, id: piece.id, length: piece.len, sha256: piece.sha256,
        ...(best ? { nodeId: best.nodeId } : {}), state: best?.state ?? 'lost',
      })
    }
    chunks.push({
      index, id: ref.id, offset: index * src.chunkSize, length: ref.len, sha256: ref.sha256,
      layout: formatPolicy(layout), wanted: nodesNeeded(layout), needed: piecesToRead(layout), copies,
      intact: ref.ec ? shards.filter(s => s.state === 'ok').length : copies.filter(c => c.state === 'ok').length,
      ...(ref.ec ? { shards } : {}),
    })
  }
  return { path, ino, type: typeOf(inode), size: inode.size, chunkSize: src.chunkSize, replicas: src.replicas, chunks, ...(next === undefined ? {} : { next }) }
}

function typeOf(inode: Inode): FilePlacement['type'] {
  return isFile(inode) ? 'file' : isDir(inode) ? 'dir' : isSymlink(inode) ? 'symlink' : 'other'
}
