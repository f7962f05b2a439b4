// `dfs fsck --meta <dir> --repair` on erasure-coded files, as a user meets it (a real mount writes
// them into an ec:2+1 directory over 4 folder nodes, then is stopped): a deleted and a corrupt shard
// file are reported (exit 1) and rebuilt (exit 0, then healthy), a node folder gone has its shards
// rebuilt onto the node holding none of each stripe, and a stripe with m + 1 shards gone is listed
// LOST, left as it is, and the repair exits 1 — as for a replicated chunk with no intact copy.

import { readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DFS_BIN, REPO_ROOT, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run, sh } from '../helpers/run.js'
import type { FilePlacement } from '../../src/protocol/placement.js'

stopAllAfterAll()

const c = makeCluster(4, 'dfs-fsck-stripes-')
const env = { DFS_RUNTIME_DIR: join(c.root, 'runtime') }
afterAll(() => c.cleanup())

function dfs(...args: string[]) {
  return run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, env, timeout: 120_000 })
}

/** Where shard `shard` of chunk `chunk` of a file is stored: its node folder and its chunk file. */
function shardFile(placement: FilePlacement, chunk: number, shard: number): { node: string; path: string } {
  const ch = placement.chunks[chunk]!
  const id = ch.shards![shard]!.id
  const node = ch.copies.find((copy) => copy.shard === shard)!.address
  return { node, path: join(node, 'chunks', id.slice(0, 2), id) }
}

describe('dfs fsck --meta --repair on stripes', () => {
  it('rebuilds deleted, corrupt and node-gone shards; a lost stripe is reported, untouched, exit 1', async () => {
    const d = await c.start({ replicas: 2, chunkSize: '64k', env })
    const src = join(c.root, 'src')
    await sh(`mkdir -p ${src} ${c.mnt}/ec`)
    expect((await dfs('policy', 'set', `${c.mnt}/ec`, 'ec:2+1')).code).toBe(0)
    const placements: Record<string, FilePlacement> = {}
    for (const [name, size] of [['a', 3 * 65536 + 10_000], ['b', 65536 + 9_000]] as const) { // tails of at least k × 4 KiB: every chunk a stripe (chunkLayout)
      const r = await sh(`head -c ${size} /dev/urandom > ${src}/${name} && dd if=${src}/${name} of=${c.mnt}/ec/${name} bs=64k conv=fsync status=none`)
      expect(r.code, r.stderr).toBe(0)
      const info = await dfs('info', `${c.mnt}/ec/${name}`, '--json')
      expect(info.code, info.stderr).toBe(0)
      placements[name] = JSON.parse(info.stdout) as FilePlacement
      expect(placements[name].chunks.every((ch) => ch.layout === 'ec:2+1')).toBe(true)
    }
    await d.stop()

    // A deleted shard file and a corrupt one (two stripes of a).
    await rm(shardFile(placements.a, 0, 0).path)
    const corrupt = shardFile(placements.a, 1, 1).path
    const bytes = await readFile(corrupt)
    bytes[10] ^= 0xff
    await writeFile(corrupt, bytes)

    const check = await dfs('fsck', '--meta', c.meta)
    expect(check.code).toBe(1)
    expect(check.stdout).toMatch(/under-replicated \(a stripe: degraded, fewer than k \+ m intact shards\): 2/)
    expect(check.stdout).toMatch(/\/ec\/a chunk 0 .*ec:2\+1 stripe, 2 of 3 shards intact \(degraded, readable\); shard 0 on \S+: missing/)
    expect(check.stdout).toContain('problems found; run with --repair')

    const repair = await dfs('fsck', '--meta', c.meta, '--repair')
    expect(repair.code, repair.stdout + repair.stderr).toBe(0)
    expect(repair.stdout).toMatch(/repaired: 0 copies made, 2 shards rebuilt, 2 chunk maps fixed, 0 orphans removed/)
    expect(repair.stdout).toMatch(/\nrepaired\n?$/)
    expect(existsSync(corrupt)).toBe(false) // rebuilt on the node holding no shard of it; the corrupt copy removed
    const healthy = await dfs('fsck', '--meta', c.meta)
    expect(healthy.code, healthy.stdout).toBe(0)
    expect(healthy.stdout).toMatch(/healthy\n?$/)

    // A node folder gone: each of its shards rebuilt on the one node holding none of that stripe.
    const gone = c.nodes[3]!
    await rm(gone, { recursive: true })
    const again = await dfs('fsck', '--meta', c.meta, '--repair', '--json')
    expect(again.code, again.stdout + again.stderr).toBe(0)
    const report = JSON.parse(again.stdout)
    expect(report.repaired.failed).toEqual([])
    expect(report.repaired.shardsRebuilt).toBeGreaterThan(0) // 6 stripes on 3 of 4 nodes each: some had a shard there
    expect(report.repaired.shardsRebuilt).toBe(report.underReplicated.length)
    const after = JSON.parse((await dfs('fsck', '--meta', c.meta, '--json')).stdout)
    expect([after.lost, after.underReplicated, after.badReplicas, after.orphans]).toEqual([[], [], [], []])

    // m + 1 = 2 shards of b's first stripe gone (wherever the repairs put them): lost, the third stays, exit 1.
    const bShards = placements.b.chunks[0]!.shards!.map((shard) => shardPath(shard.id))
    for (const path of bShards.slice(0, 2)) await rm(path)
    const lost = await dfs('fsck', '--meta', c.meta, '--repair')
    expect(lost.code).toBe(1)
    expect(lost.stdout).toMatch(/LOST \(no intact copy; a stripe: fewer than k intact shards\): 1\n  \/ec\/b chunk 0 .*ec:2\+1 stripe, 1 of 3 shards intact \(lost, 2 needed to read\); shard 0 on \S+: missing; shard 1 on \S+: missing/)
    expect(lost.stdout).toMatch(/repaired: 0 copies made, 0 shards rebuilt, 0 chunk maps fixed/)
    expect(lost.stdout).toMatch(/NOT fully repaired\n?$/)
    expect(existsSync(bShards[2]!)).toBe(true)
    expect(bShards.slice(0, 2).map((path) => existsSync(path))).toEqual([false, false])
  }, 240_000)
})

/** The chunk file of a shard, in whichever node folder holds it now. */
function shardPath(id: string): string {
  const paths = c.nodes.map((node) => join(node, 'chunks', id.slice(0, 2), id)).filter((path) => existsSync(path))
  expect(paths, `shard ${id}`).toHaveLength(1)
  return paths[0]!
}
