// Checking a cluster: every copy of every chunk a file references is read and its SHA-256 verified;
// what the nodes hold that nothing references is an orphan. With repair, chunks with fewer than R
// good copies are copied from a good one to nodes that lack them, bad copies are replaced, the
// chunk map is corrected, and orphans are removed (unless a metadata repair holds them: orphanHold.ts).
//
// Stripes (erasure-coded chunks, chunks/layout.ts): every shard is read and verified against its own
// SHA-256, like a copy. A stripe with all k + m shards intact is healthy; with k .. k+m-1 it is
// readable but degraded (reported under-replicated); with fewer than k it is lost. The report names
// the stripe, each bad shard's index and its node. Shards are referenced pieces, never orphans. The
// offline repair does not rebuild shards (the NameNode's healer does, with the stripe's own repair
// path, which needs the healer's state): it lists each such stripe as not repaired.

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
  repaired?: { copied: number; mapsFixed: number; orphansRemoved: number; orphansKept: number; failed: string[] }
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
  if (opts.repair) report.repaired = await repair(cluster, problems, report.orphans, hold, opts.log ?? (() => {}))
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

async function repair(cluster: Cluster, problems: ChunkProblem[], orphans: FsckReport['orphans'], hold: OrphanHold | undefined, log: (m: string) => void) {
  const { meta, registry, settings } = cluster
  const result = { copied: 0, mapsFixed: 0, orphansRemoved: 0, orphansKept: 0, failed: [] as string[] }
  // Fewest good copies first: those are closest to being lost.
  problems.sort((a, b) => a.good.length - b.good.length)
  for (const problem of problems) {
    if (problem.shards) {
      // Rebuilding shards is the healer's stripe repair (decode from any k, put each on a node holding
      // none of the stripe): not done here, so said rather than hidden.
      const bad = problem.bad.map(b => `shard ${b.shard} on ${b.node}: ${b.why}`).join('; ')
      result.failed.push(`${problem.path} chunk ${problem.index}: ${problem.layout} stripe, ${problem.intact} of ${problem.shards.length} shards intact (${bad || 'map differs'}); ` +
        'the offline repair does not rebuild shards: start the NameNode (dfs namenode, or dfs mount), whose healer rebuilds them')
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
  log(`repair: ${result.copied} copies made, ${result.mapsFixed} chunk maps fixed, ${result.orphansRemoved} orphans removed`)
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
