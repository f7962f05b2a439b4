// The FUSE adapter's one timing hook (src/fuse/operations.ts): every kernel request answered, done
// or failed, is timed under its op name; without a hook nothing is timed; a hook that throws
// costs the kernel no answer.

import { describe, expect, it } from 'vitest'
import type { FileSystem } from '../../src/fs/FileSystem.js'
import { fuseOperations } from '../../src/fuse/operations.js'
import { dfsError } from '../../src/errors.js'

const fs = {
  useDetachedNames: () => {},
  statfs: async () => ({ bsize: 4096 }),
  readdir: async () => { throw dfsError('ENOENT', 'no such folder', {}) },
} as unknown as FileSystem

const answered = (call: (cb: (code: number) => void) => void) => new Promise<number>(resolve => call(resolve))

describe('the FUSE op timing hook', () => {
  it('times answered and failed requests under their op names', async () => {
    const timed: Array<[string, number]> = []
    const ops = fuseOperations(fs, () => {}, () => undefined, { onOp: (op, seconds) => timed.push([op, seconds]) })
    expect(await answered(cb => ops.statfs!('/', cb))).toBe(0)
    expect(await answered(cb => ops.readdir!('/missing', cb))).toBeLessThan(0)
    expect(timed.map(([op]) => op)).toEqual(['statfs', 'readdir'])
    for (const [, seconds] of timed) expect(seconds).toBeGreaterThanOrEqual(0)
  })

  it('a hook that throws is logged; the request is still answered', async () => {
    const logged: string[] = []
    const ops = fuseOperations(fs, m => logged.push(m), () => undefined, { onOp: () => { throw new Error('broken hook') } })
    expect(await answered(cb => ops.statfs!('/', cb))).toBe(0)
    expect(await answered(cb => ops.readdir!('/missing', cb))).toBeLessThan(0)
    expect(logged.filter(m => m.includes('broken hook'))).toHaveLength(2)
  })
})
