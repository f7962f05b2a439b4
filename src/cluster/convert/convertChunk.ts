// Converting one chunk to another layout (copies <-> a stripe of shards): the one primitive under
// `dfs policy apply`. In order, under the chunk's lock (shared with the healer and the rebalancer,
// see ../chunkLocks.ts):
//
//   1. read the chunk, verified (the NameNode's ChunkStore: copies with failover, or the k data
//      shards, or a degraded read from any k);
//   2. write the same bytes as a new chunk in the target layout, within the shared bandwidth budget,
//      and make it durable there; a chunk stored short of its layout (k shards, fewer copies: too
//      few writable nodes) is discarded, the old one kept whole;
//   3. commit a `chunk` record pointing the file at the new chunk, with `base` = the old chunk's id
//      (compare-and-swap: a client that replaced the chunk meanwhile wins, and the pieces just
//      written are deleted again), the file's size and times as they are (`grow`: a concurrent
//      writer's size is never shrunk, and nothing the user sees changes);
//   4. make the record durable (meta.sync(), which also waits for the standby);
//   5. delete the old chunk's pieces (its copies, or its shards).
//
// From the write to the commit the new pieces are referenced by nothing: they are held as being
// written (ChunkStore.holdWriting), or the orphan collector could take them during a slow sync.
//
// So the file is readable in full at every moment: the new chunk is durable before the map names
// it, and the old one goes only once the map without it is durable. A crash between two steps
// leaves, at worst, pieces nobody references (orphans the healer's collector removes).

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import { type Layout, chunkLayout, isShort, layoutOf, nodesHolding, nodesNeeded, nominalOverhead, storedAsPolicy, storedBytes, storedIds } from '../../chunks/layout.js'
import { dfsError, isDfsError } from '../../errors.js'
import { formatPolicy } from '../../meta/namespace/policy.js'
import type { ChunkLocks } from '../chunkLocks.js'
import type { NamespaceMetaStore } from '../openCluster.js'
import { type ChunkPlace, stillReferenced } from '../stillReferenced.js'

/** The chunk I/O a conversion needs: the NameNode's ChunkStore. */
export interface ConvertIO {
  /** Verified bytes of a chunk, whatever its layout. */
  read(ref: ChunkRef): Promise<Buffer>
  /** The bytes as a new chunk in `layout`. */
  write(data: Buffer, layout?: Layout): Promise<ChunkRef>
  /** Make the chunks durable on their nodes. */
  sync(refs: readonly ChunkRef[]): Promise<void>
  /**
   * Keep pieces just written out of orphan collection until the returned function is called
   * (ChunkStore.holdWriting): the map names them only after they are durable, awaits later.
   */
  holdWriting?(ids: readonly string[]): () => void
}

export interface ConvertDeps {
  meta: Pick<NamespaceMetaStore, 'state' | 'commit' | 'sync'>
  io: ConvertIO
  /** Remove pieces from the nodes (the NameNode's delete: ChunkStore.delete, and the scrubber forgets them). */
  deleteChunks(ids: string[]): Promise<void>
  locks: ChunkLocks
  /** The cluster's R: the layout of a replicated ref that does not say. */
  replicas: number
  /** Awaited with the bytes about to be written to nodes: the bandwidth limit waits here. */
  beforeWrite?: (bytes: number) => Promise<void>
  /** Aborts a wait for the lock or for bandwidth: the chunk is left as it was. */
  signal?: AbortSignal
  log: (message: string) => void
}

export type ConvertResult =
  /** `bytes`: the chunk's length; `storedBefore`/`storedAfter`: bytes on nodes as the old and new refs record them. */
  | { converted: true; bytes: number; storedBefore: number; storedAfter: number; ref: ChunkRef }
  | { converted: false; why: 'stopping' | 'moved on' | 'already in layout' }

/**
 * Convert the chunk at `at` (as the namespace referenced it when it was planned) to `target`.
 * Throws when reading or writing fails; the file then keeps the old chunk, untouched.
 */
export async function convertChunk(deps: ConvertDeps, at: ChunkPlace, target: Layout): Promise<ConvertResult> {
  const { meta, io } = deps
  const release = await deps.locks.acquire(at.id, deps.signal)
  if (!release) return { converted: false, why: 'stopping' }
  try {
    const old = stillReferenced(meta.state, at)
    if (!old) return { converted: false, why: 'moved on' }
    if (storedAsPolicy(old, target, deps.replicas)) return { converted: false, why: 'already in layout' }

    const data = await io.read(old)
    await deps.beforeWrite?.(Math.ceil(old.len * nominalOverhead(chunkLayout(target, old.len))))
    if (deps.signal?.aborted) return { converted: false, why: 'stopping' }
    const fresh = await io.write(data, target)
    // Nothing references the new pieces until the commit below, after the sync: the orphan collector
    // must not take them meanwhile (a sync slower than its grace would leave the map naming deleted
    // shards, and the old chunk deleted too).
    const unhold = io.holdWriting?.(storedIds(fresh)) ?? (() => {})
    try {
      return await commitFresh(deps, at, target, old, fresh)
    } finally {
      unhold()
    }
  } finally {
    release()
  }
}

/** The rest of step 2 (check and sync) to step 5, for `fresh`: `old`'s bytes just written in `target`. */
async function commitFresh(deps: ConvertDeps, at: ChunkPlace, target: Layout, old: ChunkRef, fresh: ChunkRef): Promise<ConvertResult> {
  const { meta, io } = deps
  const discard = async (why: string) => {
    // Nobody ever referenced these pieces (their ids are new): delete at once.
    await deps.deleteChunks(storedIds(fresh)).catch((err) => deps.log(`removing the pieces of discarded chunk ${fresh.id} (${why}) failed: ${(err as Error).message}`))
  }
  if (!storedAsPolicy(fresh, target, deps.replicas)) {
    // A store that cannot write this layout (an older one) must not make the map say otherwise.
    await discard('wrong layout')
    throw dfsError('EIO', `the chunk store wrote chunk ${at.id} as ${formatPolicy(layoutOf(fresh, deps.replicas))}, not ${formatPolicy(chunkLayout(target, fresh.len))}`, { chunk: at.id })
  }
  if (isShort(fresh, deps.replicas)) {
    // A client's write may go on short of its layout (the healer completes it); a conversion must
    // not: the old chunk is whole, and k shards without parity (or one copy) would survive less
    // than it does. Left as it was; apply again once nodes can take the pieces.
    const pieces = fresh.ec ? fresh.ec.shards.filter((s) => s.nodes.length > 0).length : nodesHolding(fresh).length
    await discard('short')
    throw dfsError('NO_NODES', `only ${pieces} of ${nodesNeeded(chunkLayout(target, fresh.len))} ${fresh.ec ? 'shards' : 'copies'} of chunk ${at.id} found a node as ${formatPolicy(chunkLayout(target, fresh.len))}; converting it now would leave it less protected than it is`, { chunk: at.id })
  }
  try {
    await io.sync([fresh])
  } catch (err) {
    await discard('not durable')
    throw err
  }

  // No await between reading the inode and committing: its size and times are the current ones.
  const inode = meta.state.inodes.get(at.ino)
  if (!inode) {
    await discard('the file is gone')
    return { converted: false, why: 'moved on' }
  }
  let replaced: ChunkRef | null
  try {
    replaced = meta.commit({
      op: 'chunk', ino: at.ino, index: at.index, ref: fresh, base: at.id,
      size: inode.size, grow: true, mtime: inode.mtime, ctime: inode.ctime,
    }) as ChunkRef | null
  } catch (err) {
    // A client replaced the chunk meanwhile (its bytes win), or the file went: nothing recorded.
    if (isDfsError(err, 'CHUNK_CONFLICT') || isDfsError(err, 'ENOENT') || isDfsError(err, 'EINVAL')) {
      await discard('the file moved on')
      return { converted: false, why: 'moved on' }
    }
    throw err
  }

  await meta.sync() // the map without the old pieces is durable before they go
  const oldIds = storedIds(replaced ?? old)
  await deps.deleteChunks(oldIds).catch((err) =>
    deps.log(`chunk ${at.id} converted, but removing its old pieces failed (the orphan collector will): ${(err as Error).message}`))
  return { converted: true, bytes: old.len, storedBefore: storedBytes(old), storedAfter: storedBytes(fresh), ref: fresh }
}
