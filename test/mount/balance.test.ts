// dfs balance and dfs drain through a real mount: a cluster of two nodes gets a third at a remount,
// `dfs balance` gives it a fair share, `dfs drain node_1` empties node_1 with a progress bar, and the
// drained node can then be left out of --nodes. Every file reads back byte-perfect throughout.

import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeCluster, stopAllAfterAll, type Cluster, type DfsDaemon } from '../helpers/mount.js'
import { dfs } from '../helpers/cli.js'
import { sh } from '../helpers/run.js'

stopAllAfterAll()

let cluster: Cluster
let daemon: DfsDaemon
const MOUNT_ARGS = ['--cache', '64k', '--scrub-rate', '0']

/** Chunk files in a node folder. */
async function chunkFiles(node: string): Promise<number> {
  const r = await sh(`find ${node}/chunks -type f | wc -l`)
  expect(r.code, r.stderr).toBe(0)
  return Number(r.stdout.trim())
}

/** Bytes of chunk files in a node folder. */
async function chunkBytes(node: string): Promise<number> {
  const r = await sh(`find ${node}/chunks -type f -printf '%s\\n' | awk '{ s += $1 } END { print s + 0 }'`)
  expect(r.code, r.stderr).toBe(0)
  return Number(r.stdout.trim())
}

async function expectFilesIntact(): Promise<void> {
  await sh('sync; echo 3 > /proc/sys/vm/drop_caches')
  const diff = await sh(`diff -r ${join(cluster.root, 'src', 'd')} ${cluster.mnt}/d`)
  expect(diff.code, diff.stdout + diff.stderr).toBe(0)
}

beforeAll(async () => {
  cluster = makeCluster(3, 'dfs-balance-')
  // Two nodes first, with files on them.
  daemon = await cluster.start({ nodes: cluster.nodes.slice(0, 2), chunkSize: '64k', replicas: 2, extraArgs: MOUNT_ARGS })
  const src = join(cluster.root, 'src')
  const made = await sh(`mkdir -p ${src}/d && for i in 1 2 3 4 5; do head -c $((i * 150000 + 11)) /dev/urandom > ${src}/d/f$i; done && cp -r ${src}/d ${cluster.mnt}/ && sync`)
  expect(made.code, made.stderr).toBe(0)
  await daemon.stop()
  // A third node joins at the next mount.
  daemon = await cluster.start({ nodes: cluster.nodes, extraArgs: MOUNT_ARGS })
})
afterAll(async () => cluster?.cleanup())

describe('dfs balance', () => {
  it('gives a node added at a remount a fair share of the chunks', async () => {
    const before = await Promise.all(cluster.nodes.map(chunkFiles))
    expect(before[2]).toBe(0)
    const r = await dfs('balance', cluster.mnt, '--json')
    expect(r.code, r.stderr).toBe(0)
    const result = JSON.parse(r.stdout)
    expect(result).toMatchObject({ kind: 'balance', state: 'done', balanced: true, failedChunks: 0 })
    expect(r.stderr, 'no progress bar with --json').toBe('')

    const after = await Promise.all(cluster.nodes.map(chunkFiles))
    const total = after.reduce((a, b) => a + b)
    expect(total, 'as many copies as before').toBe(before.reduce((a, b) => a + b))
    expect(after[2], 'the new node holds about a third of the copies').toBeGreaterThanOrEqual(total / 3 - 4)
    // Usage in bytes even within the tolerance: 5 % of the mean or one 64 KiB chunk.
    const bytes = await Promise.all(cluster.nodes.map(chunkBytes))
    const mean = bytes.reduce((a, b) => a + b) / 3
    expect(result.toleranceBytes).toBe(Math.max(Math.ceil(0.05 * mean), 64 * 1024))
    for (const used of bytes) expect(Math.abs(used - mean)).toBeLessThanOrEqual(result.toleranceBytes)
    await expectFilesIntact()
  })
})

describe('dfs drain', () => {
  it('moves everything off node_1 with a progress bar, and says how to remove it', async () => {
    expect(await chunkFiles(cluster.nodes[0])).toBeGreaterThan(0)
    const r = await dfs('drain', cluster.nodes[0], cluster.mnt)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(new RegExp(`drain ${cluster.nodes[0]} \\[#+\\]\\s+100%\\s+\\d+/\\d+ chunks`))
    expect(r.stdout).toContain(`dfs: drained ${cluster.nodes[0]}`)
    expect(r.stdout).toContain(`--nodes ${cluster.nodes[1]},${cluster.nodes[2]}`)

    // node_1 holds no chunk at all now (nothing was written while it drained), so none any file references.
    expect(await chunkFiles(cluster.nodes[0])).toBe(0)
    const s = JSON.parse((await dfs('status', cluster.mnt, '--json')).stdout)
    expect(s.nodes.find((n: any) => n.address === cluster.nodes[0])).toMatchObject({ draining: true })
    expect(s.rebalance).toMatchObject({ kind: 'drain', state: 'done', remainingChunks: 0 })
    expect(s.chunks).toMatchObject({ underReplicated: 0, unavailable: 0 })
    expect((await dfs('status', cluster.mnt)).stdout).toMatch(/draining/)
    await expectFilesIntact()
  })

  it('refuses to drain a node when fewer than R alive nodes would be left', async () => {
    // node_1 is drained already: draining node_2 would leave one node for two replicas.
    const r = await dfs('drain', cluster.nodes[1], cluster.mnt)
    expect(r.code).toBe(1)
    expect(r.stderr.trim()).toMatch(/^dfs: draining .*node_2 would leave 1 alive node for 2 replicas; add a node first \[NOT_ENOUGH_NODES\]$/)
  })

  it('lets the next mount leave the drained node out of --nodes', async () => {
    await daemon.stop()
    daemon = await cluster.start({ nodes: cluster.nodes.slice(1), extraArgs: MOUNT_ARGS })
    const s = JSON.parse((await dfs('status', cluster.mnt, '--json')).stdout)
    expect(s.nodes.map((n: any) => n.address).sort()).toEqual(cluster.nodes.slice(1).sort())
    expect(s.chunks).toMatchObject({ underReplicated: 0, unavailable: 0 })
    await expectFilesIntact()
  })
})
