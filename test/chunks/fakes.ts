// Test doubles for the chunk layer: a wrapper that counts calls to a real DataNode and injects the
// failures a test asks for, and a small cluster of local-folder nodes in temp folders.

import { lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import type { ChunkId, DataNode, NodeUsage, PutHint } from '../../src/datanode/DataNode.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { ChunkStore, type ChunkStoreOptions } from '../../src/chunks/ChunkStore.js'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { NodeRegistry } from '../../src/chunks/NodeRegistry.js'
import { dfsError, type DfsError, type ErrorCode } from '../../src/errors.js'
import { CHUNK_SUBFOLDERS, CHUNKS_DIR, IDENTITY_FILE } from '../../src/datanode/identity.js'
import { TempDirs } from '../datanode/tempDirs.js'

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
  async get(id: ChunkId): Promise<Buffer> {
    this.#enter('get')
    if (this.getDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.getDelayMs))
    return this.inner.get(id)
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
  const dirs = await Promise.all(Array.from({ length: size }, () => freshNodeFolder()))
  const nodes: FaultyNode[] = []
  const registry = new NodeRegistry({ retryAfterMs: options.retryAfterMs, now: options.now })
  for (const dir of dirs) {
    const node = new FaultyNode(await LocalFolderNode.open(dir, { clusterId: 'test-cluster', create: true }))
    if (!asMade.has(dir)) asMade.set(dir, await snapshot(dir))
    nodes.push(node)
    registry.add(node)
  }
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
    chunkPath: (i, id) => join(dirs[i], 'chunks', id.slice(0, 2), id),
    indexOf: (nodeId) => nodes.findIndex((node) => node.nodeId === nodeId),
    cleanup: async () => {
      await registry.close()
      await Promise.all(dirs.map((dir) => returnNodeFolder(dir)))
    },
  }
}

// ---- node folders, reused within a test file ----------------------------------------------------
//
// A new node folder costs 256 mkdirs and two fsyncs, and removing it as many rmdirs: most of a
// ChunkStore test's time. A cluster's cleanup empties its folders back to what the first
// LocalFolderNode.open made of them (the identity file, the 256 empty chunk subfolders, the same
// modes) and keeps them for the next cluster; a folder that is anything else is removed instead.
// The next cluster opens the folder with a new LocalFolderNode, as a remount would: nothing of the
// last test's node, store or registry is carried over, only the node id.

const temp = new TempDirs()
let folderRoot: Promise<string> | undefined
let folderCount = 0
/** Folders emptied back to how they were made, for the next cluster. */
const spare: string[] = []
/** What a folder held right after its first open (its identity file, the modes of its folders). */
interface FolderAsMade {
  identity: Buffer
  modes: Map<string, number>
}
const asMade = new Map<string, FolderAsMade>()

async function freshNodeFolder(): Promise<string> {
  const reused = spare.pop()
  if (reused) return reused
  folderRoot ??= temp.make('dfs-chunks-')
  const dir = join(await folderRoot, `node_${++folderCount}`)
  await mkdir(dir)
  return dir
}

async function snapshot(dir: string): Promise<FolderAsMade> {
  const modes = new Map(await Promise.all(folderDirs(dir).map(async (path) => [path, (await lstat(path)).mode] as const)))
  return { identity: await readFile(join(dir, IDENTITY_FILE)), modes }
}

/** The folder, emptied back to how it was made, into the spare list; or removed. */
async function returnNodeFolder(dir: string): Promise<void> {
  const made = asMade.get(dir)
  try {
    if (made && (await emptiedAsMade(dir, made))) {
      spare.push(dir)
      return
    }
  } catch {
    // anything missing or unreadable: not a folder to keep
  }
  asMade.delete(dir)
  await rm(dir, { recursive: true, force: true })
}

const folderDirs = (dir: string) => [dir, join(dir, CHUNKS_DIR), ...CHUNK_SUBFOLDERS.map((sub) => join(dir, CHUNKS_DIR, sub))]

/** Remove every chunk file; true if the folder is then exactly as made. */
async function emptiedAsMade(dir: string, made: FolderAsMade): Promise<boolean> {
  const same = (names: string[], expected: readonly string[]) => names.length === expected.length && [...names].sort().join('/') === [...expected].sort().join('/')
  if (!same(await readdir(dir), [IDENTITY_FILE, CHUNKS_DIR])) return false
  if (!same(await readdir(join(dir, CHUNKS_DIR)), CHUNK_SUBFOLDERS)) return false
  await Promise.all(CHUNK_SUBFOLDERS.map(async (sub) => {
    const path = join(dir, CHUNKS_DIR, sub)
    for (const entry of await readdir(path, { withFileTypes: true })) {
      // Chunk files (and a put's temp file); a folder here is no node's doing: drop it as well.
      await rm(join(path, entry.name), { recursive: true, force: true })
    }
  }))
  if (!(await readFile(join(dir, IDENTITY_FILE))).equals(made.identity)) return false
  const modes = await Promise.all(folderDirs(dir).map(async (path) => [path, await lstat(path)] as const))
  return modes.every(([path, info]) => info.isDirectory() && made.modes.get(path) === info.mode)
}

afterAll(async () => {
  spare.length = 0
  asMade.clear()
  await temp.cleanup()
})
