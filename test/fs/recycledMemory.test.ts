// Chunk buffers come from fillableBuffer(), which may hand back recycled memory NOT zeroed
// (src/fs/OpenFile.ts). Here every such buffer is full of 0xee, so any byte past a buffer's `len` that
// became visible (a read, a stored chunk, the size) shows up as 0xee instead of the model's bytes.
// Random writes, truncates, flushes and seals still in flight, checked against a model.
import { describe, expect, it, vi } from 'vitest'
import { makeFs, CHUNK } from './fakes.js'

vi.mock('../../src/util/sha256.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/util/sha256.js')>()
  return { ...real, fillableBuffer: (size: number) => Buffer.alloc(size, 0xee) }
})

function rng(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('recycled (unzeroed) chunk memory never shows', () => {
  for (const [seed, dirtyLimit] of Array.from({ length: 24 }, (_, i) => [i + 1, i % 2 ? 64 * CHUNK : 2 * CHUNK])) {
    it(`random writes, truncates, flushes and reads agree with a model (seed ${seed}, dirty ${dirtyLimit})`, async () => {
      const r = rng(seed)
      const { fs } = makeFs({ dirtyLimit })
      const fh = await fs.create('/f', 0o644)
      let model = Buffer.alloc(0)
      const max = 3 * CHUNK
      for (let step = 0; step < 300; step++) {
        const op = r()
        if (op < 0.5) {
          const at = Math.floor(r() * max)
          const len = 1 + Math.floor(r() * (r() < 0.2 ? CHUNK : 3000))
          const data = Buffer.alloc(len, 1 + Math.floor(r() * 200))
          await fs.write(fh, data, at)
          if (model.length < at + len) model = Buffer.concat([model, Buffer.alloc(at + len - model.length)])
          data.copy(model, at)
        } else if (op < 0.7) {
          const size = Math.floor(r() * max)
          await fs.truncate('/f', size)
          model = size <= model.length ? Buffer.from(model.subarray(0, size)) : Buffer.concat([model, Buffer.alloc(size - model.length)])
        } else if (op < 0.75) {
          await fs.flush(fh)
        } else if (op < 0.8) {
          // Seal everything now and do not wait (memory pressure, writeback): later writes meet seals in flight.
          for (const file of (fs as unknown as { openFiles: Map<number, { sealAll(): void }> }).openFiles.values()) file.sealAll()
        } else {
          const { size } = await fs.getattr('/f')
          expect(size, `seed ${seed} step ${step} size`).toBe(model.length)
          const out = Buffer.alloc(model.length)
          const n = await fs.read(fh, out, 0)
          expect(n).toBe(model.length)
          const bad = out.findIndex((b, i) => b !== model[i])
          expect(bad, `seed ${seed} step ${step}: first wrong byte ${bad} (${out[bad]} vs ${model[bad]})`).toBe(-1)
        }
      }
      await fs.release(fh)
      const fh2 = await fs.open('/f', 0)
      const out = Buffer.alloc(model.length)
      expect(await fs.read(fh2, out, 0)).toBe(model.length)
      expect(out.findIndex((b, i) => b !== model[i])).toBe(-1)
      await fs.release(fh2)
    })
  }
})
