import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { sha256, verifyChunk } from '../../src/chunks/verify.js'

describe('verifyChunk', () => {
  it('hashes with SHA-256 in lowercase hex, small chunks and large (off the main thread) alike', async () => {
    expect(await sha256(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    const big = randomBytes(1 << 20)
    expect(await sha256(big)).toBe(createHash('sha256').update(big).digest('hex'))
  })

  for (const size of [11, 1 << 20]) {
    describe(`a ${size}-byte chunk`, () => {
      const data = randomBytes(size)
      const ref = { id: newChunkId(), len: data.length, sha256: createHash('sha256').update(data).digest('hex') }

      it('accepts intact bytes', async () => {
        await expect(verifyChunk(ref, Buffer.from(data))).resolves.toBeUndefined()
      })

      it('refuses a flipped byte and a wrong length as CHUNK_CORRUPT', async () => {
        const flipped = Buffer.from(data)
        flipped[3] ^= 0xff
        await expect(verifyChunk(ref, flipped, { node: 'n1' })).rejects.toMatchObject({
          code: 'CHUNK_CORRUPT', context: expect.objectContaining({ node: 'n1', chunk: ref.id }),
        })
        await expect(verifyChunk(ref, data.subarray(1))).rejects.toMatchObject({ code: 'CHUNK_CORRUPT' })
      })
    })
  }
})
