// Reading a dump line by line: a line with no end in sight (--from /dev/zero, a backup a failed disk
// filled with zeros) is refused as DUMP_INVALID naming the line, before it outgrows what a string can
// hold (readline crashed the process with a RangeError there); an input that cannot be read (a
// folder) is one line with a code, not an unexpected error. Lines split as before: \n, \r\n, a last
// line without \n, multi-byte characters across chunk boundaries.

import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { linesOf, readDump } from '../../src/meta/dump.js'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = []
  for await (const line of lines) out.push(line)
  return out
}

describe('the lines of a dump', () => {
  it('split at \\n and \\r\\n, keep a last line without \\n and characters cut across chunks', async () => {
    const bytes = Buffer.from('a\r\nb\n\nünï\ncode ✓')
    const chunks = [...bytes].map(b => Buffer.from([b])) // one byte at a time
    expect(await collect(linesOf(Readable.from(chunks)))).toEqual(['a', 'b', '', 'ünï', 'code ✓'])
  })

  it('refuse a line longer than the limit, wherever its chunks end', async () => {
    const endless = Readable.from((function* () { for (;;) yield Buffer.alloc(1000) })())
    await expect(collect(linesOf(endless, 10_000))).rejects.toThrow(/longer than 10000 bytes/)
    await expect(collect(linesOf(Readable.from([Buffer.from('short\n'), Buffer.alloc(20_000, 0x41), Buffer.from('\n')]), 10_000))).rejects.toThrow(/longer than/)
  })

  it('a read that fails is one error with a code', async () => {
    const failing = new Readable({ read() { this.destroy(Object.assign(new Error('EISDIR: illegal operation on a directory, read'), { code: 'EISDIR' })) } })
    await expect(readDump(linesOf(failing), 'x.json')).rejects.toMatchObject({ code: 'EIO', message: expect.stringContaining('cannot read x.json (EISDIR)') })
  })

  it('dfs meta load --from /dev/zero or --from a folder: one line with a code, nothing made', { timeout: 120_000 }, async () => {
    const base = tempDirForTest('dump-lines-').path
    for (const [from, line] of [
      ['/dev/zero', /^dfs: \/dev\/zero is not a valid dfs namespace dump: line 1 is longer than 256 MiB; .*\[DUMP_INVALID\]$/],
      [base, /^dfs: cannot read .* \(EISDIR\); .*\[EIO\]$/],
    ] as const) {
      const r = await run(process.execPath, [DFS_BIN, 'meta', 'load', '--meta', join(base, 'loaded'), '--from', from], { cwd: REPO_ROOT, timeout: 100_000 })
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1)
      expect(r.stderr.trim()).toMatch(line)
      expect(await readdir(base)).toEqual([])
    }
  })
})
