// Chunk I/O over the DataNodes: write a chunk in its layout (chunks/layout.ts: R copies, or the k + m
// shards of an erasure-coded stripe), read it back verified (with failover, or rebuilt from any k
// shards, and a cache), make chunks durable, delete them. The store knows nothing of files; the
// file system layer above keeps the ChunkRefs it returns. Node health lives in the NodeRegistry;
// this class only tells the registry what it saw (a node failed, was full, answered again).

import { DfsError, dfsError } from '../errors.js'
import { assertChunkId, newChunkId } from '../datanode/chunkId.js'
import { forEachLimit } from '../util/forEachLimit.js'
import { ChunkCache, copyRange } from './ChunkCache.js'
import type { ChunkRef } from './ChunkRef.js'
import type { ChunkId, DataNode } from '../datanode/DataNode.js'
import { encodeStripe } from './erasure/stripe.js'
import { readStripe } from './erasure/readStripe.js'
import { MAX_COPIES, MAX_K, MAX_M, chunkLayout, nodesHolding, storedPieces, type Layout } from './layout.js'
import { silentLog, type ChunkLog } from './log.js'
import { noteNodeAnswered, noteNodeError } from './nodeHealth.js'
import { asNodeError, attemptOf, notRegistered, type NodeAttempt } from './nodeError.js'
import { rankNodes, type WeightOf } from './placement.js'
import type { NodeRegistry } from './NodeRegistry.js'
import { fetchVerified, healthRank, readOrder } from './readReplicas.js'
import { sha256 } from './verify.js'
import { emptyNodeIo, type NodeIo } from '../protocol/clientStats.js'

/**
 * Told of every replica a ref lists that failed to give an intact copy (for repair). For an
 * erasure-coded ref, a bad shard: the stripe's ref and the shard's node (no two shards share one).
 */
export type BadReplicaHandler = (ref: ChunkRef, nodeId: string, reason: DfsError) => void
/**
 * Told when a chunk was found on a node its ref does not list (the map may want to learn it). For an
 * erasure-coded ref, `shard` says which of its shards was found there.
 */
export type ReplicaFoundHandler = (ref: ChunkRef, nodeId: string, shard?: number) => void
/** Told of every chunk written (or made durable) with fewer than R copies, so repair starts at once. */
export type UnderReplicatedHandler = (ref: ChunkRef) => void

export interface ChunkStoreOptions {
  registry: NodeRegistry
  /** Copies to write of each chunk (R). */
  replicas: number
  /** A write or sync that gets fewer copies than this fails (`dfs mount --min-copies`); 1..replicas, default 1. */
  minCopies?: number
  /** Bytes of chunk cache; 0 turns the cache off. */
  cacheBytes: number
  log?: ChunkLog
  /** Placement weight per node (e.g. its available bytes); unweighted when absent. */
  weightOf?: WeightOf
  onBadReplica?: BadReplicaHandler
  onReplicaFound?: ReplicaFoundHandler
  onUnderReplicated?: UnderReplicatedHandler
  /**
   * Copies of a write given up (fewer than minCopies) are handed here rather than deleted: a client
   * of a NameNode leaves deleting to it (only the NameNode may delete). Default: delete them.
   */
  abandon?: (id: ChunkId) => void
}

/** Counters, so under-replication and failover are visible and never silent. */
export interface ChunkStoreStats {
  writes: number
  /** Writes that got fewer than R copies (but at least one). */
  underReplicatedWrites: number
  reads: number
  cacheHits: number
  /** Reads that needed more than one node (for a stripe: more than its k data shards, a degraded read). */
  failovers: number
  /** Listed replicas found missing, corrupt or unreachable. */
  badReplicas: number
  /** Nodes a delete could not reach (their copies stay until a cleanup). */
  deleteFailures: number
  /** Deletes not sent to a node because it was dead (its copies are collected as orphans when it is back). */
  deletesDeferred: number
}

const DONE: Promise<void> = Promise.resolve()

/** Chunks deleted from one node at once. */
const DELETE_PARALLELISM = 8

export class ChunkStore {
  readonly registry: NodeRegistry
  readonly replicas: number
  readonly minCopies: number
  readonly cache: ChunkCache
  readonly stats: ChunkStoreStats = {
    writes: 0,
    underReplicatedWrites: 0,
    reads: 0,
    cacheHits: 0,
    failovers: 0,
    badReplicas: 0,
    deleteFailures: 0,
    deletesDeferred: 0,
  }
  /** Public so a repair component created later can attach itself. */
  onBadReplica: BadReplicaHandler | undefined
  onReplicaFound: ReplicaFoundHandler | undefined
  onUnderReplicated: UnderReplicatedHandler | undefined

  readonly #log: ChunkLog
  readonly #weightOf: WeightOf | undefined
  readonly #abandon: ((id: ChunkId) => void) | undefined
  /**
   * Fetches under way, by chunk id: concurrent reads and prefetches of one chunk share one. `lent`:
   * a read() will be handed its buffer, so the cache must not recycle it.
   */
  readonly #inflight = new Map<ChunkId, { sha256: string; len: number; promise: Promise<Buffer>; lent: boolean }>()
  /** Chunks being written: on nodes, perhaps, but not yet handed to the caller, so nothing references them. */
  readonly #writing = new Set<ChunkId>()
  /** `dead <node>` and `failed <node>`: delete trouble logged since the node's last delete that worked. */
  readonly #deleteTrouble = new Set<string>()
  /** Chunk bytes that went to and came from each node (by node id), since the store was made. */
  readonly #nodeIo = new Map<string, NodeIo>()

  constructor(options: ChunkStoreOptions) {
    if (!Number.isInteger(options.replicas) || options.replicas < 1) {
      throw dfsError('BAD_ARGUMENT', `replicas must be a whole number >= 1, not ${options.replicas}`, { replicas: options.replicas })
    }
    const minCopies = options.minCopies ?? 1
    if (!Number.isInteger(minCopies) || minCopies < 1 || minCopies > options.replicas) {
      throw dfsError('BAD_ARGUMENT', `--min-copies must be a whole number from 1 to the cluster's ${options.replicas} replicas, not ${minCopies}`, {
        minCopies, replicas: options.replicas,
      })
    }
    this.registry = options.registry
    this.replicas = options.replicas
    this.minCopies = minCopies
    this.cache = new ChunkCache(options.cacheBytes)
    this.#log = options.log ?? silentLog
    this.#weightOf = options.weightOf
    this.#abandon = options.abandon
    this.onBadReplica = options.onBadReplica
    this.onReplicaFound = options.onReplicaFound
    this.onUnderReplicated = options.onUnderReplicated
  }

  /**
   * Store data as a new chunk in `layout` (absent: the cluster's R copies), in parallel, on distinct
   * nodes in placement order: `copies` copies of it, or the k + m shards of its stripe (each shard a
   * chunk of its own, with its own id and SHA-256). A node that fails is replaced by the next
   * candidate. With fewer nodes able to take them the ref lists the copies or shards it got (logged,
   * counted as under-replicated, and handed to onUnderReplicated so repair starts at once); with
   * fewer than minCopies copies (k shards) it removes what it stored and throws NODE_FULL when the
   * cluster is full (ENOSPC for the user), else NO_NODES (EIO). `data` must never change afterwards:
   * the cache keeps it.
   */
  async write(data: Buffer, layout?: Layout): Promise<ChunkRef> {
    checkLayout(layout ?? { kind: 'replicas', copies: this.replicas })
    // A small chunk under an ec policy is stored as copies (chunkLayout says why).
    const want = chunkLayout(layout ?? { kind: 'replicas', copies: this.replicas }, data.length)
    const id = newChunkId()
    // Shard ids are what nodes list: orphan collection must see them as being written too.
    const shardIds = want.kind === 'ec' ? Array.from({ length: want.k + want.m }, () => newChunkId()) : []
    const writing = [id, ...shardIds]
    for (const each of writing) this.#writing.add(each)
    try {
      return want.kind === 'ec' ? await this.#writeStripe(id, shardIds, data, want.k, want.m) : await this.#writeCopies(id, data, want.copies)
    } finally {
      for (const each of writing) this.#writing.delete(each)
    }
  }

  /**
   * The writer of `data`, written as ref, lets go of it: nothing of its own references the buffer any
   * more, so the chunk cache may recycle it once the chunk leaves the cache (ChunkCache.adopt). A
   * streaming writer's next chunk buffers then come from that memory, not from fresh pages.
   */
  release(ref: Pick<ChunkRef, 'id'>, data: Buffer): void {
    this.cache.adopt(ref, data)
  }

  /**
   * Keep `ids` (a chunk's pieces, just written) counted as being written until the returned function
   * is called: for a caller that records the chunk only after more awaits (the policy converter makes
   * it durable first), so orphan collection leaves it alone meanwhile.
   */
  holdWriting(ids: readonly ChunkId[]): () => void {
    for (const id of ids) this.#writing.add(id)
    return () => {
      for (const id of ids) this.#writing.delete(id)
    }
  }

  /** Whether a write of this chunk (or shard) is under way (orphan collection must leave such a chunk alone). */
  isWriting(id: ChunkId): boolean {
    return this.#writing.has(id)
  }

  async #writeCopies(id: ChunkId, data: Buffer, copies: number): Promise<ChunkRef> {
    const hash = await sha256(data)
    const candidates = this.#candidates(id)
    const failures: NodeAttempt[] = []
    const placed = await this.#fillSlots(
      id,
      candidates,
      copies,
      failures,
      (_slot, node) => node.put(id, data, hash, { fresh: true }),
      () => `chunk ${id}`,
      () => data.length,
    )

    const stored = new Set(placed)
    const nodes = candidates.filter((nodeId) => stored.has(nodeId))
    const least = this.#leastCopies(copies)
    if (nodes.length < least) {
      if (nodes.length > 0) await this.#removeCopies(id, nodes)
      throw this.#noRoomError(id, failures, nodes, {
        wanted: `${copies} copies`, least: `--min-copies ${this.minCopies}`, context: { minCopies: this.minCopies, copies: nodes.length },
      })
    }
    this.stats.writes += 1
    const ref: ChunkRef = { id, len: data.length, sha256: hash, nodes, ...(copies !== this.replicas ? { copies } : {}) }
    if (nodes.length < copies) {
      this.stats.underReplicatedWrites += 1
      this.#log.warn(`chunk ${id} written with ${nodes.length} of ${copies} copies`, { chunk: id, nodes, failures })
      this.#callHook(() => this.onUnderReplicated?.(ref))
    } else {
      this.#log.debug(`chunk ${id} stored (${data.length} bytes)`, { chunk: id, nodes })
    }
    // The cache keeps data itself (copying only a view into a larger buffer): chunks are immutable,
    // so the caller must not modify data once written; the file system never does.
    this.cache.set(ref, data)
    return ref
  }

  /** The k + m shards of data, shard i on the i-th node that takes it, each under shardIds[i]. */
  async #writeStripe(id: ChunkId, shardIds: readonly ChunkId[], data: Buffer, k: number, m: number): Promise<ChunkRef> {
    const [hash, shards] = await Promise.all([sha256(data), encodeStripe(data, k, m)])
    const hashes = await Promise.all(shards.map((shard) => sha256(shard)))
    const candidates = this.#candidates(id)
    const failures: NodeAttempt[] = []
    const placed = await this.#fillSlots(
      id,
      candidates,
      k + m,
      failures,
      (slot, node) => node.put(shardIds[slot], shards[slot], hashes[slot], { fresh: true }),
      (slot) => `shard ${slot} (${shardIds[slot]}) of chunk ${id}`,
      (slot) => shards[slot].length,
    )

    const storedCount = placed.filter((nodeId) => nodeId !== undefined).length
    if (storedCount < k) {
      await Promise.all(placed.map((nodeId, i) => (nodeId === undefined ? undefined : this.#removeCopies(shardIds[i], [nodeId]))))
      throw this.#noRoomError(id, failures, placed.filter((nodeId): nodeId is string => nodeId !== undefined), {
        wanted: `${k + m} shards`, least: `the ${k} of ec:${k}+${m}`, context: { k, m, shards: storedCount },
      })
    }
    this.stats.writes += 1
    const ref: ChunkRef = {
      id,
      len: data.length,
      sha256: hash,
      nodes: [],
      ec: {
        k,
        m,
        // A shard no node took keeps its id and hash: the healer rebuilds exactly those bytes.
        shards: shards.map((shard, i) => ({ id: shardIds[i], len: shard.length, sha256: hashes[i], nodes: placed[i] === undefined ? [] : [placed[i]] })),
      },
    }
    if (storedCount < k + m) {
      this.stats.underReplicatedWrites += 1
      this.#log.warn(`chunk ${id} written with ${storedCount} of ${k + m} shards`, { chunk: id, placed, failures })
      this.#callHook(() => this.onUnderReplicated?.(ref))
    } else {
      this.#log.debug(`chunk ${id} stored as ec:${k}+${m} (${data.length} bytes)`, { chunk: id, placed })
    }
    this.cache.set(ref, data)
    return ref
  }

  /** Writable nodes in the order chunk id should be placed on them. */
  #candidates(id: ChunkId): string[] {
    return rankNodes(id, this.registry.writable(), this.#weightOf)
  }

  /**
   * Fill `slots` slots on distinct nodes: each slot takes the next candidate until its put there
   * works (slot i of a stripe is shard i; every slot of a replicated write is the same copy). So a
   * failed node costs one extra attempt on the next node in line, never a second round for the
   * others. The node of each slot, undefined for a slot no candidate took.
   */
  async #fillSlots(
    id: ChunkId,
    candidates: readonly string[],
    slots: number,
    failures: NodeAttempt[],
    put: (slot: number, node: DataNode) => Promise<void>,
    what: (slot: number) => string,
    bytes: (slot: number) => number,
  ): Promise<(string | undefined)[]> {
    const placed: (string | undefined)[] = new Array(slots).fill(undefined)
    let next = 0
    const fillSlot = async (slot: number): Promise<void> => {
      while (next < candidates.length) {
        const nodeId = candidates[next++]
        const node = this.registry.get(nodeId)
        try {
          if (!node) throw notRegistered(nodeId)
          await put(slot, node) // fresh ids, made for this write: each node gets each one once
          this.#countIo(nodeId, 'write', bytes(slot))
          placed[slot] = nodeId
          noteNodeAnswered(this.registry, nodeId)
          return
        } catch (err) {
          const error = asNodeError(err, node, nodeId, 'put')
          // The bytes changed after they were hashed: every node would refuse them, and none is to blame.
          if (error.code === 'CHUNK_HASH_MISMATCH') throw error
          failures.push(attemptOf(nodeId, node, error))
          noteNodeError(this.registry, nodeId, error)
          this.#log.warn(`write of ${what(slot)} to node ${node?.address ?? nodeId} failed: ${error.message}`, {
            chunk: id,
            nodeId,
            code: error.code,
          })
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(slots, candidates.length) }, (_, slot) => fillSlot(slot)))
    return placed
  }

  /**
   * The chunk's bytes, verified against ref (length and SHA-256). From the cache, else from the first
   * node that has an intact copy: ref's nodes first, then any other. Throws CHUNK_UNREADABLE when no
   * node does. The buffer may be shared with the cache: do not modify it.
   */
  async read(ref: ChunkRef): Promise<Buffer> {
    this.stats.reads += 1
    const cached = this.cache.get(ref)
    if (cached) {
      this.stats.cacheHits += 1
      return cached
    }
    return this.#fetch(ref, true)
  }

  /**
   * Copy bytes [from, from + length) of the chunk, verified as read() verifies them, into out at
   * `at`; the number copied (short at the chunk's end). The chunk's buffer is never handed out, so
   * the cache can reuse its memory once it is evicted (ChunkCache): what a sequential reader uses.
   */
  async readInto(ref: ChunkRef, from: number, out: Uint8Array, at: number, length: number): Promise<number> {
    this.stats.reads += 1
    const copied = this.cache.copy(ref, from, out, at, length)
    if (copied !== undefined) {
      this.stats.cacheHits += 1
      return copied
    }
    // Copied in the same turn the fetch ends in: memory the cache recycles meanwhile is not reused
    // before a later turn (util/sha256.ts recycle).
    return copyRange(await this.#fetch(ref, false), from, out, at, length)
  }

  /**
   * Start reading ref into the cache in the background. Never rejects; failures are logged. Not an
   * async function: a sequential reader calls it for every chunk ahead on every request, and a chunk
   * already cached should cost no promise. Nor one the cache cannot keep (off, or smaller than the
   * chunk): its bytes would be dropped, and fetched again for the reader's next request.
   */
  prefetch(ref: ChunkRef): Promise<void> {
    if (this.cache.has(ref.id) || ref.len > this.cache.maxBytes) return DONE
    return this.#fetch(ref, false).then(
      () => {},
      (err: unknown) => {
        this.#log.warn(`prefetch of chunk ${ref.id} failed: ${(err as Error).message}`, { chunk: ref.id })
      },
    )
  }

  /**
   * Make the chunks durable on their nodes: one sync call per node (with every copy and shard it
   * holds of them), all nodes in parallel. A node whose sync fails is reported (its copies are not
   * durable) and the call still succeeds while every chunk is durable on at least minCopies nodes
   * (its own copies if fewer), every stripe with at least k shards durable; a chunk durable on fewer
   * fails it (NODE_FULL, or NODE_UNAVAILABLE).
   */
  async sync(refs: readonly ChunkRef[]): Promise<void> {
    const idsByNode = new Map<string, ChunkId[]>()
    for (const ref of refs) {
      for (const piece of storedPieces(ref)) {
        for (const nodeId of piece.nodes) {
          const ids = idsByNode.get(nodeId) ?? []
          if (ids.length === 0) idsByNode.set(nodeId, ids)
          ids.push(piece.id)
        }
      }
    }
    const failed = new Map<string, DfsError>()
    await Promise.all(
      [...idsByNode].map(async ([nodeId, ids]) => {
        const node = this.registry.get(nodeId)
        try {
          if (!node) throw notRegistered(nodeId)
          await node.sync(ids)
        } catch (err) {
          const error = asNodeError(err, node, nodeId, 'sync')
          failed.set(nodeId, error)
          noteNodeError(this.registry, nodeId, error)
          this.#log.warn(`sync on node ${node?.address ?? nodeId} failed: ${error.message}`, { nodeId, code: error.code })
        }
      }),
    )
    if (failed.size === 0) return

    for (const ref of refs) {
      for (const nodeId of nodesHolding(ref)) {
        const error = failed.get(nodeId)
        if (error) this.#reportBadReplica(ref, nodeId, error)
      }
    }
    const short = refs.find((ref) => nodesHolding(ref).length > 0 && this.#durable(ref, failed) < this.#leastDurable(ref))
    if (short) {
      const held = nodesHolding(short)
      const errors = held.flatMap((nodeId) => failed.get(nodeId) ?? [])
      const code = errors.every((e) => e.code === 'NODE_FULL') ? 'NODE_FULL' : 'NODE_UNAVAILABLE'
      const got = this.#durable(short, failed)
      const what = short.ec ? 'shard' : 'node'
      const fewer = short.ec ? `the ${short.ec.k} of ec:${short.ec.k}+${short.ec.m}` : `--min-copies ${this.minCopies}`
      const why = got === 0
        ? `chunk ${short.id} could not be made durable on any of its nodes`
        : `chunk ${short.id} is durable on ${got} ${what}${got === 1 ? '' : 's'}, fewer than ${fewer}`
      throw dfsError(code, why, {
        chunk: short.id,
        ...(short.ec ? { k: short.ec.k, m: short.ec.m } : { minCopies: this.minCopies }),
        tried: held.flatMap((nodeId) => {
          const error = failed.get(nodeId)
          return error ? [attemptOf(nodeId, this.registry.get(nodeId), error)] : []
        }),
      })
    }
  }

  /** Copies of ref (shards of a stripe) on nodes whose sync did not fail. */
  #durable(ref: ChunkRef, failed: ReadonlyMap<string, DfsError>): number {
    const ok = (piece: ChunkRef) => new Set(piece.nodes.filter((nodeId) => !failed.has(nodeId))).size
    return ref.ec ? ref.ec.shards.filter((shard) => ok(shard) > 0).length : ok(ref)
  }

  /** Durable copies (shards) a sync needs of ref: k of a stripe, else #leastCopies. */
  #leastDurable(ref: ChunkRef): number {
    return ref.ec ? ref.ec.k : this.#leastCopies(ref.copies ?? this.replicas)
  }

  /** Copies a write or sync of a chunk wanted on `copies` nodes needs: minCopies, or all of them if fewer. */
  #leastCopies(copies: number): number {
    return Math.min(this.minCopies, copies)
  }

  /**
   * Remove chunks from every registered node, not only the ones a ref lists: a failed-over write or
   * an interrupted repair may have left copies elsewhere. Missing copies are fine. A node that cannot
   * be reached is logged and counted; its copies stay until the orphan collector finds them.
   * A dead node is not even asked (each try would wait out a timeout and log a line): its copies are
   * unreferenced from now on, and the orphan collector removes them once it is back and listed.
   */
  async delete(ids: readonly ChunkId[]): Promise<void> {
    for (const id of ids) assertChunkId(id)
    for (const id of ids) {
      this.cache.delete(id)
      // A fetch under way must not put the chunk back in the cache (see #fetch).
      this.#inflight.delete(id)
    }
    const reachable = this.registry.nodes().filter((node) => {
      if (this.registry.health(node.nodeId) !== 'dead') return true
      this.stats.deletesDeferred += ids.length
      this.#noteDeleteTrouble(`dead ${node.nodeId}`, () =>
        this.#log.info(`node ${node.address} is dead: its copies of deleted chunks stay until it is back, then go as orphans`, { nodeId: node.nodeId }))
      return false
    })
    await Promise.all(
      reachable.map(async (node) => {
        try {
          await forEachLimit(ids, DELETE_PARALLELISM, (id) => node.delete(id))
          this.#deleteTrouble.delete(`dead ${node.nodeId}`)
          this.#deleteTrouble.delete(`failed ${node.nodeId}`)
        } catch (err) {
          const error = asNodeError(err, node, node.nodeId, 'delete')
          this.stats.deleteFailures += 1
          this.#noteDeleteTrouble(`failed ${node.nodeId}`, () =>
            this.#log.warn(`delete on node ${node.address} failed, its copies stay for now (later failures are counted, not logged, until one succeeds): ${error.message}`, {
              nodeId: node.nodeId,
              code: error.code,
            }))
        }
      }),
    )
  }

  /**
   * Chunk I/O with each node (by node id) since the store was made: what a mount reports to its
   * NameNode (protocol/clientStats.ts). A copy; cache hits are not node I/O and are not in it.
   */
  nodeIo(): Record<string, NodeIo> {
    const out: Record<string, NodeIo> = {}
    for (const [nodeId, io] of this.#nodeIo) out[nodeId] = { ...io }
    return out
  }

  #countIo(nodeId: string, kind: 'read' | 'write', bytes: number): void {
    let io = this.#nodeIo.get(nodeId)
    if (!io) {
      io = emptyNodeIo()
      this.#nodeIo.set(nodeId, io)
    }
    if (kind === 'read') {
      io.reads += 1
      io.readBytes += bytes
    } else {
      io.writes += 1
      io.writeBytes += bytes
    }
  }

  /** Log a node's delete trouble once, not once per delete, until a delete there succeeds again. */
  #noteDeleteTrouble(key: string, log: () => void): void {
    if (this.#deleteTrouble.has(key)) return
    this.#deleteTrouble.add(key)
    log()
  }

  // --- internals ---

  /**
   * One fetch per chunk at a time; its verified result goes into the cache. `lend`: the caller keeps
   * the buffer (read()), so the cache may not recycle it; otherwise the caller only copies out of it
   * in the turn the fetch ends in.
   *
   * The rule that keeps recycled memory safe (util/sha256.ts recycle): the cache may hand an evicted
   * buffer back to the pool only when nobody else holds it. So every way a fetched or cached buffer
   * leaves this class either lends it (`lend` here, or cache.get(), which gives up ownership) or is
   * copied out of it before the next await (readInto: no await between the fetch and copyRange). A
   * new method that returns chunk bytes must do one of the two.
   */
  #fetch(ref: ChunkRef, lend: boolean): Promise<Buffer> {
    const existing = this.#inflight.get(ref.id)
    if (existing) {
      // Share only a fetch verifying against the same hash and length: anything else would hand
      // this caller bytes never checked against its ref. (Two refs disagreeing is a metadata bug.)
      if (existing.sha256 === ref.sha256 && existing.len === ref.len) {
        existing.lent ||= lend
        return existing.promise
      }
      return this.#fetchFromNodes(ref)
    }
    const promise: Promise<Buffer> = this.#fetchFromNodes(ref).then(
      (data) => {
        // Only while still the registered fetch: a delete in the meantime means do not cache.
        const fetch = this.#inflight.get(ref.id)
        if (fetch?.promise === promise) {
          this.#inflight.delete(ref.id)
          this.cache.set(ref, data, { owned: !fetch.lent })
        }
        return data
      },
      (err: unknown) => {
        if (this.#inflight.get(ref.id)?.promise === promise) this.#inflight.delete(ref.id)
        throw err
      },
    )
    this.#inflight.set(ref.id, { sha256: ref.sha256, len: ref.len, promise, lent: lend })
    return promise
  }

  async #fetchFromNodes(ref: ChunkRef): Promise<Buffer> {
    if (ref.ec) return this.#fetchStripe(ref)
    const listed = new Set(ref.nodes)
    try {
      const result = await fetchVerified(ref, readOrder(ref, this.registry), (id) => this.registry.get(id), (nodeId, error) => {
        noteNodeError(this.registry, nodeId, error)
        if (listed.has(nodeId)) this.#reportBadReplica(ref, nodeId, error)
        else if (error.code !== 'CHUNK_MISSING') {
          this.#log.debug(`node ${nodeId} has no intact stray copy of chunk ${ref.id}: ${error.message}`, { chunk: ref.id, nodeId })
        }
      })
      if (result.failures.length > 0) this.stats.failovers += 1
      this.#countIo(result.nodeId, 'read', result.data.length)
      noteNodeAnswered(this.registry, result.nodeId)
      if (!listed.has(result.nodeId)) {
        this.#log.info(`chunk ${ref.id} found on node ${result.nodeId}, which its ref does not list`, { chunk: ref.id, nodeId: result.nodeId })
        this.#callHook(() => this.onReplicaFound?.(ref, result.nodeId))
      }
      return result.data
    } catch (err) {
      this.#log.warn(`chunk ${ref.id} is unreadable: ${(err as Error).message}`, { chunk: ref.id })
      throw err
    }
  }

  /**
   * The bytes of an erasure-coded chunk (erasure/readStripe.ts): its data shards, or a rebuild from
   * any k intact shards. Each listed shard that failed is a bad replica of the stripe on that node.
   */
  async #fetchStripe(ref: ChunkRef): Promise<Buffer> {
    const shards = ref.ec?.shards ?? []
    try {
      const result = await readStripe(
        ref,
        {
          nodeOf: (nodeId) => this.registry.get(nodeId),
          rank: (nodeId) => healthRank(this.registry, nodeId),
          strays: (shard) => readOrder(shard, this.registry),
        },
        {
          onFailure: (index, nodeId, error, listed) => {
            noteNodeError(this.registry, nodeId, error)
            if (listed) this.#reportBadReplica(ref, nodeId, error, `shard ${index} (${shards[index].id}) of chunk`)
            else if (error.code !== 'CHUNK_MISSING') {
              this.#log.debug(`node ${nodeId} has no intact stray copy of shard ${index} of chunk ${ref.id}: ${error.message}`, { chunk: ref.id, nodeId })
            }
          },
          onRead: (index, nodeId, bytes, listed) => {
            this.#countIo(nodeId, 'read', bytes)
            noteNodeAnswered(this.registry, nodeId)
            if (!listed) {
              this.#log.info(`shard ${index} of chunk ${ref.id} found on node ${nodeId}, which its ref does not list`, { chunk: ref.id, shard: index, nodeId })
              this.#callHook(() => this.onReplicaFound?.(ref, nodeId, index))
            }
          },
        },
      )
      if (result.failures.length > 0) this.stats.failovers += 1
      if (result.rebuilt) this.#log.debug(`chunk ${ref.id} rebuilt from ${result.shards.filter(Boolean).length} shards`, { chunk: ref.id })
      return result.data
    } catch (err) {
      this.#log.warn(`chunk ${ref.id} is unreadable: ${(err as Error).message}`, { chunk: ref.id })
      throw err
    }
  }

  #reportBadReplica(ref: ChunkRef, nodeId: string, reason: DfsError, what = 'replica of chunk'): void {
    this.stats.badReplicas += 1
    this.#log.warn(`bad ${what} ${ref.id} on node ${this.registry.get(nodeId)?.address ?? nodeId}: ${reason.message}`, {
      chunk: ref.id,
      nodeId,
      code: reason.code,
    })
    this.#callHook(() => this.onBadReplica?.(ref, nodeId, reason))
  }

  /** A failing hook is a bug elsewhere; it must not fail the read or write that triggered it. */
  #callHook(call: () => void): void {
    try {
      call()
    } catch (err) {
      this.#log.warn(`chunk store hook threw: ${(err as Error).message}`)
    }
  }

  /** Delete the copies of a write that is being given up (best effort: the orphan collector gets the rest). */
  async #removeCopies(id: ChunkId, nodeIds: string[]): Promise<void> {
    if (this.#abandon) return this.#abandon(id)
    await Promise.all(
      nodeIds.map(async (nodeId) => {
        try {
          await this.registry.get(nodeId)?.delete(id)
        } catch (err) {
          this.#log.warn(`removing chunk ${id} from node ${nodeId} after a failed write failed: ${(err as Error).message}`, { chunk: id, nodeId })
        }
      }),
    )
  }

  /**
   * Why a write stored fewer copies than minCopies (shards than k). NODE_FULL (ENOSPC) only when the
   * cluster is full: every registered node without a copy is marked full or was full in this attempt.
   * Anything else is NO_NODES (EIO).
   */
  #noRoomError(id: ChunkId, failures: NodeAttempt[], storedOn: readonly string[], want: ShortWrite): DfsError {
    const fullNow = new Set(failures.filter((f) => f.code === 'NODE_FULL').map((f) => f.nodeId))
    const statuses = this.registry.statuses()
    const context = {
      chunk: id,
      tried: failures,
      nodes: statuses.map((s) => ({ nodeId: s.nodeId, address: s.address, health: s.health, full: s.full, reason: s.reason })),
    }
    if (statuses.length === 0) return dfsError('NO_NODES', `no DataNodes to write chunk ${id} to`, context)
    const full = statuses.filter((s) => !storedOn.includes(s.nodeId)).every((s) => fullNow.has(s.nodeId) || s.full)
    const summary = statuses.map((s) => `${s.address}: ${storedOn.includes(s.nodeId) ? 'stored' : s.full || fullNow.has(s.nodeId) ? 'full' : s.health}`).join(', ')
    if (storedOn.length > 0) {
      const why = `chunk ${id} got ${storedOn.length} of ${want.wanted}, fewer than ${want.least} (${summary})`
      return dfsError(full ? 'NODE_FULL' : 'NO_NODES', why, { ...context, ...want.context })
    }
    if (full) return dfsError('NODE_FULL', `no DataNode has room for chunk ${id}`, context)
    return dfsError('NO_NODES', `no live DataNode could store chunk ${id} (${summary})`, context)
  }
}

/** What a write that stored too little wanted, for its error: "3 copies" / "--min-copies 2", "6 shards" / "the 4 of ec:4+2". */
interface ShortWrite {
  wanted: string
  least: string
  context: Record<string, unknown>
}

/** Refuse a layout the store cannot write (a bug above: policies are checked where they are set). */
function checkLayout(layout: Layout): void {
  const ok = layout.kind === 'ec'
    ? Number.isInteger(layout.k) && layout.k >= 1 && layout.k <= MAX_K && Number.isInteger(layout.m) && layout.m >= 1 && layout.m <= MAX_M
    : Number.isInteger(layout.copies) && layout.copies >= 1 && layout.copies <= MAX_COPIES
  if (!ok) throw dfsError('BAD_ARGUMENT', `cannot write a chunk as ${JSON.stringify(layout)}: copies 1 to ${MAX_COPIES}, or ec with k 1 to ${MAX_K} and m 1 to ${MAX_M}`, { layout })
}
