// Test doubles for the chunk layer: a wrapper that counts calls to a real DataNode and injects the
// failures a test asks for, and a small cluster of local-folder nodes in temp folders.

import type { ChunkId, DataNode, GetHint, NodeUsage, PutHint } from '../../src/datanode/DataNode.js'
import { ChunkStore, type ChunkStoreOptions } from '../../src/chunks/ChunkStore.js'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { NodeRegistry } from '../../src/chunks/NodeRegistry.js'
import { dfsError, type DfsError, type ErrorCode } from '../../src/errors.js'
import { chunkPath, openNodeFolders, releaseNodeFolders } from '../helpers/nodeFolders.js'

type Op = 'put' | 'get' | 'has' | 'delete' | 'list' | 'usage' | 'sync' | 'ping'

/** A DataNode wrapper: counts calls, fails the ops named in `failures`, delays gets by `getDelayMs`. */
export class FaultyNode implements DataNode {
  readonly calls: Record<Op, number> = { put: 0, get: 0, has: 0, delete: 0, list: 0, usage: 0, sync: 0, ping: 0 }
  readonly syncedIds: ChunkId[][] = []
  readonly failures: Partial<Record<Op, ErrorCode>> = {}
  getDelayMs = 0

  constructor(readonly inner: DataNode) {}

  get nodeId(): string {
    return this.inner.nodeId
  }
  get address(): string {
    return this.inner.address
  }

  async put(id: ChunkId, data: Buffer, sha256: string, hint?: PutHint): Promise<void> {
    this.#enter('put')
    return this.inner.put(id, data, sha256, hint)
  }
  async get(id: ChunkId, hint?: GetHint): Promise<Buffer> {
    this.#enter('get')
    if (this.getDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.getDelayMs))
    return this.inner.get(id, hint)
  }
  async has(id: ChunkId): Promise<boolean> {
    this.#enter('has')
    return this.inner.has(id)
  }
  async delete(id: ChunkId): Promise<void> {
    this.#enter('delete')
    return this.inner.delete(id)
  }
  async list(): Promise<ChunkId[]> {
    this.#enter('list')
    return this.inner.list()
  }
  async usage(): Promise<NodeUsage> {
    this.#enter('usage')
    return this.inner.usage()
  }
  async sync(ids: ChunkId[]): Promise<void> {
    this.#enter('sync')
    this.syncedIds.push([...ids])
    return this.inner.sync(ids)
  }
  async ping(): Promise<void> {
    this.#enter('ping')
    return this.inner.ping()
  }
  async close(): Promise<void> {
    return this.inner.close()
  }

  #enter(op: Op): void {
    this.calls[op] += 1
    const code = this.failures[op]
    if (code) throw dfsError(code, `injected ${code} on ${op}`, { node: this.address })
  }
}

export interface TestCluster {
  dirs: string[]
  nodes: FaultyNode[]
  registry: NodeRegistry
  store: ChunkStore
  badReplicas: Array<{ ref: ChunkRef; nodeId: string; reason: DfsError }>
  /** Path of a chunk's file on node i. */
  chunkPath(i: number, id: ChunkId): string
  /** Index of the node with this id. */
  indexOf(nodeId: string): number
  cleanup(): Promise<void>
}

export async function makeCluster(
  size: number,
  options: Partial<Omit<ChunkStoreOptions, 'registry'>> & { retryAfterMs?: number; now?: () => number } = {},
): Promise<TestCluster> {
  const opened = await openNodeFolders(size, 'test-cluster')
  const dirs = opened.dirs
  const nodes = opened.nodes.map((node) => new FaultyNode(node))
  const registry = new NodeRegistry({ retryAfterMs: options.retryAfterMs, now: options.now })
  for (const node of nodes) registry.add(node)
  const badReplicas: TestCluster['badReplicas'] = []
  const store = new ChunkStore({
    replicas: 2,
    cacheBytes: 0,
    ...options,
    registry,
    onBadReplica: (ref, nodeId, reason) => badReplicas.push({ ref, nodeId, reason }),
  })
  return {
    dirs,
    nodes,
    registry,
    store,
    badReplicas,
    chunkPath: (i, id) => chunkPath(dirs[i]!, id),
    indexOf: (nodeId) => nodes.findIndex((node) => node.nodeId === nodeId),
    cleanup: async () => {
      await registry.close()
      await releaseNodeFolders(dirs)
    },
  }
}
