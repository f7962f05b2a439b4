// In-memory stand-ins for the journaled store and the chunk store, so the file system core can be
// tested with plain function calls. They keep the real contracts: the store applies records through
// the real namespace machine; chunks are immutable, content-checked and can be made to fail.

import { createHash, randomBytes } from 'node:crypto'
import { dfsError } from '../../src/errors.js'
import { FileSystem } from '../../src/fs/FileSystem.js'
import type { ChunkIO } from '../../src/fs/ports.js'
import type { Layout } from '../../src/chunks/layout.js'
import { NameNode, type NamespaceLog } from '../../src/namenode/NameNode.js'
import { InProcessSession } from '../../src/protocol/InProcessSession.js'
import type { ApplyResult } from '../../src/meta/namespace/apply.js'
import { namespaceMachine } from '../../src/meta/namespace/machine.js'
import type { NamespaceRecord } from '../../src/meta/namespace/records.js'
import type { ChunkRef, NamespaceState } from '../../src/meta/namespace/types.js'

export class MemoryStore implements NamespaceLog {
  readonly machine = namespaceMachine({ uid: 0, gid: 0, createdAt: 0 })
  state: NamespaceState = this.machine.empty()
  readonly records: NamespaceRecord[] = []
  private pending: (() => void)[] = []

  commit(record: NamespaceRecord): ApplyResult {
    const result = this.machine.apply(this.state, record)
    this.records.push(structuredClone(record))
    return result
  }

  get lastSeq(): number {
    return this.records.length
  }

  async sync(): Promise<void> {
    const pending = this.pending
    this.pending = []
    for (const fn of pending) fn()
  }

  afterDurable(fn: () => void): void {
    this.pending.push(fn)
  }

  /** The state replay of the journal would rebuild. */
  replayed(): NamespaceState {
    const state = this.machine.empty()
    for (const record of this.records) this.machine.apply(state, record)
    return state
  }
}

export class MemoryChunks implements ChunkIO {
  readonly stored = new Map<string, Buffer>()
  readonly synced = new Set<string>()
  failWrites: Error | null = null
  writes = 0
  /** While set, reads wait for it: a test decides when a chunk's bytes arrive from the nodes. */
  readGate: Promise<void> | null = null
  /** Chunks stored with bytes other than the ones hashed (must stay empty). */
  readonly mismatches: string[] = []
  /** The layout each write asked for, in order (undefined: the cluster's R copies). */
  readonly layouts: (Layout | undefined)[] = []

  /**
   * As the real store does: hash the bytes first, then put them some turns of the event loop later
   * (the nodes take their time). A caller that changes the bytes in between is caught by read().
   */
  async write(data: Buffer, layout?: Layout): Promise<ChunkRef> {
    const sha256 = createHash('sha256').update(data).digest('hex')
    await new Promise(resolve => setImmediate(resolve))
    if (this.failWrites) throw this.failWrites
    this.writes++
    this.layouts.push(layout)
    const id = randomBytes(16).toString('hex')
    this.stored.set(id, Buffer.from(data))
    if (createHash('sha256').update(data).digest('hex') !== sha256) this.mismatches.push(id)
    return { id, len: data.length, sha256, ...refLayout(layout) }
  }

  /** Verified, as the real store reads: CHUNK_CORRUPT when the bytes are not the ones hashed. */
  async read(ref: ChunkRef): Promise<Buffer> {
    await Promise.resolve()
    if (this.readGate) await this.readGate
    const data = this.stored.get(ref.id)
    if (!data) throw dfsError('CHUNK_UNREADABLE', `chunk ${ref.id} is gone`, {})
    if (createHash('sha256').update(data).digest('hex') !== ref.sha256) {
      throw dfsError('CHUNK_CORRUPT', `chunk ${ref.id} fails its SHA-256 check`, {})
    }
    return data
  }

  async readInto(ref: ChunkRef, from: number, out: Uint8Array, at: number, length: number): Promise<number> {
    const data = await this.read(ref)
    const end = Math.min(data.length, from + length)
    if (end <= from) return 0
    out.set(data.subarray(from, end), at)
    return end - from
  }

  prefetch(): void {}

  /** Buffers the file system let go of (release). */
  released = 0

  /**
   * Harsher than the real store, which may recycle the memory only once the chunk leaves its cache:
   * scribbled over at once, so a file system that still read bytes it let go of reads garbage.
   */
  release(_ref: ChunkRef, data: Buffer): void {
    this.released++
    data.fill(0xa5)
  }

  async sync(refs: ChunkRef[]): Promise<void> {
    for (const ref of refs) {
      if (!this.stored.has(ref.id)) throw dfsError('NODE_UNAVAILABLE', `chunk ${ref.id} is not on any node to sync`, {})
      this.synced.add(ref.id)
    }
  }

  async delete(ids: string[]): Promise<void> {
    for (const id of ids) this.stored.delete(id)
  }
}

/**
 * Where a ref of that layout says its bytes are, in the form the real store records (the bytes
 * themselves stay whole in `stored`: these fakes test the file system core, not the codec).
 */
function refLayout(layout?: Layout): Pick<ChunkRef, 'nodes' | 'copies' | 'ec'> {
  if (layout?.kind === 'ec') {
    const shards = Array.from({ length: layout.k + layout.m }, (_, i) => ({
      id: randomBytes(16).toString('hex'), len: 8, sha256: '0'.repeat(64), nodes: [`n${i + 1}`],
    }))
    return { nodes: [], ec: { k: layout.k, m: layout.m, shards } }
  }
  if (layout) return { nodes: Array.from({ length: layout.copies }, (_, i) => `n${i + 1}`), copies: layout.copies }
  return { nodes: ['n1', 'n2'] }
}

export const CHUNK = 64 * 1024

/** `nodes`: the DataNodes the NameNode counts (a storage policy wider is refused); absent: not checked. */
export function makeFs(opts: { dirtyLimit?: number; nodes?: number } = {}) {
  const meta = new MemoryStore()
  const chunks = new MemoryChunks()
  const logs: string[] = []
  const nodes = opts.nodes
  const nameNode = new NameNode({
    meta, replicas: 2, deleteChunks: ids => chunks.delete(ids), log: m => logs.push(m), ...(nodes === undefined ? {} : { nodeCount: () => nodes }),
  })
  nameNode.start(0)
  const session = new InProcessSession(
    nameNode, { clusterId: 'test', chunkSize: CHUNK, replicas: 2 }, async () => ({ total: 1 << 30, available: 1 << 29 }),
  )
  const fs = new FileSystem({
    meta: session, chunks, chunkSize: CHUNK, dirtyLimit: opts.dirtyLimit ?? 64 * CHUNK,
    owner: { uid: 0, gid: 0 }, log: m => logs.push(m),
  })
  return { fs, meta, chunks, logs, nameNode, session }
}

/**
 * Several clients of one NameNode, as mounts on several machines are: each its own FileSystem (open
 * files, buffers) and session, all over one journal and one set of chunks.
 */
export function makeClients(count: number, opts: { dirtyLimit?: number } = {}) {
  const meta = new MemoryStore()
  const chunks = new MemoryChunks()
  const logs: string[] = []
  const nameNode = new NameNode({ meta, replicas: 2, deleteChunks: ids => chunks.delete(ids), log: m => logs.push(m) })
  nameNode.start(0)
  const clients = Array.from({ length: count }, () => {
    const session = new InProcessSession(
      nameNode, { clusterId: 'test', chunkSize: CHUNK, replicas: 2 }, async () => ({ total: 1 << 30, available: 1 << 29 }),
    )
    const fs = new FileSystem({
      meta: session, chunks, chunkSize: CHUNK, dirtyLimit: opts.dirtyLimit ?? 64 * CHUNK,
      owner: { uid: 0, gid: 0 }, log: m => logs.push(m),
    })
    return { fs, session }
  })
  return { clients, meta, chunks, logs, nameNode }
}

/** Read a whole file through a fresh handle. */
export async function readAll(fs: FileSystem, path: string): Promise<Buffer> {
  const { size } = await fs.getattr(path)
  const fh = await fs.open(path)
  const out = Buffer.alloc(size)
  let at = 0
  while (at < size) {
    const n = await fs.read(fh, out.subarray(at, Math.min(size, at + 100_000)), at)
    if (n === 0) break
    at += n
  }
  await fs.release(fh)
  return out
}

export async function writeFile(fs: FileSystem, path: string, data: Buffer, step = 128 * 1024): Promise<void> {
  const fh = await fs.create(path, 0o644)
  for (let at = 0; at < data.length; at += step) await fs.write(fh, data.subarray(at, at + step), at)
  await fs.flush(fh)
  await fs.release(fh)
}
