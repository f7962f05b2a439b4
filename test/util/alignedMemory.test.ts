// Page-aligned chunk memory (util/sha256.ts) is a WebAssembly memory, and V8 reserves about 10 GiB of
// address space for every one, whatever its size (guard regions for bounds checks). A process has
// 128 TiB: some 13,000 of them alive take all of it, after which every mmap in the process fails (V8's
// heap growth included) and each further memory costs V8 three full collections before it gives up.
// A chunk cache of small chunks holds thousands of buffers (--cache 1G of 64 KiB files: 16,384).

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ALIGNED_LIMIT, fillableBuffer, holdShared } from '../../src/util/sha256.js'

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

/** This process's virtual memory size, in bytes. */
function addressSpace(): number {
  const kib = /VmSize:\s*(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
  return Number(kib![1]) * KiB
}

// A buffer the chunk cache holds alone, as it does a chunk it read. Never released: so neither test
// sees the other's buffers as garbage counted towards SHARED_LIMIT (and get ordinary memory).
function cacheHeld(size: number): Buffer {
  const data = fillableBuffer(size)
  holdShared(data)
  return data
}

describe('aligned (WebAssembly) chunk memory', () => {
  it('keeps at most ALIGNED_LIMIT aligned memories alive, however many large chunks are held', () => {
    const before = addressSpace()
    const held = Array.from({ length: ALIGNED_LIMIT + 500 }, () => cacheHeld(MiB))
    const grown = addressSpace() - before
    expect(held.every((b) => b.buffer instanceof SharedArrayBuffer)).toBe(true)
    // Each aligned memory reserves about 10 GiB; the rest are ordinary shared memory (1 MiB each).
    expect(grown).toBeLessThan(ALIGNED_LIMIT * 11 * GiB)
  })

  it('does not take the address space of thousands of small chunks a cache holds (only sizes read with O_DIRECT are aligned)', () => {
    const before = addressSpace()
    const held = Array.from({ length: 3000 }, () => cacheHeld(64 * KiB))
    const grown = addressSpace() - before
    expect(held.every((b) => b.buffer instanceof SharedArrayBuffer)).toBe(true)
    // Unfixed: 3,000 x 10 GiB, 30 TiB.
    expect(grown).toBeLessThan(64 * GiB)
  })
})
