// Cancelling and undoing through a real mount: Ctrl-C of `dfs drain` stops only the watching (the
// drain goes on, and the command says how to cancel it), `dfs drain --cancel` stops it with every
// chunk at R copies, the node stays out of the write pool across a daemon restart, and
// `dfs drain --undo` puts it back (copies already moved stay where they are).

import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DFS_BIN, REPO_ROOT, makeCluster, stopAllAfterAll, type Cluster, type DfsDaemon } from '../helpers/mount.js'
import { dfs, statusOf, until } from '../helpers/cli.js'
import { sh } from '../helpers/run.js'

stopAllAfterAll()

let cluster: Cluster
let daemon: DfsDaemon
// Moves at 256 KiB/s: the drain below takes several seconds, long enough to interrupt.
const MOUNT_ARGS = ['--cache', '64k', '--scrub-rate', '0', '--heal-bandwidth', '256k']
const start = () => cluster.start({ chunkSize: '64k', replicas: 2, extraArgs: MOUNT_ARGS })

async function chunkFiles(node: string): Promise<number> {
  const r = await sh(`find ${node}/chunks -type f | wc -l`)
  expect(r.code, r.stderr).toBe(0)
  return Number(r.stdout.trim())
}

async function expectFilesIntact(): Promise<void> {
  const diff = await sh(`diff -r ${join(cluster.root, 'src', 'd')} ${cluster.mnt}/d`)
  expect(diff.code, diff.stdout + diff.stderr).toBe(0)
}

/** fsck while mounted: no chunk lost, under-replicated or with a bad copy. */
async function expectRCopies(): Promise<void> {
  const r = await dfs('fsck', '--meta', cluster.meta, '--json')
  const report = JSON.parse(r.stdout)
  expect([report.lost, report.underReplicated, report.badReplicas]).toEqual([[], [], []])
  expect(r.stderr, 'no progress bar with --json').not.toMatch(/fsck \[/)
}

const nodeOf = (s: any, address: string) => s.nodes.find((n: any) => n.address === address)

beforeAll(async () => {
  cluster = makeCluster(3, 'dfs-cancel-')
  daemon = await start()
  const src = join(cluster.root, 'src')
  const made = await sh(`mkdir -p ${src}/d && for i in 1 2 3 4; do head -c $((i * 300000 + 7)) /dev/urandom > ${src}/d/f$i; done && cp -r ${src}/d ${cluster.mnt}/ && sync`)
  expect(made.code, made.stderr).toBe(0)
})
afterAll(async () => cluster?.cleanup())

describe('cancel and undo a drain', () => {
  it('Ctrl-C stops watching only; --cancel stops the drain with R copies; the node stays out after a restart; --undo takes it back', async () => {
    const node = cluster.nodes[0]
    // The following command, interrupted as a user would with Ctrl-C.
    const follower = spawn(process.execPath, [DFS_BIN, 'drain', node, cluster.mnt], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    follower.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const exited = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)))
    try {
      await until(async () => ((await statusOf(cluster.mnt)).rebalance?.movedChunks ?? 0) >= 1, 30_000)
      follower.kill('SIGINT')
      expect(await exited).toBe(130)
    } finally {
      follower.kill('SIGKILL')
    }
    expect(stderr).toMatch(/drain .*node_1 \[#*-*\]/) // the plain progress line without a terminal
    expect(stderr).toContain(`dfs: stopped watching; the drain goes on in the daemon (dfs status ${cluster.mnt} shows it; dfs drain --cancel ${cluster.mnt} stops it)`)
    expect((await statusOf(cluster.mnt)).rebalance).toMatchObject({ kind: 'drain', state: 'running' })

    const cancel = await dfs('drain', '--cancel', cluster.mnt)
    expect(cancel.code, cancel.stderr).toBe(0)
    expect(cancel.stdout).toMatch(new RegExp(`^dfs: drain of ${node} cancelled: moved \\d+ of \\d+ chunks`))
    expect(cancel.stdout).toContain(`dfs drain --undo ${node} ${cluster.mnt} takes it back`)
    let s = await statusOf(cluster.mnt)
    expect(s.rebalance).toMatchObject({ kind: 'drain', state: 'cancelled' })
    expect(s.rebalance.remainingChunks).toBeGreaterThan(0)
    expect(nodeOf(s, node)).toMatchObject({ draining: true })
    expect(s.chunks).toMatchObject({ underReplicated: 0, unavailable: 0 })
    await expectRCopies()
    await expectFilesIntact()
    const again = await dfs('drain', '--cancel', cluster.mnt)
    expect(again.code).toBe(1)
    expect(again.stderr.trim()).toBe('dfs: no drain is running [NOT_RUNNING]')

    // A restart keeps the node out of the write pool.
    await daemon.stop()
    daemon = await start()
    s = await statusOf(cluster.mnt)
    expect(nodeOf(s, node)).toMatchObject({ draining: true })
    const held = await chunkFiles(node)
    expect((await sh(`head -c 1000000 /dev/urandom > ${cluster.mnt}/while-draining && sync`)).code).toBe(0)
    expect(await chunkFiles(node), 'a draining node takes no new chunks').toBe(held)

    // Undo: back in the write pool, nothing moved back.
    const undo = await dfs('drain', '--undo', node, cluster.mnt)
    expect(undo.code, undo.stderr).toBe(0)
    expect(undo.stdout).toBe(`dfs: ${node} takes new chunks again; copies already moved stay where they are (dfs balance evens usage out)\n`)
    s = await statusOf(cluster.mnt)
    expect(nodeOf(s, node).draining).toBeUndefined()
    expect(await chunkFiles(node)).toBe(held)
    expect((await sh(`head -c 2000000 /dev/urandom > ${cluster.mnt}/after-undo && sync`)).code).toBe(0)
    expect(await chunkFiles(node), 'it takes new chunks again').toBeGreaterThan(held)
    await expectRCopies()
    await expectFilesIntact()

    // And after another restart it stays in.
    await daemon.stop()
    daemon = await start()
    expect(nodeOf(await statusOf(cluster.mnt), node).draining).toBeUndefined()
  })

  it('a drain interrupted by a daemon restart goes on after it', async () => {
    const node = cluster.nodes[1]
    const follower = spawn(process.execPath, [DFS_BIN, 'drain', node, cluster.mnt], { cwd: REPO_ROOT, stdio: 'ignore' })
    const exited = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)))
    try {
      await until(async () => ((await statusOf(cluster.mnt)).rebalance?.movedChunks ?? 0) >= 1, 30_000)
      await daemon.stop()
      expect(await exited, 'the follower sees the daemon go').not.toBe(0)
    } finally {
      follower.kill('SIGKILL')
    }
    expect(await chunkFiles(node)).toBeGreaterThan(0)

    daemon = await start()
    expect(nodeOf(await statusOf(cluster.mnt), node)).toMatchObject({ draining: true })
    await until(async () => (await statusOf(cluster.mnt)).rebalance?.state === 'done', 60_000)
    const s = await statusOf(cluster.mnt)
    expect(s.rebalance).toMatchObject({ kind: 'drain', node: { address: node }, remainingChunks: 0 })
    expect(s.chunks).toMatchObject({ underReplicated: 0, unavailable: 0 })
    expect(await chunkFiles(node)).toBe(0)
    await expectRCopies()
    await expectFilesIntact()
  })

  it('dfs balance --cancel with no balance running says so and changes nothing', async () => {
    const r = await dfs('balance', '--cancel', cluster.mnt)
    expect(r.code).toBe(1)
    expect(r.stderr.trim()).toBe('dfs: no balance is running [NOT_RUNNING]')
  })

  it('a drain cancelled while its command follows it: that command says cancelled and exits 3, not a failure', async () => {
    // The drain above left node_2 empty and out of the pool: take it back, and drain node_1 onto it.
    const back = await dfs('drain', '--undo', cluster.nodes[1], cluster.mnt)
    expect(back.code, back.stderr).toBe(0)
    const node = cluster.nodes[0]
    const follower = spawn(process.execPath, [DFS_BIN, 'drain', node, cluster.mnt], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    follower.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const exited = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)))
    try {
      await until(async () => {
        const job = (await statusOf(cluster.mnt)).rebalance
        return job?.node?.address === node && job.movedChunks >= 1
      }, 30_000)
      const cancel = await dfs('drain', '--cancel', cluster.mnt)
      expect(cancel.code, cancel.stderr).toBe(0)
      expect(await exited, stderr).toBe(3)
    } finally {
      follower.kill('SIGKILL')
    }
    const last = stderr.trimEnd().split('\n').pop()
    expect(last).toMatch(/^dfs: drain cancelled \(dfs drain --cancel\) after moving \d+ of \d+ chunks; every chunk keeps its copies, run it again to finish \[JOB_CANCELLED\]$/)
    expect(stderr).not.toContain('[EIO]')
    const undo = await dfs('drain', '--undo', node, cluster.mnt)
    expect(undo.code, undo.stderr).toBe(0)
    await expectRCopies()
    await expectFilesIntact()
  })
})
