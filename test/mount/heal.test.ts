// Self-healing through a real mount: lose a node folder while mounted, and the daemon restores two
// copies of every chunk by itself (heartbeats find the node dead, the healer re-replicates), while
// every file keeps reading back byte-perfect. Short thresholds keep the test quick.

import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeCluster, stopAllAfterAll, type Cluster } from '../helpers/mount.js'
import { dfs, statusOf, until } from '../helpers/cli.js'
import { sh } from '../helpers/run.js'

stopAllAfterAll()

let cluster: Cluster
const status = () => statusOf(cluster.mnt)

beforeAll(async () => {
  cluster = makeCluster(3, 'dfs-heal-')
  await cluster.start({
    chunkSize: '64k',
    extraArgs: ['--cache', '64k', '--suspect-after', '1s', '--dead-after', '2s', '--heal-grace', '1s', '--scrub-rate', '0'],
  })
  const src = join(cluster.root, 'src')
  const made = await sh(`mkdir -p ${src}/d && for i in 1 2 3 4 5 6; do head -c $((i * 200000 + 7)) /dev/urandom > ${src}/d/f$i; done && cp -r ${src}/d ${cluster.mnt}/ && sync`)
  expect(made.code, made.stderr).toBe(0)
})
afterAll(async () => cluster?.cleanup())

describe('self-healing', () => {
  it('restores two copies of everything after rm -rf of a node folder, without anyone acting', async () => {
    const before = await status()
    expect(before.chunks.referenced).toBeGreaterThan(30)
    // The daemon may be writing into the folder meanwhile (a user's rm -rf races it the same way): retried.
    await rm(cluster.nodes[0], { recursive: true, force: true, maxRetries: 20 })
    await until(async () => {
      const s = await status()
      return s.healer.underReplicated === 0 && s.chunks.underReplicated === 0 && s.healer.copiedChunks > 0
    }, 120_000)
    const s = await status()
    expect(s.healer.lost).toBe(0)
    expect(s.nodes.find((n: any) => n.address === cluster.nodes[0]).health).toBe('dead')
    // Byte-perfect, read from the nodes (drop the page cache; the chunk cache holds 64 KiB at most).
    await sh('sync; echo 3 > /proc/sys/vm/drop_caches')
    const diff = await sh(`diff -r ${join(cluster.root, 'src', 'd')} ${cluster.mnt}/d`)
    expect(diff.code, diff.stdout + diff.stderr).toBe(0)
  })

  it('fsck while mounted shows the daemon\'s view: node health and the healer', async () => {
    const r = await dfs('fsck', '--meta', cluster.meta, '--json')
    const report = JSON.parse(r.stdout)
    expect(report.daemon.mountpoint).toBe(cluster.mnt)
    expect(report.daemon.healer).toMatchObject({ underReplicated: 0, lost: 0 })
    expect(report.daemon.healer.copiedChunks).toBeGreaterThan(0)
    const text = await dfs('fsck', '--meta', cluster.meta)
    expect(text.stdout).toMatch(/mounted at .*; the daemon sees 2 of 3 nodes alive, and its healer is/)
  })

  it('leaves a cluster that fsck finds with R copies of every chunk', async () => {
    expect((await dfs('unmount', cluster.mnt)).code).toBe(0)
    const r = await dfs('fsck', '--meta', cluster.meta, '--json')
    const report = JSON.parse(r.stdout)
    expect(report.lost).toEqual([])
    expect(report.underReplicated).toEqual([])
    expect(report.nodes.filter((n: any) => !n.reachable).map((n: any) => n.address)).toEqual([cluster.nodes[0]])
  })
})
