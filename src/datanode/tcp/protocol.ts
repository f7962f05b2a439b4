// The DataNode wire protocol, version 3: ops, status codes, limits, the handshake's proofs and the
// small payload codecs both ends share. docs/protocol.md describes it byte by byte; keep the two in step.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { dfsError, type ErrorCode } from '../../errors.js'
import type { ChunkId, NodeUsage } from '../DataNode.js'
import { CHUNK_ID_BYTES, HEADER_BYTES } from './frame.js'

/**
 * 2: a PUT carries the SHA-256 of its bytes (and a node refuses bytes that do not have it).
 * 3: CLAIM (fencing, datanode/claim.ts); a DELETE is served only on a connection holding the node's claim.
 */
export const PROTOCOL_VERSION = 3

export const Op = {
  /** server -> client, first frame: the challenge. */
  HELLO: 0x01,
  /** client -> server, answer to HELLO; the reply carries the server's proof and identity. */
  AUTH: 0x02,
  /** Either way, unsolicited, request id 0, no reply: "still here, still working". */
  KEEPALIVE: 0x03,
  PING: 0x10,
  PUT: 0x11,
  GET: 0x12,
  HAS: 0x13,
  DELETE: 0x14,
  LIST: 0x15,
  USAGE: 0x16,
  SYNC: 0x17,
  /** Take or refresh the NameNode epoch claim (JSON payload, datanode/claim.ts ClaimRequest). */
  CLAIM: 0x18,
} as const
export type OpCode = (typeof Op)[keyof typeof Op]

export const OP_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(Op).map(([name, code]) => [code, name]))

/** Ops a client may send once authenticated, and whether their frame names a chunk. */
export const REQUEST_OPS: ReadonlyMap<number, { chunk: boolean }> = new Map([
  [Op.PING, { chunk: false }],
  [Op.PUT, { chunk: true }],
  [Op.GET, { chunk: true }],
  [Op.HAS, { chunk: true }],
  [Op.DELETE, { chunk: true }],
  [Op.LIST, { chunk: false }],
  [Op.USAGE, { chunk: false }],
  [Op.SYNC, { chunk: false }],
  [Op.CLAIM, { chunk: false }],
])

/**
 * Reply status byte. 0 is success; the rest carry a dfs error code, with the message as the UTF-8
 * payload. BAD_REQUEST is the protocol's own: a well-framed request the server cannot make sense of.
 */
export const STATUS_CODES = [
  'OK',
  'BAD_REQUEST',
  'CHUNK_MISSING',
  'CHUNK_ID_INVALID',
  'CHUNK_CORRUPT',
  'NODE_UNAVAILABLE',
  'NODE_FULL',
  'META_FOREIGN',
  'META_TOO_NEW',
  'NODE_FOLDER_INVALID',
  'CHUNK_HASH_MISMATCH',
  'EPOCH_BEHIND',
  'EPOCH_HELD',
  'FENCED',
] as const
export type StatusName = (typeof STATUS_CODES)[number]
export const STATUS_OK = 0

export function statusOf(code: unknown): number {
  const index = (STATUS_CODES as readonly unknown[]).indexOf(code)
  // Anything else a node can throw means it cannot serve the request as asked.
  return index > 0 ? index : STATUS_CODES.indexOf('NODE_UNAVAILABLE')
}

/**
 * The dfs error code a client raises for a reply status: the same code the local transport throws.
 * A protocol error or a status this version does not know means the node cannot be used as it is.
 */
export function errorCodeOfStatus(status: number): ErrorCode {
  const name = STATUS_CODES[status]
  if (name === undefined || name === 'OK' || name === 'BAD_REQUEST') return 'NODE_UNAVAILABLE'
  return name
}

// --- limits ----------------------------------------------------------------------------------------

/** The largest payload: one chunk of the largest chunk size a cluster may have (MAX_CHUNK_SIZE). */
export const MAX_PAYLOAD = 256 * 1024 * 1024
/** Bytes of the raw SHA-256 that starts a PUT's payload, before the chunk's bytes. */
export const SHA256_BYTES = 32
/** The largest value of a frame's length prefix once authenticated (a PUT of the largest chunk). */
export const MAX_FRAME = HEADER_BYTES + SHA256_BYTES + MAX_PAYLOAD
/** The largest frame before authentication: the handshake frames are a few hundred bytes. */
export const HANDSHAKE_MAX_FRAME = 1024
/** Chunk ids per LIST reply frame (1 MiB of ids); more frames follow with FLAG_MORE. */
export const LIST_IDS_PER_FRAME = 65_536
/** Error messages on the wire are cut to this many characters. */
export const MAX_MESSAGE_CHARS = 1000

// --- chunk ids -------------------------------------------------------------------------------------

/** The 16 raw bytes of a chunk id (which must already be valid: 32 lowercase hex digits). */
export function chunkIdBytes(id: ChunkId): Buffer {
  return Buffer.from(id, 'hex')
}

/** The id named by a raw 16-byte field. Any 16 bytes name a well-formed id: no path can be spelt. */
export function chunkIdOf(raw: Buffer): ChunkId {
  return raw.toString('hex')
}

export function packChunkIds(ids: readonly ChunkId[]): Buffer {
  const out = Buffer.allocUnsafe(ids.length * CHUNK_ID_BYTES)
  ids.forEach((id, i) => out.write(id, i * CHUNK_ID_BYTES, CHUNK_ID_BYTES, 'hex'))
  return out
}

/** The ids in a payload of packed raw ids; undefined when its length is not a multiple of 16. */
export function unpackChunkIds(payload: Buffer): ChunkId[] | undefined {
  if (payload.length % CHUNK_ID_BYTES !== 0) return undefined
  const ids: ChunkId[] = []
  for (let at = 0; at < payload.length; at += CHUNK_ID_BYTES) ids.push(payload.toString('hex', at, at + CHUNK_ID_BYTES))
  return ids
}

// --- handshake -------------------------------------------------------------------------------------

export const CHALLENGE_BYTES = 32
export const NONCE_BYTES = 32
export const PROOF_BYTES = 32
/** Labels keep the two proofs apart, so neither side's answer can be replayed as the other's. */
const CLIENT_LABEL = Buffer.from('dfs-datanode/1 client')
const SERVER_LABEL = Buffer.from('dfs-datanode/1 server')

export function newChallenge(): Buffer {
  return randomBytes(CHALLENGE_BYTES)
}

/** What the client proves it holds the secret with: HMAC-SHA256(secret, label || challenge || nonce). */
export function clientProof(secret: Buffer, challenge: Buffer, nonce: Buffer): Buffer {
  return createHmac('sha256', secret).update(CLIENT_LABEL).update(challenge).update(nonce).digest()
}

/** The server's answer, so the client knows it too talks to a holder of the secret. */
export function serverProof(secret: Buffer, challenge: Buffer, nonce: Buffer): Buffer {
  return createHmac('sha256', secret).update(SERVER_LABEL).update(nonce).update(challenge).digest()
}

/** Constant-time comparison of a received proof with the expected one. */
export function proofMatches(received: Buffer, expected: Buffer): boolean {
  return received.length === expected.length && timingSafeEqual(received, expected)
}

/** The JSON after nonce and proof in AUTH. */
export interface AuthRequest {
  /** The cluster the client belongs to; empty when it does not care (tools). */
  clusterId: string
  /** How often the server should send KEEPALIVE while it works on this client's requests. */
  keepaliveMs: number
}

/** The JSON after the server's proof in the AUTH reply. */
export interface AuthReply {
  nodeId: string
  /** Empty while the node belongs to no cluster yet. */
  clusterId: string
  maxPayload: number
  /** Set with status META_FOREIGN. */
  message?: string
  /** The server takes FLAG_FRESH on PUT (servers before it refuse flags in requests). */
  freshPuts?: true
}

export function encodeAuth(nonce: Buffer, proof: Buffer, request: AuthRequest): Buffer {
  return Buffer.concat([nonce, proof, Buffer.from(JSON.stringify(request))])
}

export function decodeAuth(payload: Buffer): { nonce: Buffer; proof: Buffer; request: AuthRequest } | undefined {
  if (payload.length < NONCE_BYTES + PROOF_BYTES) return undefined
  const nonce = payload.subarray(0, NONCE_BYTES)
  const proof = payload.subarray(NONCE_BYTES, NONCE_BYTES + PROOF_BYTES)
  const json = parseJson(payload.subarray(NONCE_BYTES + PROOF_BYTES)) as Partial<AuthRequest> | undefined
  if (typeof json?.clusterId !== 'string' || json.clusterId.length > 200) return undefined
  const keepaliveMs = Number.isSafeInteger(json.keepaliveMs) ? json.keepaliveMs! : 1000
  return { nonce, proof, request: { clusterId: json.clusterId, keepaliveMs } }
}

export function decodeAuthReply(payload: Buffer): { proof: Buffer; reply: AuthReply } | undefined {
  if (payload.length < PROOF_BYTES) return undefined
  const json = parseJson(payload.subarray(PROOF_BYTES)) as Partial<AuthReply> | undefined
  if (typeof json?.nodeId !== 'string' || typeof json.clusterId !== 'string' || !Number.isSafeInteger(json.maxPayload)) return undefined
  const reply: AuthReply = { nodeId: json.nodeId, clusterId: json.clusterId, maxPayload: json.maxPayload! }
  if (typeof json.message === 'string') reply.message = json.message
  if (json.freshPuts === true) reply.freshPuts = true
  return { proof: payload.subarray(0, PROOF_BYTES), reply }
}

export function decodeUsage(payload: Buffer): NodeUsage | undefined {
  const json = parseJson(payload) as Partial<NodeUsage> | undefined
  const fields = ['capacity', 'available', 'used', 'chunks'] as const
  if (!json || !fields.every((f) => typeof json[f] === 'number' && Number.isFinite(json[f]))) return undefined
  const usage: NodeUsage = { capacity: json.capacity!, available: json.available!, used: json.used!, chunks: json.chunks! }
  // Optional: servers before it was added do not send it.
  if (typeof json.device === 'string' && json.device.length > 0 && json.device.length <= 256) usage.device = json.device
  if (json.counting === true) usage.counting = true
  return usage
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch {
    return undefined
  }
}

// --- addresses -------------------------------------------------------------------------------------

export interface HostPort {
  host: string
  port: number
}

/**
 * "host:port" (or "[v6]:port"): what --listen takes. Port 0 asks the system for a free port.
 * Throws BAD_ARGUMENT naming `what` (the flag or address being parsed) and showing `example`.
 */
export function parseHostPort(text: string, what: string, example = '127.0.0.1:7001'): HostPort {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text)
  const port = match ? Number(match[3]) : NaN
  if (!match || port > 65535) {
    throw dfsError('BAD_ARGUMENT', `${what} ${JSON.stringify(text)} is not host:port; write it as ${example}`, { address: text })
  }
  return { host: match[1] ?? match[2]!, port }
}

/**
 * tcp://host:port, the way a DataNode server is named in --nodes (and a NameNode in --namenode).
 * `what` names it in the error (a flag, or the kind of server), `example` is the fix to show.
 */
export function parseTcpAddress(address: string, what = 'DataNode address', example = 'tcp://127.0.0.1:7001'): HostPort {
  if (!address.startsWith('tcp://')) {
    throw dfsError('BAD_ARGUMENT', `${what} ${JSON.stringify(address)} does not start with tcp://; write it as ${example}`, { address })
  }
  const hostPort = parseHostPort(address.slice('tcp://'.length).replace(/\/$/, ''), what)
  if (hostPort.port === 0) {
    throw dfsError('BAD_ARGUMENT', `${what} ${address} has port 0; give the port its server listens on`, { address })
  }
  return hostPort
}

export function isTcpAddress(address: string): boolean {
  return address.startsWith('tcp://')
}

/** The text of an error message for the wire: short, one line. */
export function wireMessage(message: string): Buffer {
  return Buffer.from(message.replace(/\s*\n\s*/g, ' ').slice(0, MAX_MESSAGE_CHARS))
}
