import { describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { sha256, verifyChunk } from '../../src/chunks/verify.js'

describe('verifyChunk', () => {
  const data = Buffer.from('hello chunk')
  const ref = { id: newChunkId(), len: data.length, sha256: sha256(data) }

  it('hashes with SHA-256 in lowercase hex', () => {
    expect(sha256(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('accepts intact bytes', () => {
    expect(() => verifyChunk(ref, Buffer.from(data))).not.toThrow()
  })

  it('refuses a flipped byte and a wrong length as CHUNK_CORRUPT', () => {
    const flipped = Buffer.from(data)
    flipped[3] ^= 0xff
    expect(() => verifyChunk(ref, flipped, { node: 'n1' })).toThrow(
      expect.objectContaining({ code: 'CHUNK_CORRUPT', context: expect.objectContaining({ node: 'n1', chunk: ref.id }) }),
    )
    expect(() => verifyChunk(ref, data.subarray(1))).toThrow(expect.objectContaining({ code: 'CHUNK_CORRUPT' }))
  })
})
