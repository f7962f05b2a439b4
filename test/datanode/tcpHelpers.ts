// Helpers for the TCP DataNode tests: servers on ephemeral ports in temp folders, a raw socket that
// speaks frames byte by byte (for the bad-input and fuzz tests), and a listing of what is on disk
// around a node folder.
//
//   const servers = new TestServers()          // afterEach(() => servers.cleanup())
//   const s = await servers.start()            // { server, dir, parent, url }
//   const raw = await RawClient.connect(s.server.port); await raw.authenticate(SECRET, CLUSTER)

import { randomBytes } from 'node:crypto'
import { mkdir, readdir, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { DataNodeServer, type DataNodeServerOptions } from '../../src/datanode/tcp/DataNodeServer.js'
import { type Frame, FrameDecoder, encodeFrame, type FrameHeader, FLAG_REPLY } from '../../src/datanode/tcp/frame.js'
import { clientProof, encodeAuth, MAX_FRAME, Op, PROTOCOL_VERSION } from '../../src/datanode/tcp/protocol.js'
import { TcpDataNode, type TcpDataNodeOptions } from '../../src/datanode/tcp/TcpDataNode.js'
import { TempDirs } from './tempDirs.js'

export const SECRET = 'test secret: correct horse battery staple'
export const CLUSTER = 'cluster-tcp-test'
/** How long a test waits for something that should happen: generous, since a busy machine is slow, not wrong. */
export const EVENTUALLY_MS = 30_000

export interface StartedServer {
  server: DataNodeServer
  /** The node folder. */
  dir: string
  /** The temp folder holding it (and nothing else the server may touch). */
  parent: string
  url: string
}

/** Servers, clients and folders a test made; cleanup() closes and removes them all. */
export class TestServers {
  readonly temp = new TempDirs()
  readonly #servers: DataNodeServer[] = []
  readonly #clients: Array<{ close(): unknown }> = []

  async start(options: Partial<DataNodeServerOptions> = {}): Promise<StartedServer> {
    let dir = options.dir
    let parent: string
    if (dir === undefined) {
      parent = await this.temp.make('dfs-tcp-')
      dir = join(parent, 'node_1')
      await mkdir(dir)
    } else {
      parent = join(dir, '..')
    }
    const server = await DataNodeServer.start({ listen: '127.0.0.1:0', secret: SECRET, clusterId: CLUSTER, ...options, dir })
    this.#servers.push(server)
    return { server, dir, parent, url: `tcp://127.0.0.1:${server.port}` }
  }

  async connect(url: string, options: Partial<TcpDataNodeOptions> = {}): Promise<TcpDataNode> {
    const node = await TcpDataNode.connect(url, { secret: SECRET, clusterId: CLUSTER, ...options })
    this.#clients.push(node)
    return node
  }

  /** Remember something with a close() to call in cleanup (a raw client, a fake server). */
  own<T extends { close(): unknown }>(thing: T): T {
    this.#clients.push(thing)
    return thing
  }

  /** Close every client and stand-in this test made (servers stay up). */
  async cleanupClients(): Promise<void> {
    for (const client of this.#clients.splice(0)) await Promise.resolve(client.close()).catch(() => {})
  }

  async cleanup(): Promise<void> {
    await this.cleanupClients()
    for (const server of this.#servers.splice(0)) await server.close().catch(() => {})
    await this.temp.cleanup()
  }
}

/** A socket that sends whatever bytes a test gives it and collects the frames that come back. */
export class RawClient {
  readonly socket: Socket
  readonly frames: Frame[] = []
  /** Bytes received that did not parse as frames (set when the stream broke). */
  broken = false
  readonly closed: Promise<void>
  #decoder = new FrameDecoder(MAX_FRAME)
  #waiters: Array<() => void> = []
  #isClosed = false
  #nextId = 1

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port })
      socket.once('connect', () => resolve(new RawClient(socket)))
      socket.once('error', reject)
    })
  }

  private constructor(socket: Socket) {
    this.socket = socket
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk)
      try {
        for (let f = this.#decoder.next(); f; f = this.#decoder.next()) this.frames.push(f)
      } catch {
        this.broken = true
      }
      this.#wake()
    })
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.#isClosed = true
        this.#wake()
        resolve()
      })
    })
  }

  get isClosed(): boolean {
    return this.#isClosed
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes)
  }

  /** Send one frame; returns its request id. */
  send(header: Partial<FrameHeader>, payload?: Buffer): number {
    const requestId = header.requestId ?? this.#nextId++
    this.write(encodeFrame({ version: PROTOCOL_VERSION, op: Op.PING, flags: 0, status: 0, ...header, requestId }, payload))
    return requestId
  }

  /**
   * Wait until pred holds for the frames received, or the socket closes, or timeoutMs passes. The
   * default is a generous "eventually" (a loaded machine is slow, not wrong); pass a short timeoutMs
   * only where not hearing back is an expected outcome.
   */
  async waitFor(pred: (frames: Frame[]) => boolean, timeoutMs = EVENTUALLY_MS): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!pred(this.frames)) {
      if (this.#isClosed) return pred(this.frames)
      const left = deadline - Date.now()
      if (left <= 0) return false
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    return true
  }

  /** The reply frames (so far) to a request id. */
  replies(requestId: number): Frame[] {
    return this.frames.filter((f) => f.requestId === requestId && (f.flags & FLAG_REPLY) !== 0)
  }

  async reply(requestId: number, timeoutMs = EVENTUALLY_MS): Promise<Frame | undefined> {
    await this.waitFor(() => this.replies(requestId).length > 0, timeoutMs)
    return this.replies(requestId)[0]
  }

  /** Wait for the server to close this connection; true if it did within timeoutMs. */
  async waitClosed(timeoutMs = EVENTUALLY_MS): Promise<boolean> {
    await this.waitFor(() => false, timeoutMs)
    return this.#isClosed
  }

  /** Do the client half of the handshake; resolves with the AUTH reply frame (or undefined). */
  async authenticate(secret: string | Buffer, clusterId = CLUSTER): Promise<Frame | undefined> {
    if (!(await this.waitFor((fs) => fs.some((f) => f.op === Op.HELLO)))) return undefined
    const hello = this.frames.find((f) => f.op === Op.HELLO)!
    const nonce = randomBytes(32)
    const key = typeof secret === 'string' ? Buffer.from(secret) : secret
    const auth = encodeAuth(nonce, clientProof(key, hello.payload, nonce), { clusterId, keepaliveMs: 1000 })
    this.send({ op: Op.AUTH, requestId: 0 }, auth)
    await this.waitFor((fs) => fs.some((f) => f.op === Op.AUTH))
    return this.frames.find((f) => f.op === Op.AUTH)
  }

  close(): void {
    this.socket.destroy()
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w()
  }
}

/**
 * Everything below parent, except what is inside the node folder, which must hold only the node's
 * own files: its identity, its claim (fencing), chunk subfolders, and chunk files named by valid ids (throws otherwise).
 */
export async function listingOutside(parent: string, nodeDir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(parent, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath ?? entry.path, entry.name)
    if (path === nodeDir || !path.startsWith(nodeDir + '/')) {
      out.push(`${path}${entry.isDirectory() ? '/' : ''}`)
      continue
    }
    const rel = path.slice(nodeDir.length + 1)
    const ok = rel === 'dfs-node.json' || rel === 'dfs-claim.json' || rel === 'chunks' || /^chunks\/[0-9a-f]{2}$/.test(rel) ||
      /^chunks\/([0-9a-f]{2})\/\1[0-9a-f]{30}$/.test(rel)
    if (!ok) throw new Error(`unexpected entry in the node folder: ${rel}`)
  }
  return out.sort()
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
