// A namespace of 100,000 files dumps in bounded memory: the document streams out, it is never held.
// The state is built directly through the MetaStore (no FUSE). The check that cannot flake: the real
// `dfs meta dump` runs with a V8 heap limit of what the open namespace takes plus three quarters of
// the document's size, so a dump that held its document (or a copy of each piece list) would run out of heap; the
// peaks a measuring child sees are printed for the record, not asserted.

import { open, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import type { Inode } from '../../src/meta/namespace/types.js'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { fakeRef, openNamespace } from './namespaceFolder.js'

const FILES = 100_000
const DIRS = 100
const MB = 1024 * 1024
const script = new URL('./fixtures/dumpMemory.mjs', import.meta.url).pathname

interface Figures { baseHeap: number; baseRss: number; peakHeap: number; peakRss: number; maxRss: number; bytes: number }

async function measure(mode: 'open' | 'dump', dir: string, out: string): Promise<Figures> {
  const r = await run(process.execPath, ['--expose-gc', script, mode, dir, out], { cwd: REPO_ROOT, timeout: 600_000 })
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Figures
}

/** `node --max-old-space-size=<mb> bin/dfs.js meta dump --meta dir > out`: its exit code and stderr. */
async function dumpWithHeapLimit(mb: number, dir: string, out: string): Promise<{ code: number | null; stderr: string }> {
  const fh = await open(out, 'w')
  try {
    const child = spawn(process.execPath, [`--max-old-space-size=${mb}`, DFS_BIN, 'meta', 'dump', '--meta', dir], { cwd: REPO_ROOT, stdio: ['ignore', fh.fd, 'pipe'] })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
    return { code, stderr }
  } finally {
    await fh.close()
  }
}

describe('a 100,000-file namespace', () => {
  it('dumps in bounded memory', { timeout: 900_000 }, async () => {
    const dir = tempDirForTest('dump-large-').path
    const out = join(tempDirForTest('dump-large-out-').path, 'ns.json')
    const store = await openNamespace(dir)
    const dirs: number[] = []
    for (let d = 0; d < DIRS; d++) dirs.push((store.commit({ op: 'mknod', parent: 1, name: `dir-${d}`, mode: 0o040755, uid: 0, gid: 0, time: 1 }) as Inode).ino)
    for (let i = 0; i < FILES; i++) {
      const ino = (store.commit({ op: 'mknod', parent: dirs[i % DIRS], name: `file-${i}.dat`, mode: 0o100644, uid: 1000, gid: 1000, time: i }) as Inode).ino
      for (let c = 0; c < 3; c++) store.commit({ op: 'chunk', ino, index: c, ref: fakeRef(), size: (c + 1) * 4096, mtime: i, ctime: i })
      if (i % 10_000 === 0) await store.sync()
    }
    await store.close({ checkpoint: true })

    const base = await measure('open', dir, out)
    const dumped = await measure('dump', dir, out)
    const size = (await stat(out)).size
    expect(dumped.bytes).toBe(size)
    console.log(`100,000-file dump: document ${(size / MB).toFixed(1)} MiB; heap after open ${(base.baseHeap / MB).toFixed(1)} MiB, ` +
      `peak heap while dumping ${(dumped.peakHeap / MB).toFixed(1)} MiB (+${((dumped.peakHeap - dumped.baseHeap) / MB).toFixed(1)}), ` +
      `max RSS open only ${(base.maxRss / MB).toFixed(1)} MiB, with dump ${(dumped.maxRss / MB).toFixed(1)} MiB (+${((dumped.maxRss - base.maxRss) / MB).toFixed(1)})`)

    // The real command, with a heap that fits the namespace but not the namespace plus its document.
    // Three quarters of the document as slack: room for garbage, not for the document itself.
    const limitMb = Math.ceil((base.baseHeap + (size * 3) / 4) / MB)
    expect(size).toBeGreaterThan(40 * MB) // else the limit would not tell a held document from garbage
    const limited = await dumpWithHeapLimit(limitMb, dir, out)
    expect(limited.code, limited.stderr.slice(-2000)).toBe(0)
    expect((await stat(out)).size).toBe(size)
    const doc = JSON.parse(await readFile(out, 'utf8'))
    expect(doc.inodes).toHaveLength(FILES + DIRS + 1)
    expect(doc.trailer.inodes).toBe(FILES + DIRS + 1)
  })
})
