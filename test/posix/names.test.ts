// Names as bytes (src/meta/namespace/names.ts): any byte but '/' and NUL survives the trip into a
// stored name and back, UTF-8 names are stored exactly as before, NAME_MAX counts bytes, and the
// journal's JSON keeps the escapes.

import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { decodeName, encodeName, nameBytes } from '../../src/meta/namespace/names.js'

describe('names as bytes', () => {
  it('stores UTF-8 names as their text, byte order marks included', () => {
    for (const text of ['plain', 'café', '中文', '🎉💀', '\ufeffbom', '\ufffd', 'a\nb']) {
      const bytes = Buffer.from(text)
      expect(decodeName(bytes)).toBe(text)
      expect(encodeName(text).equals(bytes)).toBe(true)
      expect(nameBytes(text)).toBe(bytes.length)
    }
  })

  it('keeps every byte that is not UTF-8 as one escape, and gives the bytes back', () => {
    const cases = [[0xff], [0x80], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xc0, 0xaf], [0x61, 0xfe, 0xff, 0x62], Array(255).fill(0xff)]
    for (const c of cases) {
      const bytes = Buffer.from(c)
      const name = decodeName(bytes)
      expect(encodeName(name).equals(bytes)).toBe(true)
      expect(nameBytes(name)).toBe(bytes.length)
      expect(JSON.parse(JSON.stringify(name))).toBe(name)
    }
    // Distinct bytes stay distinct names.
    expect(new Set([[0x80], [0xfe], [0xff]].map(b => decodeName(Buffer.from(b)))).size).toBe(3)
  })

  it('round-trips random byte strings', () => {
    for (let i = 0; i < 20_000; i++) {
      const bytes = randomBytes(1 + (i % 12)).map(b => (b === 0 || b === 0x2f ? 0x41 : b))
      const name = decodeName(Buffer.from(bytes))
      expect(encodeName(name).equals(Buffer.from(bytes))).toBe(true)
      expect(nameBytes(name)).toBe(bytes.length)
    }
  })
})
