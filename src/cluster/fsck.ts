// Checking a cluster: every copy of every chunk a file references is read and its SHA-256 verified;
// what the nodes hold that nothing references is an orphan. With repair, chunks with fewer than R
// good copies are copied from a good one to nodes that lack them, bad copies are replaced, the
// chunk map is corrected, and orphans are removed (unless a metadata repair holds them: orphanHold.ts).
//
// Stripes (erasure-coded chunks, chunks/layout.ts): every shard is read and verified against its own
// SHA-256, like a copy. A stripe with all k + m shards intact is healthy; with k .. k+m-1 it is
// readable but degraded (reported under-replicated); with fewer than k it is lost. The report names
// the stripe, each bad shard's index and its node. Shards are referenced pieces, never orphans. With
// repair, a degraded stripe's missing, corrupt and unplaced shards are rebuilt from k verified ones
// by the healer's own rebuild (rebuildStripe.ts: each onto a node holding no shard of the stripe, or
// back onto its own node when no other can take it); a lost stripe is reported and left untouched.

import { readCopy } from '../chunks/checkCopy.js'
import type { NodeRegistry } from '../chunks/NodeRegistry.js'
import type { DataNode } from '../datanode/DataNode.js'
import { forEachLimit } from '../util/forEachLimit.js'
import { type ChunkRef, type NamespaceState, ROOT_INO, isFile } from '../meta/namespace/types.js'
import { type OrphanHold, describeHold, orphanHold } from '../meta/orphanHold.js'
import type { Cluster } from './openCluster.js'
import { layoutOf, nodesNeeded, pieceOf, piecesOf, piecesToRead, storedIds, storedPieces } from '../chunks/layout.js'
import { formatPolicy } from '../meta/namespace/policy.js'
import { dropCopies, restoreCopies as restore } from './replicate.js'
import { commitReplicas, stillReferenced } from './stillReferenced.js'
import { type PieceCopy, type ShardState, needsHome, rebuildStripe, recordShardNodes } from './rebuildStripe.js'

export interface ChunkProblem {
  path: string
  ino: number
  index: number
  chunk: string
  ref: ChunkRef
  /** The chunk's layout, as a policy is written: replicas:<R> or ec:<k>+<m>. */
  layout: string
  /** Nodes with an intact copy (a stripe: with an intact shard). */
  good: string[]
  /**
   * Nodes whose copy is missing (though the map lists them), corrupt or unreadable, and why. For a
   * stripe, `shard` says which shard; a shard no node lists (lost before) is named with node '-'.
   */
  bad: PieceProblem[]
  /** Intact pieces: copies, or shards of the stripe (each counted once). */
  intact: number
  /** A stripe: each shard, where it is intact and what is wrong with it. */
  shards?: ShardCheck[]
}

export interface PieceProblem {
  node: string
  why: string
  /** The shard's index in its stripe (erasure-coded chunks only). */
  shard?: number
}

export interface ShardCheck {
  index: number
  id: string
  /** Nodes with an intact copy of this shard. */
  good: string[]
  bad: { node: string; why: string }[]
}

export interface FsckReport {
  files: number
  chunks: number
  replicas: number
  nodes: { nodeId: string; address: string; chunks: number; reachable: boolean; error?: string }[]
  /** No intact copy anywhere (a stripe: fewer than k intact shards): these bytes are lost. */
  lost: ChunkProblem[]
  /** Fewer than R intact copies (a stripe: k .. k+m-1 intact shards, readable, degraded). */
  underReplicated: ChunkProblem[]
  /** Some copy the map lists is missing or bad (the chunk may still have R good copies elsewhere). */
  badReplicas: ChunkProblem[]
  orphans: { node: string; chunk: string }[]
  /** A metadata repair holds the orphans (meta/orphanHold.ts): --repair keeps them. */
  orphanHold?: OrphanHold
  repaired?: {
    copied: number
    /** Shards of degraded stripes rebuilt (each put on a node). */
    shardsRebuilt: number
    mapsFixed: number
    orphansRemoved: number
    orphansKept: number
    failed: string[]
  }
}

// Orphans a metadata repair holds are kept on purpose (the operator releases them): not a problem
// --repair could fix.
export const isHealthy = (r: FsckReport) =>
  r.lost.length === 0 && r.underReplicated.length === 0 && r.badReplicas.length === 0 && (r.orphans.length === 0 || r.orphanHold !== undefined) &&
  r.nodes.every(n => n.reachable)

interface FileChunk {
  path: string
  ino: number
  index: number
  ref: ChunkRef
}

const VERIFY_PARALLELISM = 4

/** How far the check is: chunks checked, and bytes of the copies read and verified (each copy counts). */
export interface FsckProgress {
  checkedChunks: number
  chunks: number
  checkedBytes: number
  bytes: number
}

export async function fsck(
  cluster: Cluster,
  opts: {
    repair: boolean
    log?: (message: string) => void
    onProgress?: (progress: FsckProgress) => void
    /**
     * The namespace changes while the check runs (online, at the NameNode): see settle(). Only
     * without repair: a repair acts on what it found, and that may be out of date.
     */
    live?: boolean
  },
): Promise<FsckReport> {
  if (opts.live && opts.repair) throw new Error('fsck: repair of a live namespace is not supported')
  const { meta, registry, settings } = cluster
  const nodes = registry.nodes()
  const held = new Map<string, Set<string>>()
  const report: FsckReport = {
    files: 0, chunks: 0, replicas: settings.replicas, nodes: [], lost: [], underReplicated: [], badReplicas: [], orphans: [],
  }
  for (const node of nodes) {
    try {
      const ids = await node.list()
      held.set(node.nodeId, new Set(ids))
      report.nodes.push({ nodeId: node.nodeId, address: node.address, chunks: ids.length, reachable: true })
    } catch (err) {
      report.nodes.push({ nodeId: node.nodeId, address: node.address, chunks: 0, reachable: false, error: (err as Error).message })
    }
  }

  for (const gone of cluster.unavailable) {
    report.nodes.push({ nodeId: gone.nodeId ?? '?', address: gone.address, chunks: 0, reachable: false, error: gone.error })
  }

  const fileChunks = chunksOf(meta.state)
  report.files = new Set(fileChunks.map(c => c.ino)).size + countEmptyFiles(meta.state)
  report.chunks = fileChunks.length
  const referenced = new Set<string>()
  const problems: ChunkProblem[] = []
  // Every copy a node holds is read (every shard of a stripe): its bytes, per chunk.
  const copyBytes = (chunk: FileChunk) => {
    let bytes = 0
    for (const piece of storedPieces(chunk.ref)) bytes += piece.len * [...held.values()].filter(ids => ids.has(piece.id)).length
    return bytes
  }
  const progress: FsckProgress = { checkedChunks: 0, chunks: fileChunks.length, checkedBytes: 0, bytes: 0 }
  if (opts.onProgress) for (const chunk of fileChunks) progress.bytes += copyBytes(chunk)
  opts.onProgress?.({ ...progress })
  await forEachLimit(fileChunks, VERIFY_PARALLELISM, async chunk => {
    for (const id of storedIds(chunk.ref)) referenced.add(id)
    const problem = await checkCopies(chunk, nodes, held, settings.replicas)
    if (opts.onProgress) {
      progress.checkedChunks++
      progress.checkedBytes += copyBytes(chunk)
      opts.onProgress({ ...progress })
    }
    const found = verdict(problem, settings.replicas)
    if (found) report[found].push(problem)
    if (found && found !== 'lost') problems.push(problem)
  })
  for (const [nodeId, ids] of held) {
    for (const id of ids) if (!referenced.has(id)) report.orphans.push({ node: nodeId, chunk: id })
  }

  if (opts.live) await settle(cluster, report)

  const hold = await orphanHold(cluster.metaDir)
  if (hold) report.orphanHold = hold
  if (opts.repair) report.repaired = await repair(cluster, problems, report.orphans, hold, new Set(held.keys()), opts.log ?? (() => {}))
  return report
}

/**
 * A check of a live namespace looked at a moving target: files changed while their chunks were read,
 * and the node lists were taken before the namespace was. Before it says anything is wrong, look
 * again: a problem whose file no longer points at the chunk is gone (the chunk was replaced, truncated
 * or deleted meanwhile); a chunk a file still points at is checked again against fresh node lists (it
 * may have been written after they were taken); an orphan the namespace now references was committed
 * meanwhile. Orphans left include the chunks clients are writing now: the NameNode's orphan
 * collection tells those apart (it waits --orphan-grace).
 */
async function settle(cluster: Cluster, report: FsckReport): Promise<void> {
  const { registry, settings } = cluster
  const nodes = registry.nodes()
  const held = new Map<string, Set<string>>()
  for (const node of nodes) {
    try {
      held.set(node.nodeId, new Set(await node.list()))
    } catch { /* still unreachable: its copies stay bad */ }
  }
  const recheck = async (list: ChunkProblem[]) => {
    const out: { problem: ChunkProblem; found: NonNullable<ReturnType<typeof verdict>> }[] = []
    for (const p of list) {
      const ref = stillReferenced(cluster.meta.state, { ino: p.ino, index: p.index, id: p.chunk })
      if (!ref) continue
      const again = await checkCopies({ path: p.path, ino: p.ino, index: p.index, ref }, nodes, held, settings.replicas)
      const found = verdict(again, settings.replicas)
      if (found) out.push({ problem: again, found })
    }
    return out
  }
  const all = [...report.lost, ...report.underReplicated, ...report.badReplicas]
  report.lost = []
  report.underReplicated = []
  report.badReplicas = []
  for (const { problem, found } of await recheck(all)) report[found].push(problem)
  const referenced = new Set(chunksOf(cluster.meta.state).flatMap(c => storedIds(c.ref)))
  report.orphans = report.orphans.filter(o => !referenced.has(o.chunk) && (held.get(o.node)?.has(o.chunk) ?? true))
}

function sameNodes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every(n => b.includes(n))
}

/**
 * Where a checked chunk goes in the report, if anywhere: lost when fewer pieces are intact than a
 * read needs (one copy, k shards); under-replicated when fewer than the layout wants (R copies, k + m
 * shards); bad replicas when enough are intact but some listed piece is bad, or the map lists other
 * nodes than those found holding the pieces.
 */
function verdict(p: ChunkProblem, replicas: number): 'lost' | 'underReplicated' | 'badReplicas' | undefined {
  const layout = layoutOf(p.ref, replicas)
  if (p.intact < piecesToRead(layout)) return 'lost'
  if (p.intact < nodesNeeded(layout)) return 'underReplicated'
  const mapped = p.shards
    ? p.shards.every(s => sameNodes(s.good, pieceOf(p.ref, s.index)?.nodes ?? []))
    : sameNodes(p.good, p.ref.nodes)
  if (p.bad.length > 0 || !mapped) return 'badReplicas'
  return undefined
}

/** Every chunk of every file, with a path to name it by. */
function chunksOf(state: NamespaceState): FileChunk[] {
  const out: FileChunk[] = []
  const seen = new Set<number>()
  const walk = (dir: number, prefix: string) => {
    for (const [name, ino] of state.children.get(dir) ?? []) {
      const path = `${prefix}/${name}`
      const inode = state.inodes.get(ino)
      if (!inode) continue
      if (state.children.has(ino)) walk(ino, path)
      else if (isFile(inode) && !seen.has(ino)) {
        seen.add(ino)
        inode.chunks?.forEach((ref, index) => { if (ref) out.push({ path, ino, index, ref }) })
      }
    }
  }
  walk(ROOT_INO, '')
  return out
}

function countEmptyFiles(state: NamespaceState): number {
  let n = 0
  for (const inode of state.inodes.values()) if (isFile(inode) && !inode.chunks?.some(Boolean)) n++
  return n
}

async function checkCopies(chunk: FileChunk, nodes: DataNode[], held: Map<string, Set<string>>, replicas: number): Promise<ChunkProblem> {
  const { ref } = chunk
  const problem: ChunkProblem = {
    path: chunk.path, ino: chunk.ino, index: chunk.index, chunk: ref.id, ref, layout: formatPolicy(layoutOf(ref, replicas)), good: [], bad: [], intact: 0,
  }
  if (!ref.ec) {
    const copies = await checkPiece(ref, nodes, held)
    return { ...problem, good: copies.good, bad: copies.bad, intact: copies.good.length }
  }
  problem.shards = []
  for (const { ref: shard, shard: index } of piecesOf(ref)) {
    const found = await checkPiece(shard, nodes, held)
    if (found.good.length === 0 && found.bad.length === 0) found.bad.push({ node: '-', why: 'lost: no node holds it' })
    problem.shards.push({ index: index!, id: shard.id, ...found })
    if (found.good.length > 0) problem.intact++
    for (const node of found.good) if (!problem.good.includes(node)) problem.good.push(node)
    for (const bad of found.bad) problem.bad.push({ ...bad, shard: index })
  }
  return problem
}

/** One piece (a chunk, or a shard of a stripe): the nodes holding it intact, and the listed ones that do not. */
async function checkPiece(piece: ChunkRef, nodes: DataNode[], held: Map<string, Set<string>>): Promise<Pick<ShardCheck, 'good' | 'bad'>> {
  const found: Pick<ShardCheck, 'good' | 'bad'> = { good: [], bad: [] }
  for (const node of nodes) {
    const listed = piece.nodes.includes(node.nodeId)
    const ids = held.get(node.nodeId)
    if (!ids) {
      if (listed) found.bad.push({ node: node.nodeId, why: 'node unreachable' })
      continue
    }
    if (!ids.has(piece.id)) {
      if (listed) found.bad.push({ node: node.nodeId, why: 'missing' })
      continue
    }
    const copy = await readCopy(node, node.nodeId, piece)
    if (copy.check === 'good') found.good.push(node.nodeId)
    else found.bad.push({ node: node.nodeId, why: copy.error.message })
  }
  for (const nodeId of piece.nodes) {
    if (!nodes.some(node => node.nodeId === nodeId)) found.bad.push({ node: nodeId, why: 'node unavailable' })
  }
  return found
}

async function repair(cluster: Cluster, problems: ChunkProblem[], orphans: FsckReport['orphans'], hold: OrphanHold | undefined, reachable: ReadonlySet<string>, log: (m: string) => void) {
  const { meta, registry, settings } = cluster
  const result = { copied: 0, shardsRebuilt: 0, mapsFixed: 0, orphansRemoved: 0, orphansKept: 0, failed: [] as string[] }
  // Fewest pieces to spare first (intact beyond what a read needs): those are closest to being lost.
  const spare = (p: ChunkProblem) => p.intact - piecesToRead(layoutOf(p.ref, settings.replicas))
  problems.sort((a, b) => spare(a) - spare(b))
  /** Shard copies to delete once the map without them is durable. */
  const stripeDrops: { problem: ChunkProblem; copy: PieceCopy }[] = []
  for (const problem of problems) {
    if (problem.shards) {
      try {
        const done = await repairStripe(cluster, problem, reachable)
        result.shardsRebuilt += done.rebuilt
        if (done.mapFixed) result.mapsFixed++
        for (const copy of done.drop) stripeDrops.push({ problem, copy })
        for (const why of done.failed) result.failed.push(`${problem.path} chunk ${problem.index}: ${why}`)
      } catch (err) {
        result.failed.push(`${problem.path} chunk ${problem.index}: ${(err as Error).message}`)
      }
      continue
    }
    try {
      const { holders, added, shortBy } = await restoreCopies(problem, registry, nodesNeeded(layoutOf(problem.ref, settings.replicas)))
      result.copied += added
      if (commitReplicas(meta, { ino: problem.ino, index: problem.index, id: problem.chunk }, holders)) result.mapsFixed++
      if (shortBy) result.failed.push(`${problem.path} chunk ${problem.index}: ${shortBy.message}`)
    } catch (err) {
      result.failed.push(`${problem.path} chunk ${problem.index}: ${(err as Error).message}`)
    }
  }
  await meta.sync()
  // Corrupt shard copies and extra copies go only now, and only if the map does not list them.
  for (const { problem, copy } of stripeDrops) {
    const now = stillReferenced(meta.state, { ino: problem.ino, index: problem.index, id: problem.chunk })
    if (now?.ec?.shards.some(s => s.id === copy.id && s.nodes.includes(copy.nodeId))) continue
    const { failed } = await dropCopies(registry, copy.id, [copy.nodeId])
    for (const f of failed) result.failed.push(`${problem.path} chunk ${problem.index}: removing the corrupt or extra copy of shard ${copy.id} on ${f.nodeId} failed: ${f.error.message}`)
  }
  if (hold) {
    result.orphansKept = orphans.length
    if (orphans.length) log(`repair: ${orphans.length} orphans ${describeHold(hold)}`)
    orphans = []
  }
  for (const { node, chunk } of orphans) {
    try {
      await registry.get(node)?.delete(chunk)
      result.orphansRemoved++
    } catch (err) {
      result.failed.push(`orphan ${chunk} on ${node}: ${(err as Error).message}`)
    }
  }
  log(`repair: ${result.copied} copies made, ${result.shardsRebuilt} shards rebuilt, ${result.mapsFixed} chunk maps fixed, ${result.orphansRemoved} orphans removed`)
  return result
}

/**
 * Copy a chunk from a good copy to nodes without one until it has R (see replicate.ts): the nodes
 * holding it now, and how many copies were added. A target that fails is skipped for the next one;
 * if the chunk still has fewer than R copies because of such a failure, shortBy says why.
 */
async function restoreCopies(problem: ChunkProblem, registry: NodeRegistry, replicas: number) {
  const restored = await restore(registry, { ref: problem.ref, holders: problem.good, replicas, targets: registry.writable() })
  // A corrupt copy that was not overwritten above is removed, so nothing can ever serve it.
  await dropCopies(registry, problem.chunk, problem.bad.map(b => b.node).filter(node => !restored.holders.includes(node)))
  const shortBy = restored.holders.length < replicas ? restored.failedTargets[0]?.error : undefined
  return { holders: restored.holders, added: restored.added.length, shortBy }
}

/**
 * Repair one degraded stripe offline (at least k shards were found intact). Each shard's standing is
 * decided from what the check found, as the healer decides it from its hints: on no node, lost; on a
 * node that could not be opened or listed, gone (the operator repairs without it, as a replicated
 * chunk's copy there is dropped from its map); listed but not found intact there, read once more
 * (a shard is never given up on one read) and broken if missing or corrupt, uncertain if its node
 * does not answer. A shard that needs a home takes an intact unlisted copy found on a node holding no
 * other shard; the rest are rebuilt and recorded by rebuildStripe.ts. Returns what to delete once the
 * map is durable (corrupt copies not overwritten, extra copies of a shard placed elsewhere) and why
 * anything is left undone.
 */
async function repairStripe(cluster: Cluster, problem: ChunkProblem, reachable: ReadonlySet<string>): Promise<{ rebuilt: number; mapFixed: boolean; drop: PieceCopy[]; failed: string[] }> {
  const { meta, registry } = cluster
  const ref = problem.ref
  const { k, m } = ref.ec!
  const at = { ino: problem.ino, index: problem.index, id: problem.chunk }
  const checks = problem.shards!
  const read = async (shard: ShardState) => {
    const got = await readCopy(registry.get(shard.nodeId!), shard.nodeId!, shard.piece)
    if (got.check === 'good') {
      shard.data = got.data
      if (shard.standing === 'uncertain') shard.standing = 'good'
    } else if (got.check === 'unreachable') {
      shard.standing = 'uncertain'
    } else {
      shard.standing = 'broken'
      shard.why = got.check
    }
  }

  const shards: ShardState[] = []
  for (const [index, piece] of ref.ec!.shards.entries()) {
    const nodeId = piece.nodes[0]
    const shard: ShardState = { index, piece, nodeId, standing: 'good' }
    if (nodeId === undefined) shard.standing = 'lost'
    else if (!reachable.has(nodeId) || !registry.get(nodeId)) shard.standing = 'gone'
    else if (!checks[index]?.good.includes(nodeId)) await read(shard)
    shards.push(shard)
  }
  // Intact copies the map does not list (a move or rebuild cut short): a home for a shard that needs
  // one; otherwise their nodes take no rebuilt shard, and they go once their shard is placed.
  const unlisted = (s: ShardState) => (checks[s.index]?.good ?? []).filter(n => n !== s.nodeId)
  const extraHolders = new Set(shards.flatMap(unlisted))
  for (const shard of shards.filter(needsHome)) {
    const holdsAnother = (nodeId: string) => shards.some(o => o !== shard && ((o.nodeId === nodeId && o.standing !== 'lost') || o.newNode === nodeId))
    const home = unlisted(shard).find(n => !holdsAnother(n))
    if (home !== undefined) shard.newNode = home
  }

  const failed: string[] = []
  const putErrors = new Map<number, string>()
  const put = shards.some(needsHome)
    ? await rebuildStripe({
      registry,
      read,
      onMismatch: s => putErrors.set(s.index, 'the shard rebuilt from the others does not match its recorded SHA-256 (the stripe was written inconsistent); not stored'),
      onPutFailed: (s, nodeId, error) => putErrors.set(s.index, `putting it on node ${registry.get(nodeId)?.address ?? nodeId} failed: ${error.message}`),
    }, ref, shards, extraHolders)
    : []
  const stripe = `${problem.layout} stripe`
  if (!put) {
    const intact = shards.filter(s => s.data).length
    return { rebuilt: 0, mapFixed: false, drop: [], failed: [`${stripe}, only ${intact} shard${intact === 1 ? '' : 's'} could be read intact now (${k} needed to rebuild); nothing changed`] }
  }

  const before = JSON.stringify(ref.ec!.shards.map(s => s.nodes))
  if (!recordShardNodes(meta, at, shards)) {
    // Offline, nothing else changes the namespace; still, what was put is not left unreferenced.
    for (const copy of put) await dropCopies(registry, copy.id, [copy.nodeId])
    return { rebuilt: 0, mapFixed: false, drop: [], failed: [`${stripe}: the file no longer points at it; nothing recorded`] }
  }
  const after = stillReferenced(meta.state, at)
  const mapFixed = JSON.stringify(after?.ec?.shards.map(s => s.nodes)) !== before

  const drop: PieceCopy[] = []
  for (const shard of shards) {
    if (shard.standing === 'broken' && shard.why === 'corrupt' && shard.newNode !== shard.nodeId) drop.push({ nodeId: shard.nodeId!, id: shard.piece.id })
    // Extra copies go only when the shard is verified intact at its home (not while its node is silent).
    const home = shard.newNode ?? (shard.standing === 'good' ? shard.nodeId : undefined)
    if (home !== undefined) for (const nodeId of unlisted(shard)) if (nodeId !== home) drop.push({ nodeId, id: shard.piece.id })
    if (needsHome(shard)) {
      const why = putErrors.get(shard.index) ?? `no writable node holding no shard of the stripe could take it (an ${problem.layout} stripe needs ${k + m} nodes; ${registry.writable().filter(n => reachable.has(n)).length} are writable)`
      failed.push(`${stripe}: shard ${shard.index} ${shard.nodeId ? `(on ${shard.nodeId}) ` : ''}not rebuilt: ${why}`)
    } else if (shard.standing === 'uncertain') {
      failed.push(`${stripe}: shard ${shard.index} on ${shard.nodeId} could not be read (its node did not answer); left as it is`)
    }
  }
  return { rebuilt: put.length, mapFixed, drop, failed }
}
