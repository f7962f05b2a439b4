// Helpers for erasure-coded chunks in a test cluster (fakes.ts): where a shard lives, how to lose
// it (its file deleted, a byte of it flipped, its node unreachable or unregistered), and how to put
// the cluster back for the next case.

import { readFile, unlink, writeFile } from 'node:fs/promises'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import type { TestCluster } from './fakes.js'

export type Loss = 'deleted' | 'corrupt' | 'unreachable' | 'unregistered'
export const LOSSES: readonly Loss[] = ['deleted', 'corrupt', 'unreachable', 'unregistered']

/** The code a read sees for a shard lost that way. */
export const CODE_OF: Record<Loss, string> = {
  deleted: 'CHUNK_MISSING',
  corrupt: 'CHUNK_CORRUPT',
  unreachable: 'NODE_UNAVAILABLE',
  unregistered: 'NODE_UNAVAILABLE',
}

export function shardsOf(ref: ChunkRef): readonly ChunkRef[] {
  if (!ref.ec) throw new Error(`chunk ${ref.id} is not erasure coded`)
  return ref.ec.shards
}

/** The node id holding shard i of ref. */
export function shardNode(ref: ChunkRef, i: number): string {
  const nodeId = shardsOf(ref)[i].nodes[0]
  if (!nodeId) throw new Error(`shard ${i} of chunk ${ref.id} has no node`)
  return nodeId
}

/** Path of shard i's file on its node. */
export function shardPath(c: TestCluster, ref: ChunkRef, i: number): string {
  return c.chunkPath(c.indexOf(shardNode(ref, i)), shardsOf(ref)[i].id)
}

export async function flipByte(path: string, at = 0): Promise<void> {
  const bytes = await readFile(path)
  bytes[at % bytes.length] ^= 0xff
  await writeFile(path, bytes)
}

/** Lose shard i of ref that way; returns how to undo what concerns the node (files stay lost). */
export async function loseShard(c: TestCluster, ref: ChunkRef, i: number, loss: Loss): Promise<() => void> {
  const nodeId = shardNode(ref, i)
  const node = c.nodes[c.indexOf(nodeId)]
  switch (loss) {
    case 'deleted':
      await unlink(shardPath(c, ref, i))
      return () => {}
    case 'corrupt':
      await flipByte(shardPath(c, ref, i), 5)
      return () => {}
    case 'unreachable':
      node.failures.get = 'NODE_UNAVAILABLE'
      return () => {
        delete node.failures.get
      }
    case 'unregistered':
      c.registry.remove(nodeId)
      return () => c.registry.add(node)
  }
}

/** Every node back in the registry, answering, alive: the state each case starts from. */
export function restoreNodes(c: TestCluster, undo: Array<() => void>): void {
  for (const each of undo.splice(0)) each()
  for (const node of c.nodes) c.registry.markAlive(node.nodeId)
}

/** Every subset of {0..n-1} with exactly `size` members, in lexicographic order. */
export function subsets(n: number, size: number): number[][] {
  if (size === 0) return [[]]
  const out: number[][] = []
  const walk = (from: number, chosen: number[]) => {
    if (chosen.length === size) {
      out.push(chosen)
      return
    }
    for (let i = from; i < n; i++) walk(i + 1, [...chosen, i])
  }
  walk(0, [])
  return out
}

/**
 * The shards a read touches when `lost` are lost and every node but those of `unknown` shards is
 * registered and alive (readStripe.ts's order): shards on registered nodes before the others, data
 * before parity, as many as are still missing each round until k are intact.
 */
export function shardsRead(k: number, m: number, lost: readonly number[], unknown: readonly number[] = []): number[] {
  const all = Array.from({ length: k + m }, (_, i) => i)
  const order = [...all.filter((i) => !unknown.includes(i)), ...all.filter((i) => unknown.includes(i))]
  const read: number[] = []
  let intact = 0
  while (intact < k && read.length < order.length) {
    const round = order.slice(read.length, read.length + k - intact)
    read.push(...round)
    intact += round.filter((i) => !lost.includes(i)).length
  }
  return read
}
