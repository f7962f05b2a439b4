// `dfs policy apply <dir>` as a user runs it, against a real mount daemon (3 folder nodes, R = 2):
// bad input is one line, a non-zero exit and no job; --no-wait starts and returns, `dfs status`
// shows the conversion in one line, --cancel stops it (exit 0; the follower of a cancelled job exits
// 3); and replicas -> ec:2+1 -> replicas through the mount keeps every byte (cmp after a remount)
// with a progress bar.

import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ConversionStatus } from '../../src/cluster/convert/conversionStatus.js'
import { dfs, statusOf, until } from '../helpers/cli.js'
import { type Cluster, type DfsDaemon, makeCluster } from '../helpers/mount.js'
import { sh } from '../helpers/run.js'

const KiB = 1024
// The short tail and the small file are still stripes under ec:2+1: a chunk under k × 4 KiB would be
// stored as m + 1 copies instead (chunks/layout.ts chunkLayout), already what replicas:2 is.
const TAIL = 8 * KiB + 1000
const SMALL = 8 * KiB + 10

let cluster: Cluster
let daemon: DfsDaemon | undefined
beforeAll(async () => {
  cluster = makeCluster(3, 'dfs-policy-apply-')
})
afterAll(async () => {
  await daemon?.stop()
  await cluster?.cleanup()
})

async function mountIt(extraArgs: string[] = []): Promise<void> {
  await daemon?.stop()
  daemon = await cluster.start({ replicas: 2, chunkSize: '64k', extraArgs })
}

/** Files under <mnt>/<dir>: one of 5 chunks (the last short), one in a subfolder; their originals beside the mount. */
async function writeTree(dir: string): Promise<string[]> {
  const src = join(cluster.root, `src-${dir}`)
  await mkdir(join(src, 'sub'), { recursive: true })
  const names = ['big', 'sub/small']
  await sh(`head -c ${4 * 64 * KiB + TAIL} /dev/urandom > ${src}/big && head -c ${SMALL} /dev/urandom > ${src}/sub/small`)
  const r = await sh(`mkdir -p ${cluster.mnt}/${dir} && cp -r ${src}/. ${cluster.mnt}/${dir}/ && sync`)
  expect(r.code, r.stderr).toBe(0)
  return names.map((n) => `${src}/${n}`)
}

async function sameBytes(dir: string): Promise<void> {
  for (const name of ['big', 'sub/small']) {
    const r = await sh(`cmp ${cluster.root}/src-${dir}/${name} ${cluster.mnt}/${dir}/${name}`)
    expect(r.code, `${name}: ${r.stdout}${r.stderr}`).toBe(0)
  }
}

describe('dfs policy apply', () => {
  it('bad input: one line, non-zero exit, no job started', async () => {
    await mountIt()
    await writeTree('bad')
    const outside = await mkdtemp(join(tmpdir(), 'dfs-outside-'))
    try {
      const cases: [string[], RegExp][] = [
        [[outside], /is not in a dfs mount.*\[NOT_MOUNTED\]/],
        [[`${cluster.mnt}/bad/big`], /big is not a directory: .*give the folder \[ENOTDIR\]/],
        [[`${cluster.mnt}/nope`], /nope: no such file or directory \[ENOENT\]/],
        [[], /name the directory .* \[BAD_ARGUMENT\]/],
        [['--cancel', '--no-wait', cluster.mnt], /not both \[BAD_ARGUMENT\]/],
      ]
      for (const [args, message] of cases) {
        const r = await dfs('policy', 'apply', ...args)
        expect(r.code, `dfs policy apply ${args.join(' ')}`).toBe(1)
        expect(r.stderr.trim().split('\n'), `dfs policy apply ${args.join(' ')}`).toHaveLength(1)
        expect(r.stderr).toMatch(message)
      }
      expect((await statusOf(cluster.mnt)).conversion).toBeUndefined()
      const none = await dfs('policy', 'apply', '--cancel', cluster.mnt)
      expect(none.code).toBe(1)
      expect(none.stderr).toMatch(/no policy apply is running.*\[NOT_RUNNING\]/)
    } finally {
      await rm(outside, { recursive: true, force: true })
    }
  })

  it('--no-wait starts and returns; dfs status shows it; --cancel stops it, and its follower exits 3', async () => {
    // A copy budget so small that the job is still running while the commands below look at it.
    await mountIt(['--heal-bandwidth', '16k'])
    await writeTree('slow')
    const set = await sh(`setfattr -n user.dfs.policy -v ec:2+1 ${cluster.mnt}/slow`)
    expect(set.code, set.stderr).toBe(0)

    const started = await dfs('policy', 'apply', '--no-wait', '--json', `${cluster.mnt}/slow`)
    expect(started.code, started.stderr).toBe(0)
    const first = JSON.parse(started.stdout) as ConversionStatus
    expect(first).toMatchObject({ path: '/slow', policy: 'ec:2+1', state: 'running' })

    // A second one while it runs: refused, one line.
    const again = await dfs('policy', 'apply', `${cluster.mnt}/slow`)
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/already running.*\[ALREADY_RUNNING\]/)

    const s = await statusOf(cluster.mnt)
    expect(s.conversion).toMatch(/^policy apply \/slow \(ec:2\+1\): (counting|converting), /)
    const text = await dfs('status', cluster.mnt)
    expect(text.stdout).toMatch(/^policy apply \/slow \(ec:2\+1\): /m)

    const cancelled = await dfs('policy', 'apply', '--cancel', cluster.mnt)
    expect(cancelled.code, cancelled.stderr).toBe(0)
    expect(cancelled.stdout).toMatch(/^dfs: policy apply of \/slow cancelled: converted \d+ of 6 chunks/)
    expect((await statusOf(cluster.mnt)).conversion).toMatch(/: cancelled, /)

    // Followed to its end by one command, cancelled by another: exit status 3, not a failure.
    const follow = dfs('policy', 'apply', `${cluster.mnt}/slow`)
    await until(async () => /: (counting|converting), /.test((await statusOf(cluster.mnt)).conversion ?? ''), 60_000)
    expect((await dfs('policy', 'apply', '--cancel', `${cluster.mnt}/slow/sub`)).code).toBe(0)
    const followed = await follow
    expect(followed.code, followed.stderr).toBe(3)
    expect(followed.stderr).toMatch(/^policy apply \S*\/slow \[[#-]+\] +\d+%  /m) // the progress line (no terminal: plain lines)
    expect(followed.stderr).toMatch(/cancelled \(dfs policy apply --cancel\).*\[JOB_CANCELLED\]/)
    await sameBytes('slow')
  })

  it('replicas -> ec:2+1 -> replicas through the mount keeps every byte', async () => {
    await mountIt()
    await writeTree('cold')
    expect((await sh(`setfattr -n user.dfs.policy -v ec:2+1 ${cluster.mnt}/cold`)).code).toBe(0)
    const to = await dfs('policy', 'apply', `${cluster.mnt}/cold`)
    expect(to.code, to.stderr).toBe(0)
    expect(to.stdout).toMatch(/^dfs: converted 6 of 6 chunks .* of 2 files under .*cold to ec:2\+1/)
    expect(to.stdout).toMatch(/stored on nodes: .* \(1\.5\dx the data\)/)
    expect(to.stderr).toMatch(/policy apply .*cold \[#+\] 100%/)
    await mountIt() // read back from the nodes, not from any cache
    await sameBytes('cold')

    expect((await sh(`setfattr -x user.dfs.policy ${cluster.mnt}/cold`)).code).toBe(0)
    const back = await dfs('policy', 'apply', '--json', `${cluster.mnt}/cold`)
    expect(back.code, back.stderr).toBe(0)
    expect(JSON.parse(back.stdout)).toMatchObject({ state: 'done', policy: 'replicas:2', chunksDone: 6, failedChunks: 0 })
    await mountIt()
    await sameBytes('cold')
    const nothing = await dfs('policy', 'apply', `${cluster.mnt}/cold`)
    expect(nothing.stdout).toMatch(/nothing to convert/)
  })
})
