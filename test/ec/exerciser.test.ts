// The randomized differential exercisers on erasure-coded directories: the same seeded stream of
// file operations applied to a native folder and to an ec:2+1 folder of a dfs mount (64 KiB chunks,
// 4 node folders, a chunk cache smaller than a chunk so reads reach the shards), compared as they go.
//
// - test/posix/exerciser.py: pwrite around chunk boundaries, appends, creates, truncates, renames,
//   links, writes through held descriptors, fsync; both trees compared after every step (listings;
//   the contents the step changed, every file's every 8 steps: exerciser.py says why). A second
//   run deletes a node folder half way through (stripes then written on the 3 left, and read
//   degraded until healed) and must still match to the end.
// - the mmap exerciser of test/mount/integrity.test.ts (PY_MMAP_IO): mmap write-back, pwrite, pread,
//   ftruncate and fsync with the page cache dropped, on one file, from two processes at once.
//
// Seeds are printed; DFS_EXERCISER_SEED / DFS_TEST_SEED replay a run, DFS_EC_EXERCISER_STEPS changes its length.

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIN_SHARD_BYTES } from '../../src/chunks/layout.js'
import { statusOf } from '../helpers/cli.js'
import { cleanupAll } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { PY_MMAP_IO, expectOk, py, pyJson, testSeed } from '../mount/fixtures.js'
import { HERE as POSIX_DIR, PYTHON, type Roots, posixRoots } from '../posix/runner.js'
import { CHUNK, setPolicy } from './fixtures.js'

const POLICY = 'ec:2+1'
const K = 2
/** How POLICY stores a chunk under K × 4 KiB: m + 1 = 2 copies. */
const SMALL_CHUNKS = 'replicas:2'
// Fewer steps than test/posix's 2,000 (each run a new seed): the stripes' paths are what is new here.
const STEPS = Number(process.env.DFS_EC_EXERCISER_STEPS ?? 400)
const SEED = process.env.DFS_EXERCISER_SEED ? Number(process.env.DFS_EXERCISER_SEED) : Math.floor(Math.random() * 2 ** 31)
const MMAP_OPS = 400

let roots: Roots

beforeAll(async () => {
  console.log(`EC exerciser: seed ${SEED} (replay with DFS_EXERCISER_SEED=${SEED}), ${STEPS} steps per run, policy ${POLICY}`)
  roots = await posixRoots({ chunkSize: '64k', replicas: 2, nodeCount: 4, extraArgs: ['--cache', '32k', '--scrub-rate', '0'] })
})
afterAll(async () => {
  await cleanupAll()
  await roots?.cleanup()
})

/** <root>/<name> on both sides, the mounted one with the EC policy set on it. */
async function ecDirs(name: string): Promise<{ native: string; mounted: string }> {
  const native = join(roots.native, name)
  const mounted = join(roots.mnt, name)
  mkdirSync(native)
  expectOk(await run('mkdir', [mounted]), `mkdir ${mounted}`, roots.dfs)
  await setPolicy(mounted, POLICY, roots.dfs)
  return { native, mounted }
}

async function exercise(name: string, seed: number, extra: string[] = []): Promise<Record<string, unknown>> {
  const { native, mounted } = await ecDirs(name)
  const r = await run(PYTHON, [join(POSIX_DIR, 'exerciser.py'), native, mounted, String(seed), String(STEPS), String(CHUNK), ...extra], { timeout: 600_000 })
  const report = r.stdout.trim().split('\n').pop() ?? ''
  const daemon = roots.dfs.output().trim().split('\n').slice(-20).join('\n')
  expect(r.code, `exerciser on ${POLICY} (seed ${seed}, replay with DFS_EXERCISER_SEED=${SEED}) failed:\n${report}\n${r.stderr.slice(-3000)}\ndaemon log (tail):\n${daemon}`).toBe(0)
  const result = JSON.parse(report) as Record<string, unknown>
  console.log(`EC exerciser ${name}: ${JSON.stringify(result)}`)
  await expectOnlyEc()
  return result
}

/**
 * Every chunk the mount holds is stored as the policy stores a chunk of its length (chunks/layout.ts
 * chunkLayout): of k × 4 KiB or more, a stripe of the policy; smaller, m + 1 copies. Read from each
 * file's user.dfs.placement (one python process for the whole mount).
 *
 * (It no longer also asks for "some stripes": with every chunk checked above, that failed exactly when
 * the run left no chunk of 8 KiB or more, which the seed decides, not dfs: a 400-step run ends so for
 * about one seed in nine; 1163568922 leaves one 37-byte file.)
 */
async function expectOnlyEc(): Promise<void> {
  const chunks = await pyJson<Array<[string, number, string]>>(PY_CHUNK_LAYOUTS, [roots.mnt], roots.dfs)
  const wrong = chunks.filter(([, len, layout]) => layout !== (len >= K * MIN_SHARD_BYTES ? POLICY : SMALL_CHUNKS))
  expect(wrong, `chunks not stored as ${POLICY} stores a chunk of their length`).toEqual([])
  // dfs status agrees: no layout in use but these two.
  const s = await statusOf(roots.mnt)
  for (const o of s.overhead as Array<{ layout: string }>) expect([POLICY, SMALL_CHUNKS], JSON.stringify(s.overhead)).toContain(o.layout)
}

/** [path, length, layout] of every chunk of every file under argv[1], from user.dfs.placement. */
const PY_CHUNK_LAYOUTS = `
import os, json, sys
out = []
for d, _, names in os.walk(sys.argv[1]):
    for n in names:
        p = os.path.join(d, n)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        pl = json.loads(os.getxattr(p, 'user.dfs.placement'))
        for c in pl['chunks']:
            out.append([p, c['length'], c.get('layout') or 'replicas:%d' % pl['replicas']])
emit(out)
`

describe(`randomized differential exercisers on an ${POLICY} directory`, () => {
  it('matches the native disk after every random operation', async () => {
    const result = await exercise('plain', SEED)
    expect(result.writes as number).toBeGreaterThan(STEPS / 8) // proof it wrote: the count moves with the seed
  }, 600_000)

  it('matches through mmap write-back, pwrite, truncates and fsync from two processes', async () => {
    const { native, mounted } = await ecDirs('mmap')
    const base = testSeed()
    console.log(`EC mmap exerciser seed ${base} (DFS_TEST_SEED=${base} repeats it)`)
    const files = [base, base + 1].map((seed, i) => ({ seed, native: join(native, `f${i}`), mounted: join(mounted, `f${i}`) }))
    const results = await Promise.all(files.map(f => py(PY_MMAP_IO, [f.native, f.mounted, String(f.seed), String(MMAP_OPS), String(CHUNK)], { timeout: 300_000 })))
    for (const [i, f] of files.entries()) expectOk(results[i]!, `mmap exerciser on ${POLICY}, seed ${f.seed} (DFS_TEST_SEED=${base})`, roots.dfs)
    await expectOnlyEc()
  }, 600_000)

  it('still matches, step for step, when a node folder is deleted half way through', async () => {
    const result = await exercise('node-deleted', SEED + 1, [String(Math.floor(STEPS / 2)), roots.nodes[0]!])
    expect(result.writes as number).toBeGreaterThan(STEPS / 8) // proof it wrote: the count moves with the seed
  }, 600_000)
})
