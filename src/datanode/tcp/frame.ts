// Frames of the DataNode wire protocol (docs/protocol.md): a 4-byte big-endian length of the rest,
// a 24-byte header, then raw payload bytes.
//
//   0  u32  length of everything after these 4 bytes (24 + payload length)
//   4  u8   protocol version
//   5  u8   op
//   6  u8   flags (bit 0 REPLY, bit 1 MORE, bit 2 FRESH)
//   7  u8   status (0 in requests and successful replies)
//   8  u32  request id
//   12 16B  chunk id, raw (zeros when the op names no chunk)
//   28 ...  payload
//
// The decoder is lazy: push() only buffers what arrived, next() cuts one frame at a time against the
// size limit in force at that moment (the server raises it after authentication), so a peer can
// never make us allocate more than it is allowed to send, and frames split across TCP packets or
// packed several to a packet come out the same.

import { fillableBuffer } from '../../util/sha256.js'

/** Bytes of the length prefix. */
export const LENGTH_BYTES = 4
/** Bytes of the header after the length prefix. */
export const HEADER_BYTES = 24
/** Length prefix plus header: the smallest frame on the wire. */
export const FRAME_OVERHEAD = LENGTH_BYTES + HEADER_BYTES
export const CHUNK_ID_BYTES = 16

export const FLAG_REPLY = 0x01
/** In a reply: more reply frames for the same request follow (LIST). */
export const FLAG_MORE = 0x02
/**
 * In a PUT request: the chunk's id is fresh (PutHint.fresh), so the server need not guard against an
 * earlier copy or a reader. Sent only to a server whose AUTH reply says `freshPuts` (older ones refuse
 * any flag in a request).
 */
export const FLAG_FRESH = 0x04
export const KNOWN_FLAGS = FLAG_REPLY | FLAG_MORE | FLAG_FRESH

export interface Frame {
  version: number
  op: number
  flags: number
  status: number
  requestId: number
  /** The raw 16-byte chunk id field (all zeros when unused). */
  chunkId: Buffer
  /**
   * The first bytes of the payload, cut off by a decoder told the op has a lead (FrameDecoder.leadOf:
   * a PUT's SHA-256), so that `payload` starts at the start of memory of its own; shorter when the
   * payload was. Absent for ops without a lead.
   */
  lead?: Buffer
  payload: Buffer
}

export type FrameHeader = Omit<Frame, 'payload' | 'chunkId' | 'lead'> & { chunkId?: Buffer }

const NO_CHUNK = Buffer.alloc(CHUNK_ID_BYTES)

/** Payloads at least this large that arrive in pieces are gathered into memory of their own. */
const OWN_PAYLOAD_BYTES = 64 * 1024

/** The header fields of a frame whose first FRAME_OVERHEAD bytes are `bytes`. */
function headerOf(bytes: Buffer): Omit<Frame, 'payload'> {
  return {
    version: bytes[4]!,
    op: bytes[5]!,
    flags: bytes[6]!,
    status: bytes[7]!,
    requestId: bytes.readUInt32BE(8),
    chunkId: bytes.subarray(12, FRAME_OVERHEAD),
  }
}

/** A stream that cannot be framed any further (bad length): the connection must be closed. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'FrameError'
  }
}

/** The 28 bytes that precede a payload of payloadLength bytes. */
export function encodeHeader(header: FrameHeader, payloadLength: number): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_OVERHEAD)
  buf.writeUInt32BE(HEADER_BYTES + payloadLength, 0)
  buf.writeUInt8(header.version, 4)
  buf.writeUInt8(header.op, 5)
  buf.writeUInt8(header.flags, 6)
  buf.writeUInt8(header.status, 7)
  buf.writeUInt32BE(header.requestId >>> 0, 8)
  const id = header.chunkId ?? NO_CHUNK
  if (id.length !== CHUNK_ID_BYTES) throw new RangeError(`a chunk id field is ${CHUNK_ID_BYTES} bytes, not ${id.length}`)
  id.copy(buf, 12)
  return buf
}

/** A whole frame in one buffer (for small frames; large payloads are written after encodeHeader). */
export function encodeFrame(header: FrameHeader, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([encodeHeader(header, payload.length), payload])
}

export class FrameDecoder {
  readonly #chunks: Buffer[] = []
  #buffered = 0
  #maxFrame: number
  /**
   * With receiveInPlace: a large payload whose header is in, being filled as its bytes arrive (by
   * push, or by the socket reading straight into receiveTarget()).
   */
  #filling: { head: Buffer; payload: Buffer; filled: number } | undefined
  /**
   * Give a large frame its payload buffer as soon as its header is in, so its bytes can be read
   * straight into it (receiveTarget) rather than gathered afterwards. Only for a peer trusted with
   * frames of maxFrame bytes (a client of an authenticated server): the buffer exists before the
   * bytes that fill it.
   */
  receiveInPlace = false
  /**
   * Bytes at the start of a payload of this op to cut off as the frame's `lead`. A PUT's chunk then
   * gets memory of its own from its first byte: page-aligned when large, so the DataNode can write it
   * with O_DIRECT (datanode/writeWhole.ts), and hashable without a copy.
   */
  leadOf: (op: number) => number = () => 0

  /** maxFrame: the largest allowed value of the length prefix (header + payload). */
  constructor(maxFrame: number) {
    this.#maxFrame = maxFrame
  }

  set maxFrame(value: number) {
    this.#maxFrame = value
  }

  /** Bytes received and not yet cut into frames. */
  get buffered(): number {
    return this.#buffered + (this.#filling ? FRAME_OVERHEAD + this.#filling.filled : 0)
  }

  push(chunk: Buffer): void {
    const filling = this.#filling
    if (filling && this.#chunks.length === 0) {
      const n = Math.min(chunk.length, filling.payload.length - filling.filled)
      filling.filled += chunk.copy(filling.payload, filling.filled, 0, n)
      chunk = chunk.subarray(n)
    }
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
  }

  /**
   * Where the next bytes from the socket may go directly: the rest of the payload being filled, when
   * nothing else is waiting before it. Tell received() how many were read into it.
   */
  receiveTarget(): Buffer | undefined {
    const filling = this.#filling
    if (!filling || this.#chunks.length > 0 || filling.filled === filling.payload.length) return undefined
    return filling.payload.subarray(filling.filled)
  }

  /** n bytes were read into receiveTarget(). */
  received(n: number): void {
    this.#filling!.filled += n
  }

  /**
   * The next whole frame, or undefined until more bytes arrive. Throws FrameError when the length
   * prefix is impossible (shorter than a header, or longer than allowed): nothing after it can be
   * trusted to be a frame boundary. The check happens as soon as the 4 length bytes are in, before
   * the rest arrives or any buffer of that size exists.
   */
  next(): Frame | undefined {
    const filling = this.#filling
    if (filling) {
      if (filling.filled < filling.payload.length) return undefined
      this.#filling = undefined
      return { ...headerOf(filling.head), payload: filling.payload }
    }
    if (this.#buffered < LENGTH_BYTES) return undefined
    const length = this.#peekLength()
    if (length < HEADER_BYTES) throw new FrameError(`frame length ${length} is shorter than the ${HEADER_BYTES}-byte header`)
    if (length > this.#maxFrame) throw new FrameError(`frame length ${length} exceeds the limit of ${this.#maxFrame} bytes`)
    // A large payload that arrives in pieces (a chunk) goes into memory of its own, hashable as it
    // is: whoever verifies or caches the chunk then needs no copy of it (util/sha256.ts). Perhaps
    // recycled memory: the frame is handed out only once every byte of it has arrived.
    const own = length - HEADER_BYTES >= OWN_PAYLOAD_BYTES && this.#chunks[0]!.length < LENGTH_BYTES + length
    if (own && this.receiveInPlace && this.#buffered >= FRAME_OVERHEAD && this.leadOf(this.#peek(FRAME_OVERHEAD)[5]!) === 0) {
      const head = this.#take(FRAME_OVERHEAD)
      const payload = fillableBuffer(length - HEADER_BYTES)
      const have = Math.min(this.#buffered, payload.length)
      if (have > 0) this.#take(have, payload.subarray(0, have))
      this.#filling = { head, payload, filled: have }
      return this.next()
    }
    if (this.#buffered < LENGTH_BYTES + length) return undefined
    const head = this.#take(FRAME_OVERHEAD)
    const header = headerOf(head)
    const wanted = this.leadOf(header.op)
    const leadLength = Math.min(wanted, length - HEADER_BYTES)
    const lead = wanted > 0 ? { lead: Buffer.from(this.#take(leadLength)) } : {}
    const rest = length - HEADER_BYTES - leadLength
    return { ...header, ...lead, payload: own ? this.#take(rest, fillableBuffer(rest)) : this.#take(rest) }
  }

  #peekLength(): number {
    return this.#peek(LENGTH_BYTES).readUInt32BE(0)
  }

  /** The first n buffered bytes (n <= buffered), left buffered. */
  #peek(n: number): Buffer {
    const first = this.#chunks[0]!
    if (first.length >= n) return first
    const head = Buffer.alloc(n)
    let at = 0
    for (const chunk of this.#chunks) {
      at += chunk.copy(head, at, 0, Math.min(chunk.length, n - at))
      if (at === n) break
    }
    return head
  }

  /**
   * Remove and return the first n buffered bytes (n <= buffered): a view when they sit in one chunk
   * (and no `out` is given), else copied into `out` (n bytes long) or a new buffer.
   */
  #take(n: number, out?: Buffer): Buffer {
    if (n === 0) return out ?? Buffer.alloc(0)
    this.#buffered -= n
    const first = this.#chunks[0]!
    if (first.length >= n && !out) {
      if (first.length === n) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    out ??= Buffer.allocUnsafe(n)
    let at = 0
    while (at < n) {
      const chunk = this.#chunks[0]!
      const want = n - at
      if (chunk.length <= want) {
        chunk.copy(out, at)
        at += chunk.length
        this.#chunks.shift()
      } else {
        chunk.copy(out, at, 0, want)
        at += want
        this.#chunks[0] = chunk.subarray(want)
      }
    }
    return out
  }
}
