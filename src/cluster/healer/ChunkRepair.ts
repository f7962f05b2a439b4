// Repairing one chunk (its lock held while it runs); an erasure-coded one is StripeRepair's. A
// replicated chunk wants ref.copies (its directory's policy) or else the cluster's R copies. In order:
//   1. confirm reported-bad copies, and copies found where the map does not say, with a read of our
//      own (checkCopy.ts): a transient error must never cost a good copy;
//   2. copy from a verified copy to writable nodes that lack it until R hold it (copyToNewNodes.ts);
//      (R here and below: the copies this chunk wants)
//   3. trim copies beyond R from the most-used nodes (only when every holder is alive);
//   4. commit the new node list ('replicas' record) only if the file still points at this chunk
//      (stillReferenced.ts);
//   5. delete what was dropped (trimmed, corrupt) only after that record is durable.
// If the file moved on meanwhile (the chunk was overwritten or the file deleted), nothing is recorded
// and copies just made are deleted again.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import { type CopyCheck, checkCopy, checkOf } from '../../chunks/checkCopy.js'
import type { NodeRegistry } from '../../chunks/NodeRegistry.js'
import { noteNodeError } from '../../chunks/nodeHealth.js'
import { isDfsError } from '../../errors.js'
import type { Log } from '../../log/Log.js'
import type { NamespaceMetaStore } from '../openCluster.js'
import { copyStateOf } from '../replication.js'
import { type RestoreResult, dropCopies, planTrim } from '../replicate.js'
import { commitReplicas, stillReferenced } from '../stillReferenced.js'
import { type CopyDeps, copyToNewNodes } from './copyToNewNodes.js'
import type { HealPass } from './HealPass.js'
import type { HealerCounts } from './HealerCounts.js'
import type { RepairItem } from './RepairQueue.js'
import type { RepairHints } from './RepairHints.js'
import { StripeRepair } from './StripeRepair.js'
import { usableNodes } from './usableNodes.js'

export interface ChunkRepairDeps {
  meta: Pick<NamespaceMetaStore, 'state' | 'commit' | 'sync'>
  registry: Pick<NodeRegistry, 'get' | 'ids' | 'health' | 'status' | 'writable' | 'markSuspect' | 'markFull'>
  replicas: number
  graceMs: number
  hints: RepairHints
  counts: HealerCounts
  copy: CopyDeps
  log: Log
  /** The pass under way, for its summary. */
  pass: () => HealPass | undefined
}

type Broken = Map<string, 'missing' | 'corrupt'>

export class ChunkRepair {
  readonly #deps: ChunkRepairDeps
  /** Erasure-coded chunks: their shards rebuilt, not copied. */
  readonly #stripes: StripeRepair

  constructor(deps: ChunkRepairDeps) {
    this.#deps = deps
    this.#stripes = new StripeRepair({ ...deps, recount: (item) => this.recount(item) })
  }

  async repair(item: RepairItem): Promise<void> {
    const { meta, registry, hints, counts, log } = this.#deps
    const pass = this.#deps.pass()
    const ref = stillReferenced(meta.state, item)
    if (!ref) return this.#movedOn(item, [])
    if (ref.ec) return this.#stripes.repair(item, ref)
    const { id } = ref
    // Copies this chunk wants: its directory's policy (replicas:<C>), else the cluster's R.
    const replicas = ref.copies ?? this.#deps.replicas
    const bad = hints.takeBad(id)
    const extras = hints.takeExtra(id)
    const usable = this.#usableNodes()
    const listed = [...new Set(ref.nodes)]

    let trusted: string[] = [] // copies believed good (listed and not reported, or checked)
    const uncertain: string[] = [] // listed, reported bad, but could not be checked: stay listed
    const gone: string[] = [] // listed on nodes dead past the grace period (or no longer registered)
    const broken: Broken = new Map()
    for (const nodeId of listed) {
      if (!usable.has(nodeId)) gone.push(nodeId)
      else if (!bad.has(nodeId)) trusted.push(nodeId)
      else sortCheck(nodeId, await this.#check(nodeId, ref), trusted, uncertain, broken, counts)
    }
    for (const nodeId of extras.keys()) {
      if (listed.includes(nodeId) || !usable.has(nodeId)) continue
      const check = await this.#check(nodeId, ref)
      if (check === 'good') trusted.push(nodeId)
      else if (check === 'corrupt') foundBroken(broken, nodeId, 'corrupt', counts)
    }

    let added: string[] = []
    if (trusted.length < replicas) {
      const restored = await this.#restore(item, ref, trusted, uncertain)
      if (!restored) return
      for (const { nodeId, error } of restored.badSources) {
        noteNodeError(registry, nodeId, error)
        if (!trusted.includes(nodeId)) continue
        const check = checkOf(error)
        if (check === 'unreachable') uncertain.push(nodeId)
        else foundBroken(broken, nodeId, check, counts)
      }
      for (const { nodeId, error } of restored.failedTargets) {
        const message = `copying chunk ${id} to node ${registry.get(nodeId)?.address ?? nodeId} failed: ${error.message}`
        if (pass) pass.failedCopies++
        pass?.failure(message)
        log.debug(`healer: ${message}`)
        noteNodeError(registry, nodeId, error)
      }
      trusted = restored.holders
      added = restored.added
      for (const nodeId of added) if (broken.delete(nodeId) && pass) pass.replacedBad++ // a fresh copy replaced a bad one
    }

    let drop: string[] = []
    // Trim only among alive nodes: a suspect node's copy may be the one that matters in a minute.
    if (trusted.length > replicas && trusted.every((n) => registry.health(n) === 'alive')) {
      const used = await this.#usedBytes(trusted)
      const plan = planTrim(id, trusted, replicas, (nodeId) => used.get(nodeId) ?? 0)
      trusted = plan.keep
      drop = plan.drop
    }

    // The new list: good copies first, then copies we could not check; copies on dead nodes stay
    // listed until R good ones exist elsewhere (the node may come back with them).
    const next = [...trusted, ...uncertain.filter((n) => !trusted.includes(n))]
    if (trusted.length < replicas) next.push(...gone)
    const corrupt = [...broken].filter(([nodeId, why]) => why === 'corrupt' && !next.includes(nodeId)).map(([nodeId]) => nodeId)

    if (!sameList(next, ref.nodes) && !commitReplicas(meta, item, next)) return this.#movedOn(item, added)
    if (added.length > 0) {
      counts.totals.healedChunks++
      if (pass) pass.restored++
      log.debug(`healer: chunk ${id} (inode ${item.ino}, chunk ${item.index}) copied to ${added.map((n) => registry.get(n)?.address ?? n).join(', ')}; ${trusted.length} of ${replicas} copies`)
    }

    const toDelete = [...drop, ...corrupt]
    if (toDelete.length > 0) {
      await meta.sync() // the list without them is durable before any copy goes
      const listedNow = stillReferenced(meta.state, item)?.nodes ?? []
      const { dropped, failed } = await dropCopies(registry, id, toDelete.filter((n) => !listedNow.includes(n)))
      for (const nodeId of dropped) {
        if (corrupt.includes(nodeId)) counts.totals.corruptRemoved++
        else counts.totals.trimmedCopies++
      }
      if (dropped.length > 0) {
        const what = (n: string) => `${registry.get(n)?.address ?? n}${corrupt.includes(n) ? ' (corrupt)' : ''}`
        log.debug(`healer: chunk ${id} (inode ${item.ino}, chunk ${item.index}): removed the copies on ${dropped.map(what).join(', ')}; ${trusted.length} of ${replicas} copies`)
      }
      for (const f of failed) log.warn(`healer: removing a copy of chunk ${id} from node ${f.nodeId} failed: ${f.error.message}`)
    }

    this.recount(item)
    if (trusted.length >= replicas) {
      counts.lost.delete(id)
    } else if (trusted.length > 0) {
      if (pass) pass.short++
      log.debug(`healer: chunk ${id} (inode ${item.ino}, chunk ${item.index}) has ${trusted.length} of ${replicas} copies: not enough writable nodes`)
    }
    if (trusted.length <= replicas) counts.over.delete(id)
  }

  /** Where the chunk stands now, for status(). */
  recount(item: RepairItem): void {
    const { meta, registry, replicas, graceMs, hints, counts } = this.#deps
    // replicas: the cluster's R, for a ref that does not say (chunkReplication reads ref.copies and ref.ec).
    counts.recount(item.id, stillReferenced(meta.state, item), replicas, copyStateOf(registry, graceMs, Date.now(), counts.knownBad(hints.isBad)))
  }

  /** Copy ref to nodes without it. Undefined when the chunk was given up (the file moved on; no intact copy anywhere). */
  async #restore(item: RepairItem, ref: ChunkRef, trusted: string[], uncertain: string[]): Promise<RestoreResult | undefined> {
    const { meta, counts, log } = this.#deps
    try {
      return await copyToNewNodes(this.#deps.copy, ref, trusted, uncertain)
    } catch (err) {
      if (!stillReferenced(meta.state, item)) {
        counts.forget(item.id)
        return undefined
      }
      if (isDfsError(err, 'CHUNK_UNREADABLE')) {
        const pass = this.#deps.pass()
        counts.totals.failed++
        if (!counts.lost.has(ref.id)) {
          if (pass) pass.lost++
          log.warn(`healer: chunk ${ref.id} (inode ${item.ino}, chunk ${item.index}) has no intact copy on any node: ${(err as Error).message}`)
        }
        counts.lost.add(ref.id)
        this.recount(item)
        return undefined
      }
      throw err
    }
  }

  /**
   * The file no longer points at this chunk (overwritten, truncated, deleted). Record nothing; delete
   * the copies this repair made (the file system deletes the others once the change that dropped it
   * is durable).
   */
  async #movedOn(item: RepairItem, added: string[]): Promise<void> {
    const { registry, counts, log } = this.#deps
    counts.forget(item.id)
    if (added.length === 0) return
    log.debug(`healer: chunk ${item.id} was dropped by its file during its repair; nothing recorded, the ${added.length} new cop${added.length === 1 ? 'y' : 'ies'} removed`)
    const { failed } = await dropCopies(registry, item.id, added)
    for (const f of failed) log.warn(`healer: removing the copy of discarded chunk ${item.id} from node ${f.nodeId} failed: ${f.error.message}`)
  }

  /** The healer's own look at a copy someone reported bad. */
  #check(nodeId: string, ref: ChunkRef): Promise<CopyCheck> {
    return checkCopy(this.#deps.registry.get(nodeId), nodeId, ref)
  }

  /** Node ids whose copies count as good: registered and alive, suspect, or dead for less than graceMs. */
  #usableNodes(): Set<string> {
    return usableNodes(this.#deps.registry, this.#deps.graceMs)
  }

  /** Stored bytes per node: from the heartbeat's last usage report, else asked now. */
  async #usedBytes(nodeIds: string[]): Promise<Map<string, number>> {
    const { registry } = this.#deps
    const used = new Map<string, number>()
    await Promise.all(
      nodeIds.map(async (nodeId) => {
        const known = registry.status(nodeId)?.usage?.used
        if (known !== undefined) return void used.set(nodeId, known)
        try {
          used.set(nodeId, (await registry.get(nodeId)?.usage())?.used ?? 0)
        } catch {
          used.set(nodeId, 0)
        }
      }),
    )
    return used
  }
}

function sortCheck(nodeId: string, check: CopyCheck, trusted: string[], uncertain: string[], broken: Broken, counts: HealerCounts): void {
  if (check === 'good') trusted.push(nodeId)
  else if (check === 'unreachable') uncertain.push(nodeId)
  else foundBroken(broken, nodeId, check, counts)
}

/** A copy our own read found missing or corrupt: counted once per repair, however many ways it showed. */
function foundBroken(broken: Broken, nodeId: string, why: 'missing' | 'corrupt', counts: HealerCounts): void {
  if (!broken.has(nodeId)) counts.totals.badCopiesFound++
  broken.set(nodeId, why)
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i])
}
