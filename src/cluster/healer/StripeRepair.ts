// Repairing one erasure-coded chunk (a stripe; its lock held while it runs): all k + m shards kept
// whole, as ChunkRepair keeps R copies of a replicated chunk, in the same order and with the same
// safety:
//   1. confirm reported-bad shards with a read of our own (checkCopy.ts): a transient error must
//      never cost a good shard. Copies of shards found where the map does not list them (a rebuild
//      or move cut short, a node back from the dead) are adopted by a shard that needs a home, or
//      else dropped at step 4;
//   2. every shard that is missing, corrupt, or on a node dead past the grace period is rebuilt
//      (../rebuildStripe.ts, shared with the offline fsck --repair): k shards read and verified
//      against their own SHA-256, the rest computed, each rebuilt shard checked against its recorded
//      SHA-256 and put (same id) on a writable node that holds no shard of this stripe, within the
//      bandwidth shared with the rebalancer. Only the node of the very shard being rebuilt, whose
//      copy there is missing or corrupt, may take it back, and only when no other node can;
//   3. each shard's new node is committed ('replicas' record with `shard`) only if the file still
//      points at this stripe (stillReferenced.ts);
//   4. corrupt shard copies and extra copies are deleted only after those records are durable.
// If the file moved on meanwhile, nothing is recorded and the shards just put are deleted again.
//
// The healer's hints about a shard (a read found it bad, a node did or did not report it) are kept
// under the stripe's chunk id and the shard's node: a node holds at most one shard of a stripe.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import { readCopy } from '../../chunks/checkCopy.js'
import { noteNodeError } from '../../chunks/nodeHealth.js'
import { type PieceCopy, type ShardState, needsHome, rebuildStripe, recordShardNodes } from '../rebuildStripe.js'
import { dropCopies } from '../replicate.js'
import { commitShardNodes, stillReferenced } from '../stillReferenced.js'
import type { ChunkRepairDeps } from './ChunkRepair.js'
import type { RepairItem } from './RepairQueue.js'
import { usableNodes } from './usableNodes.js'

export interface StripeRepairDeps extends ChunkRepairDeps {
  /** Where the chunk stands now, for status() (ChunkRepair.recount). */
  recount: (item: RepairItem) => void
}

export class StripeRepair {
  readonly #deps: StripeRepairDeps

  constructor(deps: StripeRepairDeps) {
    this.#deps = deps
  }

  async repair(item: RepairItem, ref: ChunkRef): Promise<void> {
    const { meta, registry, hints, counts, log } = this.#deps
    const pass = this.#deps.pass()
    const ec = ref.ec!
    const wanted = ec.k + ec.m
    const bad = hints.takeBad(ref.id)
    const extras = hints.takeExtra(ref.id)
    const usable = usableNodes(registry, this.#deps.graceMs)

    const shards: ShardState[] = []
    for (const [index, piece] of ec.shards.entries()) {
      const nodeId = piece.nodes[0]
      const shard: ShardState = { index, piece, nodeId, standing: 'good' }
      if (nodeId === undefined) shard.standing = 'lost'
      else if (!usable.has(nodeId)) shard.standing = 'gone'
      else if (bad.has(nodeId)) await this.#read(shard)
      shards.push(shard)
    }
    const { drop: toDrop, holders: extraHolders } = await this.#lookAtExtras(shards, [...extras.keys()].filter((n) => usable.has(n)))

    const put: PieceCopy[] = []
    if (shards.some(needsHome)) {
      const rebuilt = await this.#rebuild(item, ref, shards, extraHolders)
      if (!rebuilt) return
      put.push(...rebuilt)
    }

    // 3. The map: each shard that moved, and each broken one that found no new home (no read goes there).
    if (!recordShardNodes(meta, item, shards)) return this.#movedOn(item, put)
    if (put.length > 0) {
      counts.totals.healedChunks++
      if (pass) pass.restored++
      const where = put.map((p) => `shard ${shards.find((s) => s.piece.id === p.id)!.index} to ${registry.get(p.nodeId)?.address ?? p.nodeId}`)
      log.debug(`healer: chunk ${ref.id} (inode ${item.ino}, chunk ${item.index}, ec ${ec.k}+${ec.m}) rebuilt ${where.join(', ')}`)
    }

    // 4. Corrupt copies no longer listed, and extra copies, once the map without them is durable.
    for (const shard of shards) {
      if (shard.standing === 'broken' && shard.why === 'corrupt' && shard.newNode !== shard.nodeId) toDrop.push({ nodeId: shard.nodeId!, id: shard.piece.id, corrupt: true })
    }
    if (toDrop.length > 0) await this.#drop(item, ref, toDrop)

    this.#deps.recount(item)
    const placed = shards.filter((s) => s.newNode !== undefined || s.standing === 'good' || s.standing === 'uncertain').length
    if (placed >= wanted) {
      counts.lost.delete(ref.id)
    } else if (placed >= ec.k) {
      if (pass) pass.short++
      log.debug(`healer: chunk ${ref.id} (inode ${item.ino}, chunk ${item.index}) has ${placed} of ${wanted} shards: not enough writable nodes holding no shard of it`)
    }
    counts.over.delete(ref.id)
  }

  /** Read a shard and verify it; a missing or corrupt one is broken, one whose node did not answer uncertain. */
  async #read(shard: ShardState): Promise<void> {
    const { registry, counts } = this.#deps
    const nodeId = shard.nodeId!
    const read = await readCopy(registry.get(nodeId), nodeId, shard.piece)
    if (read.check === 'good') {
      shard.data = read.data
      this.#deps.copy.onVerifiedCopy?.(shard.piece.id, nodeId)
      if (shard.standing === 'uncertain') shard.standing = 'good'
      return
    }
    noteNodeError(registry, nodeId, read.error)
    if (read.check === 'unreachable') {
      shard.standing = 'uncertain'
    } else if (shard.standing !== 'broken') {
      counts.totals.badCopiesFound++
      shard.standing = 'broken'
      shard.why = read.check
    }
  }

  /**
   * Nodes said to hold a copy of a shard the map does not list there. Such a copy (intact) becomes
   * the home of its shard when that shard needs one and the node holds no other shard of the
   * stripe; otherwise it is dropped once the map is durable (when its shard is whole elsewhere).
   */
  async #lookAtExtras(shards: ShardState[], nodeIds: string[]): Promise<{ drop: (PieceCopy & { corrupt?: boolean })[]; holders: Set<string> }> {
    const { registry } = this.#deps
    const drop: (PieceCopy & { corrupt?: boolean })[] = []
    /** Nodes found holding an unlisted copy of a shard of this stripe: they take no rebuilt shard. */
    const holders = new Set<string>()
    for (const nodeId of nodeIds) {
      const node = registry.get(nodeId)
      if (!node || registry.health(nodeId) !== 'alive') continue
      for (const shard of shards) {
        if (shard.nodeId === nodeId) continue
        const has = await node.has(shard.piece.id).catch(() => false)
        if (!has) continue
        holders.add(nodeId)
        const holdsAnother = shards.some((o) => o !== shard && (o.nodeId === nodeId || o.newNode === nodeId))
        if (needsHome(shard) && !holdsAnother) {
          const read = await readCopy(node, nodeId, shard.piece)
          if (read.check === 'good') {
            shard.newNode = nodeId
            shard.data = read.data
            this.#deps.copy.onVerifiedCopy?.(shard.piece.id, nodeId)
          } else if (read.check === 'corrupt') {
            drop.push({ nodeId, id: shard.piece.id, corrupt: true })
          }
        } else if (shard.standing === 'good' && shard.nodeId !== undefined && registry.health(shard.nodeId) === 'alive') {
          drop.push({ nodeId, id: shard.piece.id })
        }
      }
    }
    return { drop, holders }
  }

  /**
   * Rebuild every shard that needs a home and put it on a node holding no shard of the stripe.
   * Returns what was put; undefined when the stripe was given up (the file moved on; fewer than k
   * intact shards anywhere).
   */
  async #rebuild(item: RepairItem, ref: ChunkRef, shards: ShardState[], extraHolders: ReadonlySet<string>): Promise<PieceCopy[] | undefined> {
    const { meta, registry, counts, log } = this.#deps
    const { k, m } = ref.ec!
    const pass = this.#deps.pass()
    const { bandwidth, signal } = this.#deps.copy

    const put = await rebuildStripe({
      registry,
      read: async (shard) => {
        await bandwidth.take(shard.piece.len, signal)
        await this.#read(shard)
      },
      beforePut: (bytes) => bandwidth.take(bytes, signal),
      stopped: () => signal.aborted,
      onMismatch: (shard) => {
        // The sources verified, so the stripe's shards were never consistent (a writer's fault): no guess is stored.
        counts.totals.failed++
        pass?.failure(`rebuilt shard ${shard.index} of chunk ${ref.id} does not match its recorded SHA-256`)
        log.warn(`healer: rebuilt shard ${shard.index} of chunk ${ref.id} (inode ${item.ino}, chunk ${item.index}) does not match its recorded SHA-256; not stored`)
      },
      onPutFailed: (shard, nodeId, error) => {
        const message = `putting shard ${shard.index} of chunk ${ref.id} on node ${registry.get(nodeId)?.address ?? nodeId} failed: ${error.message}`
        if (pass) pass.failedCopies++
        pass?.failure(message)
        log.debug(`healer: ${message}`)
        noteNodeError(registry, nodeId, error)
      },
      onPut: (shard, nodeId, bytes) => {
        counts.copied(bytes)
        this.#deps.copy.onVerifiedCopy?.(shard.piece.id, nodeId)
        if (nodeId === shard.nodeId && pass) pass.replacedBad++ // a fresh shard replaced a bad one
      },
    }, ref, shards, extraHolders)
    if (put) return put

    if (!stillReferenced(meta.state, item)) {
      counts.forget(item.id)
      return undefined
    }
    if (signal.aborted) return undefined
    counts.totals.failed++
    if (!counts.lost.has(ref.id)) {
      if (pass) pass.lost++
      const intact = shards.filter((s) => s.data).length
      log.warn(`healer: chunk ${ref.id} (inode ${item.ino}, chunk ${item.index}, ec ${k}+${m}) has ${intact} intact shard${intact === 1 ? '' : 's'} within reach; ${k} are needed to rebuild it`)
    }
    counts.lost.add(ref.id)
    // The views (dfs info, status) mark bad only the shards found so, not the intact ones.
    counts.lostStripeBad.set(ref.id, new Set(shards.filter((s) => s.standing === 'broken').map((s) => s.nodeId!)))
    // Shards whose node said it has no such file are on no node: the map says so, so the stripe
    // stays counted lost (and reads skip them). Corrupt ones stay listed: their bytes are all
    // that is left of them, and no collector may take them while listed.
    for (const shard of shards) {
      if (shard.standing === 'broken' && shard.why === 'missing' && !commitShardNodes(meta, item, shard.index, [])) break
    }
    this.#deps.recount(item)
    return undefined
  }

  /** Delete copies (corrupt or extra) once the map without them is durable, unless it lists them again by now. */
  async #drop(item: RepairItem, ref: ChunkRef, copies: (PieceCopy & { corrupt?: boolean })[]): Promise<void> {
    const { meta, registry, counts, log } = this.#deps
    await meta.sync()
    const now = stillReferenced(meta.state, item)
    const listed = (c: PieceCopy) => now?.ec?.shards.some((s) => s.id === c.id && s.nodes.includes(c.nodeId)) === true
    for (const copy of copies) {
      if (listed(copy)) continue
      const { dropped, failed } = await dropCopies(registry, copy.id, [copy.nodeId])
      if (dropped.length > 0) {
        if (copy.corrupt) counts.totals.corruptRemoved++
        else counts.totals.trimmedCopies++
        log.debug(`healer: chunk ${ref.id} (inode ${item.ino}, chunk ${item.index}): removed the ${copy.corrupt ? 'corrupt' : 'extra'} copy of shard ${copy.id} on ${registry.get(copy.nodeId)?.address ?? copy.nodeId}`)
      }
      for (const f of failed) log.warn(`healer: removing shard ${copy.id} of chunk ${ref.id} from node ${f.nodeId} failed: ${f.error.message}`)
    }
  }

  /** The file no longer points at this stripe: record nothing, delete the shards this repair put. */
  async #movedOn(item: RepairItem, put: PieceCopy[]): Promise<void> {
    const { registry, counts, log } = this.#deps
    counts.forget(item.id)
    if (put.length === 0) return
    log.debug(`healer: chunk ${item.id} was dropped by its file during its repair; nothing recorded, the ${put.length} rebuilt shard${put.length === 1 ? '' : 's'} removed`)
    for (const { nodeId, id } of put) {
      const { failed } = await dropCopies(registry, id, [nodeId])
      for (const f of failed) log.warn(`healer: removing shard ${id} of discarded chunk ${item.id} from node ${f.nodeId} failed: ${f.error.message}`)
    }
  }
}
