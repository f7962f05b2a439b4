// The bytes dfs stores are the bytes it hashed (issue 7, item 1). With a small chunk cache, mmap
// write-back (many 128 KiB writes to one chunk in flight at once), pwrite, reads and truncates from
// two processes (1000 operations each) make writes to one chunk wait on the same load and race the
// write that fills and seals it. Before the fix a chunk could be stored with the SHA-256 of other bytes: EIO on every
// later read, and `dfs fsck` called it lost.
//
// Each process drives its own file and a native copy with the same seeded operations. At the end the
// daemon stops (storing everything), a fresh daemon mounts the cluster, and the mounted files must
// equal the native ones byte for byte, read from the nodes; then `dfs fsck` must find nothing wrong.

import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DFS_BIN, REPO_ROOT, stopAllAfterAll } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { type MountedCluster, MiB, PY_MMAP_IO, expectOk, mountFresh, py, remount, testSeed } from './fixtures.js'

stopAllAfterAll()

const CHUNK = MiB
const FLAGS = { replicas: 2, chunkSize: '1M', extraArgs: ['--cache', '1M'] }
const OPS = 1000

describe('stored chunks hold exactly the bytes they were hashed from', () => {
  let m: MountedCluster | undefined
  afterAll(async () => {
    await m?.dfs.stop()
  })

  it(`survives ${OPS} mixed mmap/pwrite/read/truncate operations from two processes with --cache 1M`, async () => {
    const base = testSeed()
    console.log(`integrity exerciser seed ${base} (DFS_TEST_SEED=${base} repeats it)`)
    m = await mountFresh({ ...FLAGS })
    const native = join(m.cluster.root, 'native')
    await mkdir(native)
    const files = [base, base + 1].map((seed, i) => ({ seed, native: join(native, `f${i}`), mounted: join(m!.mnt, `f${i}`) }))
    const results = await Promise.all(
      files.map(f => py(PY_MMAP_IO, [f.native, f.mounted, String(f.seed), String(OPS), String(CHUNK)], { timeout: 300_000 })),
    )
    for (const [i, f] of files.entries()) expectOk(results[i]!, `mmap/pwrite exerciser, seed ${f.seed} (DFS_TEST_SEED=${base})`, m.dfs)

    // Everything stored by a clean stop; a fresh daemon reads every byte back from the nodes.
    await m.dfs.stop()
    m = await remount(m, FLAGS)
    for (const f of files) expectOk(await run('cmp', [f.native, f.mounted]), `cmp after remount, seed ${f.seed} (DFS_TEST_SEED=${base})`, m.dfs)
    await m.dfs.stop()

    const fsck = await run(process.execPath, [DFS_BIN, 'fsck', '--meta', m.cluster.meta, '--json'], { cwd: REPO_ROOT, timeout: 120_000 })
    const report = JSON.parse(fsck.stdout) as { lost: unknown[]; badReplicas: unknown[]; underReplicated: unknown[] }
    expect({ lost: report.lost, badReplicas: report.badReplicas, underReplicated: report.underReplicated }, `seed ${base}: ${fsck.stdout}`).toEqual({
      lost: [], badReplicas: [], underReplicated: [],
    })
    expect(fsck.code, `dfs fsck exit, seed ${base}: ${fsck.stdout}\n${fsck.stderr}`).toBe(0)
  }, 400_000)
})
