// The settings a cluster is created with, recorded in its metadata folder's format.json.

import { dfsError } from '../errors.js'

/**
 * 4 MiB chunks. Big enough that a sequential stream costs one hash, one put per replica and one journal
 * record per 32 FUSE writes, and that 1 TiB of files is 256 Ki chunk references; small enough that an
 * in-place overwrite (dd conv=notrunc, git, sqlite) rewrites at most 4 MiB, and that small files cost
 * nothing extra (a chunk stores only the bytes the file has). HDFS's 128 MiB suits batch jobs over
 * huge files, not a folder people edit in; JuiceFS settles on 4 MiB blocks for the same reasons.
 */
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
export const DEFAULT_REPLICAS = 2
export const MIN_CHUNK_SIZE = 64 * 1024
export const MAX_CHUNK_SIZE = 256 * 1024 * 1024

export interface NodeRecord {
  nodeId: string
  /** The node folder (absolute path). */
  address: string
  /** Emptied by `dfs drain`: a later mount may leave it out of --nodes (and then it leaves the cluster). */
  drained?: boolean
  /** Being drained (`dfs drain`), or a drain was cancelled: takes no new chunks, also after a restart. */
  draining?: boolean
  /** The drain was cancelled: a restart keeps the node out of the write pool but does not resume it. */
  drainPaused?: boolean
}

export interface ClusterSettings {
  chunkSize: number
  replicas: number
  /** When the cluster was created (ms): the root directory's times. */
  createdAt: number
  nodes: NodeRecord[]
}

export function parseSettings(raw: Record<string, unknown>, metaDir: string): ClusterSettings {
  const { chunkSize, replicas, createdAt, nodes } = raw as Partial<ClusterSettings>
  const valid = Number.isSafeInteger(chunkSize) && Number.isSafeInteger(replicas) && Number.isSafeInteger(createdAt) &&
    Array.isArray(nodes) && nodes.every(n => typeof n?.nodeId === 'string' && typeof n?.address === 'string')
  if (!valid) {
    throw dfsError('META_FOREIGN', `the settings in ${metaDir}/format.json are not a dfs cluster's`, { meta: metaDir })
  }
  return { chunkSize: chunkSize!, replicas: replicas!, createdAt: createdAt!, nodes: nodes! }
}

export function checkChunkSize(bytes: number): number {
  if (bytes < MIN_CHUNK_SIZE || bytes > MAX_CHUNK_SIZE || (bytes & (bytes - 1)) !== 0) {
    throw dfsError('BAD_ARGUMENT', `--chunk-size must be a power of two between 64K and 256M, not ${bytes} bytes`, { chunkSize: bytes })
  }
  return bytes
}

/** `--min-copies`: a whole number >= 1 (that it is at most the cluster's replicas is checked once they are known). */
export function checkMinCopies(text: string): number {
  const minCopies = Number(text)
  if (!Number.isInteger(minCopies) || minCopies < 1) {
    throw dfsError('BAD_ARGUMENT', `--min-copies must be a whole number from 1 to the replica count, not "${text}"`, { minCopies: text })
  }
  return minCopies
}

export function checkReplicas(text: string): number {
  const replicas = Number(text)
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16) {
    throw dfsError('BAD_ARGUMENT', `--replicas must be a whole number from 1 to 16, not "${text}"`, { replicas: text })
  }
  return replicas
}
