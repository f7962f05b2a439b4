// The wire format on its own: framing across any packet boundaries, the size limits, and the small
// codecs and rules both ends share (ids, proofs, statuses, addresses, the secret file).

import { randomBytes } from 'node:crypto'
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MAX_CHUNK_SIZE } from '../../src/cluster/settings.js'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { encodeFrame, FrameDecoder, FrameError, FRAME_OVERHEAD, HEADER_BYTES, type Frame } from '../../src/datanode/tcp/frame.js'
import {
  chunkIdOf,
  clientProof,
  errorCodeOfStatus,
  MAX_FRAME,
  MAX_PAYLOAD,
  packChunkIds,
  parseHostPort,
  SHA256_BYTES,
  parseTcpAddress,
  serverProof,
  STATUS_CODES,
  statusOf,
  unpackChunkIds,
} from '../../src/datanode/tcp/protocol.js'
import { readSecretFile } from '../../src/datanode/tcp/secret.js'
import { isPageAligned } from '../../src/util/sha256.js'
import { DFS_CODES } from '../../src/errors.js'
import { codeOf } from './describeDataNode.js'
import { TempDirs } from './tempDirs.js'

function sample(n: number): Array<{ bytes: Buffer; payload: Buffer; requestId: number }> {
  return Array.from({ length: n }, (_, i) => {
    const payload = randomBytes(i % 3 === 0 ? 0 : (i * 997) % 5000)
    const requestId = (i * 2654435761) >>> 0
    return { bytes: encodeFrame({ version: 1, op: 0x11, flags: i & 3, status: i % 7, requestId, chunkId: randomBytes(16) }, payload), payload, requestId }
  })
}

function drain(decoder: FrameDecoder): Frame[] {
  const out: Frame[] = []
  for (let f = decoder.next(); f; f = decoder.next()) out.push(f)
  return out
}

describe('frames', () => {
  it('lays out the header as documented', () => {
    const id = Buffer.from('00112233445566778899aabbccddeeff', 'hex')
    const bytes = encodeFrame({ version: 1, op: 0x12, flags: 0x01, status: 2, requestId: 0x01020304, chunkId: id }, Buffer.from('xyz'))
    expect(bytes.length).toBe(FRAME_OVERHEAD + 3)
    expect(bytes.subarray(0, 12).toString('hex')).toBe('0000001b' + '01' + '12' + '01' + '02' + '01020304')
    expect(bytes.subarray(12, 28)).toEqual(id)
    expect(bytes.subarray(28).toString()).toBe('xyz')
  })

  it('decodes frames split at every byte and packed many to a packet alike', () => {
    const frames = sample(40)
    const stream = Buffer.concat(frames.map((f) => f.bytes))
    const check = (got: Frame[]) => {
      expect(got.length).toBe(frames.length)
      got.forEach((f, i) => {
        expect(f.requestId).toBe(frames[i]!.requestId)
        expect(f.payload.equals(frames[i]!.payload)).toBe(true)
      })
    }
    const whole = new FrameDecoder(MAX_FRAME)
    whole.push(stream)
    check(drain(whole))

    const bytewise = new FrameDecoder(MAX_FRAME)
    const got: Frame[] = []
    for (let i = 0; i < stream.length; i++) {
      bytewise.push(stream.subarray(i, i + 1))
      got.push(...drain(bytewise))
    }
    check(got)
    expect(bytewise.buffered).toBe(0)

    const ragged = new FrameDecoder(MAX_FRAME)
    const got2: Frame[] = []
    for (let at = 0; at < stream.length;) {
      const n = 1 + Math.floor(Math.random() * 3000)
      ragged.push(stream.subarray(at, at + n))
      at += n
      got2.push(...drain(ragged))
    }
    check(got2)
  })

  it('refuses an impossible length as soon as its 4 bytes are in', () => {
    for (const [length, max] of [[HEADER_BYTES - 1, 1000], [0, 1000], [1001, 1000], [0xffffffff, MAX_FRAME], [MAX_FRAME + 1, MAX_FRAME]]) {
      const decoder = new FrameDecoder(max!)
      const head = Buffer.alloc(4)
      head.writeUInt32BE(length!)
      decoder.push(head.subarray(0, 2))
      expect(decoder.next()).toBeUndefined()
      decoder.push(head.subarray(2))
      expect(() => decoder.next(), String(length)).toThrow(FrameError)
    }
  })

  it('applies the limit in force when a frame is cut, not when its bytes arrived', () => {
    const decoder = new FrameDecoder(100)
    const big = encodeFrame({ version: 1, op: 1, flags: 0, status: 0, requestId: 1 }, randomBytes(500))
    decoder.push(big)
    expect(() => decoder.next()).toThrow(FrameError)
    decoder.maxFrame = 1000
    expect(decoder.next()?.payload.length).toBe(500)
  })

  it("cuts an op's lead off its payload, so a large payload starts memory of its own (page-aligned at 1 MiB)", () => {
    const chunk = randomBytes(1024 * 1024)
    const hash = randomBytes(32)
    const frames = [
      encodeFrame({ version: 1, op: 0x11, flags: 0, status: 0, requestId: 1 }, Buffer.concat([hash, chunk])),
      encodeFrame({ version: 1, op: 0x11, flags: 0, status: 0, requestId: 2 }, hash.subarray(0, 10)),
      encodeFrame({ version: 1, op: 0x12, flags: 0, status: 0, requestId: 3 }, hash),
    ]
    for (const step of [1000, 65536, 4 * 1024 * 1024]) {
      const decoder = new FrameDecoder(MAX_FRAME)
      decoder.leadOf = (op) => (op === 0x11 ? 32 : 0)
      const wire = Buffer.concat(frames)
      const out: Frame[] = []
      for (let at = 0; at < wire.length; at += step) {
        decoder.push(wire.subarray(at, at + step))
        for (let f; (f = decoder.next());) out.push(f)
      }
      expect(out.map((f) => [f.requestId, f.lead?.toString('hex'), f.payload.length])).toEqual([
        [1, hash.toString('hex'), chunk.length], [2, hash.subarray(0, 10).toString('hex'), 0], [3, undefined, 32],
      ])
      expect(out[0]!.payload.equals(chunk)).toBe(true)
      expect(isPageAligned(out[0]!.payload), `pieces of ${step}`).toBe(step < wire.length)
    }
  })

  it('waits for the rest of a frame', () => {
    const decoder = new FrameDecoder(MAX_FRAME)
    const frame = encodeFrame({ version: 1, op: 1, flags: 0, status: 0, requestId: 1 }, randomBytes(1000))
    decoder.push(frame.subarray(0, 999))
    expect(decoder.next()).toBeUndefined()
    expect(decoder.buffered).toBe(999)
  })

  it('with receiveInPlace, lets the socket read a large payload straight into its own memory, and cuts the frames around it alike', () => {
    const frames = [
      encodeFrame({ version: 1, op: 3, flags: 0, status: 0, requestId: 1 }, randomBytes(100)),
      encodeFrame({ version: 1, op: 2, flags: 0, status: 0, requestId: 2 }, randomBytes(1024 * 1024 + 3)),
      encodeFrame({ version: 1, op: 3, flags: 0, status: 0, requestId: 3 }, randomBytes(5)),
      encodeFrame({ version: 1, op: 2, flags: 0, status: 0, requestId: 4 }, randomBytes(300 * 1024)),
    ]
    const wire = Buffer.concat(frames)
    for (const step of [1000, 65536, 200_000]) {
      const decoder = new FrameDecoder(MAX_FRAME)
      decoder.receiveInPlace = true
      const out: Frame[] = []
      let direct = 0
      for (let at = 0; at < wire.length;) {
        // As the socket does: into the payload being filled when there is one, else a piece pushed.
        const target = decoder.receiveTarget()
        const n = Math.min(step, wire.length - at, target?.length ?? Infinity)
        if (target) {
          wire.copy(target, 0, at, at + n)
          decoder.received(n)
          direct += n
        } else {
          decoder.push(Buffer.from(wire.subarray(at, at + n)))
        }
        at += n
        for (let frame = decoder.next(); frame; frame = decoder.next()) out.push(frame)
      }
      expect(out.map(f => f.requestId)).toEqual([1, 2, 3, 4])
      out.forEach((f, i) => expect(f.payload.equals(frames[i]!.subarray(FRAME_OVERHEAD)), `frame ${i}, pieces of ${step}`).toBe(true))
      expect(out[1]!.payload.buffer).toBeInstanceOf(SharedArrayBuffer)
      expect(direct, `bytes read in place, pieces of ${step}`).toBeGreaterThan(700 * 1024)
      expect(decoder.buffered).toBe(0)
    }
  })

  it('gathers a chunk-sized payload that arrived in pieces into hashable memory of its own (verified and cached without a copy)', () => {
    const decoder = new FrameDecoder(MAX_FRAME)
    const payload = randomBytes(4 * 1024 * 1024)
    const frame = encodeFrame({ version: 1, op: 2, flags: 0, status: 0, requestId: 7 }, payload)
    for (let at = 0; at < frame.length; at += 65536) decoder.push(frame.subarray(at, at + 65536))
    const small = encodeFrame({ version: 1, op: 3, flags: 0, status: 0, requestId: 8 }, randomBytes(100))
    decoder.push(small)
    const big = decoder.next()!
    expect(big).toMatchObject({ op: 2, requestId: 7 })
    expect(big.payload.equals(payload)).toBe(true)
    expect(big.payload.buffer).toBeInstanceOf(SharedArrayBuffer)
    expect([big.payload.byteOffset, big.payload.buffer.byteLength]).toEqual([0, payload.length])
    const next = decoder.next()!
    expect(next).toMatchObject({ op: 3, requestId: 8 })
    expect(next.payload.equals(small.subarray(FRAME_OVERHEAD))).toBe(true)
    expect(decoder.buffered).toBe(0)
  })
})

describe('protocol rules', () => {
  it('carries a whole chunk of the largest chunk size, after its SHA-256, in one frame', () => {
    expect(MAX_PAYLOAD).toBe(MAX_CHUNK_SIZE)
    expect(MAX_FRAME).toBe(HEADER_BYTES + SHA256_BYTES + MAX_CHUNK_SIZE)
  })

  it('packs chunk ids as raw bytes and refuses a ragged list', () => {
    const ids = Array.from({ length: 5 }, newChunkId)
    const packed = packChunkIds(ids)
    expect(packed.length).toBe(80)
    expect(unpackChunkIds(packed)).toEqual(ids)
    expect(unpackChunkIds(Buffer.alloc(0))).toEqual([])
    expect(unpackChunkIds(Buffer.alloc(17))).toBeUndefined()
    // Any 16 bytes name a well-formed id: a path cannot be spelt in the id field.
    expect(chunkIdOf(Buffer.from('../../../../etc/'))).toMatch(/^[0-9a-f]{32}$/)
  })

  it('keeps client and server proofs apart and bound to both random values', () => {
    const secret = Buffer.from('s')
    const challenge = randomBytes(32)
    const nonce = randomBytes(32)
    const client = clientProof(secret, challenge, nonce)
    expect(client.length).toBe(32)
    expect(client.equals(serverProof(secret, challenge, nonce))).toBe(false)
    expect(client.equals(clientProof(secret, randomBytes(32), nonce))).toBe(false)
    expect(client.equals(clientProof(secret, challenge, randomBytes(32)))).toBe(false)
    expect(client.equals(clientProof(Buffer.from('t'), challenge, nonce))).toBe(false)
  })

  it('maps every status to the dfs code the local transport uses, and back', () => {
    for (const [status, name] of STATUS_CODES.entries()) {
      if (name === 'OK') continue
      const code = errorCodeOfStatus(status)
      expect(Object.hasOwn(DFS_CODES, code), name).toBe(true)
      if (name !== 'BAD_REQUEST') {
        expect(code).toBe(name)
        expect(statusOf(code)).toBe(status)
      }
    }
    expect(errorCodeOfStatus(200)).toBe('NODE_UNAVAILABLE')
    expect(STATUS_CODES[statusOf('EIO')]).toBe('NODE_UNAVAILABLE')
  })

  it('parses listen addresses and tcp:// node addresses', () => {
    expect(parseHostPort('127.0.0.1:7001', '--listen')).toEqual({ host: '127.0.0.1', port: 7001 })
    expect(parseHostPort('[::1]:0', '--listen')).toEqual({ host: '::1', port: 0 })
    expect(parseHostPort('node-1.local:65535', '--listen')).toEqual({ host: 'node-1.local', port: 65535 })
    expect(parseTcpAddress('tcp://10.0.0.2:7001')).toEqual({ host: '10.0.0.2', port: 7001 })
    for (const bad of ['7001', '127.0.0.1', '127.0.0.1:', ':7001', '127.0.0.1:65536', '127.0.0.1:-1', 'a b:1', '127.0.0.1:7001 ']) {
      expect(() => parseHostPort(bad, '--listen'), bad).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }))
    }
    expect(() => parseTcpAddress('tcp://127.0.0.1:0')).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }))
  })
})

describe('the secret file', () => {
  const temp = new TempDirs()
  afterEach(() => temp.cleanup())

  it('is read as bytes without its trailing newline', async () => {
    const file = join(await temp.make(), 'secret')
    await writeFile(file, 'abc\n', { mode: 0o600 })
    expect((await readSecretFile(file)).toString()).toBe('abc')
    await writeFile(file, Buffer.from([0, 1, 2, 10, 13, 10]))
    expect(await readSecretFile(file)).toEqual(Buffer.from([0, 1, 2]))
  })

  it('refuses a missing, empty or unreadable file with BAD_ARGUMENT and how to make one', async () => {
    const dir = await temp.make()
    const empty = join(dir, 'empty')
    await writeFile(empty, '\n', { mode: 0o600 })
    for (const file of [join(dir, 'missing'), empty, dir]) {
      const err = await readSecretFile(file).catch((e: unknown) => e)
      expect(err, file).toMatchObject({ code: 'BAD_ARGUMENT' })
      expect((err as Error).message).toMatch(/head -c 32 \/dev\/urandom/)
    }
    expect(await codeOf(readSecretFile(join(dir, 'missing')))).toBe('BAD_ARGUMENT')
  })

  it('refuses a file group or others may read or write, as ssh does, naming the chmod that fixes it', async () => {
    const file = join(await temp.make(), 'secret')
    await writeFile(file, 'abc\n', { mode: 0o600 })
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602]) {
      await chmod(file, mode)
      const err = await readSecretFile(file).catch((e: unknown) => e)
      expect(err, mode.toString(8)).toMatchObject({ code: 'SECRET_FILE_UNSAFE' })
      expect((err as Error).message).toContain(`mode ${mode.toString(8)}`)
      expect((err as Error).message).toContain(`chmod 600 ${file}`)
    }
    await chmod(file, 0o400)
    expect((await readSecretFile(file)).toString()).toBe('abc')
  })
})
