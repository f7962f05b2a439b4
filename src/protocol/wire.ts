// The NameNode protocol on the wire (docs/protocol.md, "NameNode protocol"): over one TCP connection,
// messages as 4-byte big-endian length + UTF-8 JSON. A handshake proves both ends hold the cluster
// secret (HMAC-SHA256 over a challenge and a nonce, labelled apart from the DataNode protocol's, so
// no answer from one can be replayed to the other); then the client sends requests and the NameNode
// sends replies, journal records and node lists, in the order it produced them.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Socket } from 'node:net'
import { type DfsError, dfsError } from '../errors.js'

export const NAMENODE_PROTOCOL_VERSION = 1
/** Largest message a NameNode accepts before the client has authenticated. */
export const HANDSHAKE_MAX_BYTES = 4096
/** Largest message a NameNode takes from an authenticated client. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024
/** Largest message a client takes from its NameNode: one inode of a huge file is one piece. */
export const MAX_PUSH_BYTES = 1024 * 1024 * 1024

const CLIENT_LABEL = Buffer.from('dfs-namenode/1 client')
const SERVER_LABEL = Buffer.from('dfs-namenode/1 server')

export const newChallenge = () => randomBytes(32).toString('base64')
export const newNonce = () => randomBytes(32).toString('base64')

export function clientProof(secret: Buffer, challenge: string, nonce: string): string {
  return createHmac('sha256', secret).update(CLIENT_LABEL).update(challenge).update(nonce).digest('base64')
}

export function serverProof(secret: Buffer, challenge: string, nonce: string): string {
  return createHmac('sha256', secret).update(SERVER_LABEL).update(nonce).update(challenge).digest('base64')
}

export function proofMatches(received: unknown, expected: string): boolean {
  if (typeof received !== 'string') return false
  const a = Buffer.from(received)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** A node as the NameNode tells clients about it: where to reach it and whether to write to it. */
export interface NodeInfo {
  nodeId: string
  address: string
  health: 'alive' | 'suspect' | 'dead'
  full: boolean
  draining: boolean
  /** Bytes free, for placement weights. */
  available?: number
}

// ---- messages -------------------------------------------------------------------------------------

/** server -> client, first. */
export interface HelloMessage { t: 'hello'; version: number; challenge: string }
/**
 * client -> server. `client` is a random id the mount keeps across reconnects (its open inodes follow in a `reopen` request).
 * `tool`: a short-lived command (`dfs status | balance | drain | fsck --namenode`), not a mount: it
 * gets no session, no snapshot, no records and no node lists, and may send only `control` requests.
 */
export interface AuthMessage {
  t: 'auth'; version: number; nonce: string; proof: string; client: string; tool?: boolean
  /** A standby NameNode (`dfs namenode --standby-of`), not a mount: where its own journal ends, and the cluster its folder follows (if any yet). */
  standby?: { lastSeq: number; clusterId?: string }
  /** A mount that takes the sole writer's lease (src/namenode/soleLease.ts): answers may carry `l`, and `revoke` may come. */
  leases?: true
}
/** server -> client: welcome, then (not to a tool) a snapshot of the namespace follows in `snap` messages. */
export interface WelcomeMessage {
  t: 'welcome'; proof: string; clusterId: string; chunkSize: number; replicas: number; instance: string
  /**
   * The journal seq this NameNode's history was durable up to when it started (its replayed
   * journal: after a restart its own, after a promotion the standby's). A client's commit another
   * instance answered with a seq above it may be lost. Absent from a NameNode before it existed.
   */
  startSeq?: number
  /**
   * The history of journal seqs it serves (src/namenode/history.ts): the same id after a clean
   * restart; after any other start a new id, forked from `parent` at `forkSeq`.
   */
  history?: { id: string; parent?: string; forkSeq?: number }
  /**
   * It takes creates answered ahead (docs/protocol.md, "Creates answered ahead"): a `commit` of a
   * `mknod` may carry `ino` and `ahead`. Absent from a NameNode before it existed: a client then
   * waits for every create's answer.
   */
  createsAhead?: boolean
}
/** server -> client: pieces of the namespace's checkpoint form; the last has `done`. */
export interface SnapshotMessage { t: 'snap'; pieces: unknown[]; done: boolean }
/** server -> client: a journal record committed at the NameNode (by any client or by the NameNode itself); `s`, its seq, goes to a standby. */
export interface RecordMessage { t: 'rec'; r: unknown; s?: number }
/**
 * server -> standby, after the welcome: the primary's format.json and fencing claim, and the seq
 * the snapshot that follows (in `snap` messages) was cut at. Records after it follow as `rec`.
 */
export interface FollowMessage {
  t: 'follow'; format: { format: number; clusterId: string; createdAt: string; settings: Record<string, unknown> }
  epoch?: { epoch: number; token: string }; seq: number
}
/** server -> standby: format.json's settings changed (nodes joined, a drain began). */
export interface SettingsMessage { t: 'settings'; settings: Record<string, unknown> }
/** standby -> server: every record up to seq is durable on the standby. */
export interface AckMessage { t: 'ack'; seq: number }
export interface NodesMessage { t: 'nodes'; nodes: NodeInfo[] }
/**
 * `n`: no reply wanted (the one-way requests: `closed`, `abandon`, `badCopy`, `clientReport`). The
 * NameNode sends none, not even for a failure (it logs that): the client would ignore it.
 */
export interface RequestMessage { t: 'req'; id: number; m: string; a?: Record<string, unknown>; n?: true }
/**
 * `seq`: on the answer to a `commit`, the journal seq of the record it made. `l`: this client holds
 * the sole writer's lease for `l` ms from when it sent the request (docs/protocol.md).
 */
export interface ReplyMessage { t: 'res'; id: number; ok: boolean; r?: unknown; seq?: number; e?: { code: string; message: string }; l?: number }
/** server -> client holding the sole writer's lease: give it up, then say `revoked` (a one-way request). */
export interface RevokeMessage { t: 'revoke' }
/** Either way: refused handshake or a fatal problem, then the connection closes. */
export interface ErrorMessage { t: 'error'; code: string; message: string }

export type Message =
  | HelloMessage | AuthMessage | WelcomeMessage | SnapshotMessage | RecordMessage | NodesMessage
  | RequestMessage | ReplyMessage | ErrorMessage | FollowMessage | SettingsMessage | AckMessage | RevokeMessage

// ---- framing ----------------------------------------------------------------------------------------

export function encodeMessage(message: Message): Buffer {
  return encodeRaw(JSON.stringify(message))
}

/** A message whose JSON the caller built (the snapshot, from pieces serialised one by one). */
export function encodeRaw(text: string): Buffer {
  // One buffer, the text encoded straight into it (no copy of the body: a snapshot message is 1 MiB).
  const length = Buffer.byteLength(text)
  const out = Buffer.allocUnsafe(4 + length)
  out.writeUInt32BE(length, 0)
  out.write(text, 4)
  return out
}

/**
 * Cut a byte stream into messages. `limit()` is asked for each message's size limit at the moment it
 * starts, so a peer cannot make us buffer more than it may send (less before authentication).
 */
export class MessageReader {
  private buffered: Buffer[] = []
  private length = 0

  constructor(private readonly limit: () => number) {}

  /** Messages complete so far; throws PROTOCOL_ERROR on a bad length or bad JSON. */
  push(data: Buffer): Message[] {
    this.buffered.push(data)
    this.length += data.length
    const out: Message[] = []
    for (;;) {
      if (this.length < 4) return out
      const all = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered)
      this.buffered = [all]
      const size = all.readUInt32BE(0)
      if (size > this.limit()) throw dfsError('PROTOCOL_ERROR', `a ${size}-byte message is over the ${this.limit()}-byte limit`, { size })
      if (all.length < 4 + size) return out
      const body = all.subarray(4, 4 + size)
      const rest = all.subarray(4 + size)
      this.buffered = rest.length > 0 ? [rest] : []
      this.length = rest.length
      let message: unknown
      try {
        message = JSON.parse(body.toString('utf8'))
      } catch {
        throw dfsError('PROTOCOL_ERROR', 'a message is not JSON', {})
      }
      if (typeof message !== 'object' || message === null || typeof (message as { t?: unknown }).t !== 'string') {
        throw dfsError('PROTOCOL_ERROR', 'a message has no type', {})
      }
      out.push(message as Message)
    }
  }
}

/**
 * What a framing error before the welcome means: the peer at address speaks another protocol (a
 * DataNode's port, say), so "a message is not JSON" would name the symptom, not the mistake.
 */
export function notANameNode(address: string, err: unknown): DfsError {
  return dfsError('NAMENODE_UNAVAILABLE', `${address} is not a dfs NameNode: it answered in another protocol (${(err as Error).message}); check the address (is it a DataNode's port?)`, { address }, err)
}

/** Write a message; false when the socket's buffer is full (the caller may wait for 'drain'). */
export function send(socket: Socket, message: Message): boolean {
  if (socket.destroyed) return false
  return socket.write(encodeMessage(message))
}

const corked = new WeakSet<Socket>()

/**
 * Write a message (or one encodeMessage made, to send one encoding to many sockets) together with
 * everything else written to the socket by the code running now: the batch goes out in one system
 * call once it and the promise callbacks it queued have run (a microtask), so a record and the
 * answer that follows it are one segment and one wake-up of the peer, not two (Nagle is off on both
 * ends, so every write would otherwise be its own segment). Order on the socket is kept: writes
 * made with send() meanwhile join the same batch in their place.
 */
export function sendSoon(socket: Socket, message: Message | Buffer): void {
  if (socket.destroyed) return
  if (!corked.has(socket)) {
    corked.add(socket)
    socket.cork()
    queueMicrotask(() => {
      corked.delete(socket)
      socket.uncork()
    })
  }
  socket.write(Buffer.isBuffer(message) ? message : encodeMessage(message))
}
