// A small real cluster for healer and scrubber tests: local-folder nodes in temp folders behind a real
// NodeRegistry and ChunkStore, and a real MetaStore over the namespace machine, so fsck() from
// src/cluster/fsck.ts can check the result. No FUSE: files are built with namespace records.

import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { ChunkStore } from '../../src/chunks/ChunkStore.js'
import { NodeRegistry } from '../../src/chunks/NodeRegistry.js'
import { sha256 } from '../../src/chunks/verify.js'
import type { Cluster, NamespaceMetaStore } from '../../src/cluster/openCluster.js'
import type { HealerMeta } from '../../src/cluster/healer/Healer.js'
import type { NamespaceRecord } from '../../src/meta/namespace/records.js'
import { newChunkId } from '../../src/datanode/chunkId.js'
import type { ChunkId, DataNode, NodeUsage } from '../../src/datanode/DataNode.js'
import type { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { dfsError, type ErrorCode } from '../../src/errors.js'
import { MetaStore } from '../../src/meta/MetaStore.js'
import { namespaceMachine } from '../../src/meta/namespace/machine.js'
import { ROOT_INO, S_IFREG } from '../../src/meta/namespace/types.js'
import { TempDirs } from '../datanode/tempDirs.js'
import { openNodeFolders, releaseNodeFolders } from '../helpers/nodeFolders.js'
import { sha256Of } from '../helpers/sha256.js'

/** A DataNode wrapper whose puts can be held at a gate (before or after the bytes land) and are logged. */
export class GatedNode implements DataNode {
  readonly puts: ChunkId[] = []
  /** Puts waiting at the gate now. */
  waiting = 0
  /** Fail every put with this code (e.g. NODE_UNAVAILABLE), as a broken node would. */
  failPuts: ErrorCode | undefined
  #gate: { promise: Promise<void>; after: boolean } | undefined

  constructor(readonly inner: LocalFolderNode) {}

  get nodeId(): string {
    return this.inner.nodeId
  }
  get address(): string {
    return this.inner.address
  }

  /** Hold every put from now on until the returned function is called. */
  holdPuts(options: { after?: boolean } = {}): () => void {
    let release!: () => void
    const promise = new Promise<void>((resolve) => (release = resolve))
    this.#gate = { promise, after: options.after ?? false }
    return () => {
      this.#gate = undefined
      release()
    }
  }

  async put(id: ChunkId, data: Buffer, sha256: string): Promise<void> {
    if (this.failPuts) throw dfsError(this.failPuts, `injected ${this.failPuts} on put`, { node: this.address })
    const gate = this.#gate
    const wait = async () => {
      this.waiting++
      await gate!.promise
      this.waiting--
    }
    if (gate && !gate.after) await wait()
    await this.inner.put(id, data, sha256)
    this.puts.push(id)
    if (gate?.after) await wait()
  }
  get(id: ChunkId): Promise<Buffer> {
    return this.inner.get(id)
  }
  has(id: ChunkId): Promise<boolean> {
    return this.inner.has(id)
  }
  delete(id: ChunkId): Promise<void> {
    return this.inner.delete(id)
  }
  list(): Promise<ChunkId[]> {
    return this.inner.list()
  }
  usage(): Promise<NodeUsage> {
    return this.inner.usage()
  }
  sync(ids: ChunkId[]): Promise<void> {
    return this.inner.sync(ids)
  }
  ping(): Promise<void> {
    return this.inner.ping()
  }
  close(): Promise<void> {
    return this.inner.close()
  }
}

export interface HealCluster {
  dirs: string[]
  nodes: GatedNode[]
  registry: NodeRegistry
  chunks: ChunkStore
  meta: NamespaceMetaStore
  /** For fsck(). */
  cluster: Cluster
  replicas: number
  /** Everything the healer and scrubber logged. */
  logs: string[]
  log: (message: string) => void
  /** Create a file whose chunks are stored on the given node indexes (default: through the ChunkStore). */
  addFile(name: string, data: Buffer[], placement?: number[][]): Promise<number>
  /** Store bytes on exactly these nodes and return the ref (not yet referenced by any file). */
  storeOn(data: Buffer, nodeIndexes: number[]): Promise<ChunkRef>
  ref(ino: number, index: number): ChunkRef
  /** Indexes of the nodes whose folder holds a file for the chunk. */
  holders(id: ChunkId): number[]
  chunkPath(i: number, id: ChunkId): string
  indexOf(nodeId: string): number
  flipByte(i: number, id: ChunkId, offset?: number): Promise<void>
  cleanup(): Promise<void>
}

export async function makeHealCluster(options: { nodes: number; replicas: number }): Promise<HealCluster> {
  const temp = new TempDirs()
  const root = await temp.make('dfs-heal-')
  const opened = await openNodeFolders(options.nodes, 'heal-test')
  const dirs = opened.dirs
  const nodes = opened.nodes.map((node) => new GatedNode(node))
  const registry = new NodeRegistry()
  for (const node of nodes) registry.add(node)
  const chunks = new ChunkStore({ registry, replicas: options.replicas, cacheBytes: 0 })
  const settings = {
    chunkSize: 64 * 1024,
    replicas: options.replicas,
    createdAt: Date.now(),
    nodes: nodes.map((n, i) => ({ nodeId: n.nodeId, address: dirs[i] })),
  }
  const metaDir = join(root, 'meta')
  const meta: NamespaceMetaStore = await MetaStore.open(metaDir, namespaceMachine({ uid: 0, gid: 0, createdAt: settings.createdAt }), {
    create: { settings: { ...settings } },
    flushIntervalMs: 50,
  })
  const cluster: Cluster = {
    metaDir, settings, unavailable: [], meta, registry, chunks,
    superseded: new Promise(() => {}),
    confirmClaim: async () => {},
    capacity: async () => ({ total: 0, available: 0 }),
    close: async () => {},
  }
  const logs: string[] = []
  const chunkPath = (i: number, id: ChunkId) => join(dirs[i], 'chunks', id.slice(0, 2), id)

  const storeOn = async (data: Buffer, nodeIndexes: number[]): Promise<ChunkRef> => {
    const id = newChunkId()
    // Being written, as ChunkStore.write marks its own chunks: a healer running beside the test must
    // not collect it as an orphan (some tests give orphans 150 ms) before the caller records it.
    const written = chunks.holdWriting([id])
    try {
      for (const i of nodeIndexes) {
        await nodes[i].inner.put(id, data, sha256Of(data))
        await nodes[i].inner.sync([id])
      }
      return { id, len: data.length, sha256: await sha256(data), nodes: nodeIndexes.map((i) => nodes[i].nodeId) }
    } finally {
      written()
    }
  }

  return {
    dirs, nodes, registry, chunks, meta, cluster, replicas: options.replicas, logs,
    log: (message) => logs.push(message),
    storeOn,
    async addFile(name, data, placement) {
      const inode = meta.commit({ op: 'mknod', parent: ROOT_INO, name, mode: S_IFREG | 0o644, uid: 0, gid: 0, time: Date.now() }) as { ino: number }
      let size = 0
      for (const [index, bytes] of data.entries()) {
        const ref = placement ? await storeOn(bytes, placement[index]) : await chunks.write(bytes)
        // Still being written until recorded: the sync is slow on a loaded machine, and an orphan
        // sweep meanwhile would find the chunk unreferenced (a suite run once lost it so).
        const recorded = chunks.holdWriting([ref.id])
        try {
          if (!placement) await chunks.sync([ref])
          size += bytes.length
          meta.commit({ op: 'chunk', ino: inode.ino, index, ref, size, mtime: Date.now(), ctime: Date.now() })
        } finally {
          recorded()
        }
      }
      await meta.sync()
      return inode.ino
    },
    ref(ino, index) {
      const ref = meta.state.inodes.get(ino)?.chunks?.[index]
      if (!ref) throw new Error(`no chunk ${index} in inode ${ino}`)
      return ref
    },
    holders: (id) => dirs.flatMap((_, i) => (existsSync(chunkPath(i, id)) ? [i] : [])),
    chunkPath,
    indexOf: (nodeId) => nodes.findIndex((n) => n.nodeId === nodeId),
    async flipByte(i, id, offset = 100) {
      const path = chunkPath(i, id)
      const bytes = await readFile(path)
      bytes[offset % bytes.length] ^= 0xff
      await writeFile(path, bytes)
    },
    async cleanup() {
      await meta.close().catch(() => {})
      await registry.close()
      await releaseNodeFolders(dirs)
      await temp.cleanup()
    },
  }
}

export const randomChunk = (len: number): Buffer => randomBytes(len)

/** Poll until what() holds. */
export async function until(what: () => boolean | Promise<boolean>, ms = 30_000, message = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${message}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A MetaStore view that records every record the healer commits. */
export function recording(c: HealCluster): { meta: HealerMeta; records: NamespaceRecord[] } {
  const records: NamespaceRecord[] = []
  const meta: HealerMeta = {
    get state() {
      return c.meta.state
    },
    commit(record) {
      const result = c.meta.commit(record)
      records.push(record)
      return result
    },
    sync: () => c.meta.sync(),
  }
  return { meta, records }
}
