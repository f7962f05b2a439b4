import * as crypto from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { assertChunkId, isChunkId, newChunkId } from '../../src/datanode/chunkId.js'
import { INVALID_IDS } from './describeDataNode.js'

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>()
  return { ...actual, randomBytes: vi.fn(actual.randomBytes) }
})

describe('chunk ids', () => {
  it('makes 32 lowercase hex digit ids that do not repeat', () => {
    const ids = new Set(Array.from({ length: 1000 }, newChunkId))
    expect(ids.size).toBe(1000)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/)
  })

  it('fetches random bits for many ids at once (a small file is one chunk: one id per create)', () => {
    const calls = vi.mocked(crypto.randomBytes).mock.calls.length
    for (let i = 0; i < 1024; i++) newChunkId()
    expect(vi.mocked(crypto.randomBytes).mock.calls.length - calls).toBeLessThanOrEqual(5)
  })

  it('accepts only 32 lowercase hex digits', () => {
    expect(isChunkId('0123456789abcdef0123456789abcdef')).toBe(true)
    for (const bad of INVALID_IDS) {
      expect(isChunkId(bad), String(bad)).toBe(false)
      expect(() => assertChunkId(bad), String(bad)).toThrow(expect.objectContaining({ code: 'CHUNK_ID_INVALID' }))
    }
  })

  it('keeps the error short and carries the context it is given', () => {
    const huge = 'x'.repeat(1_000_000)
    try {
      assertChunkId(huge, { node: 'tcp://10.0.0.1:7000' })
      expect.unreachable()
    } catch (err) {
      expect((err as Error).message.length).toBeLessThan(200)
      expect(err).toMatchObject({ code: 'CHUNK_ID_INVALID', context: { node: 'tcp://10.0.0.1:7000' } })
    }
  })
})
