// A policy round trip through the mount: files written as 2 replicas, the directory's policy set to
// ec:2+1 with setfattr and `dfs policy apply <dir>` run, then back to replicas:2 and applied again.
// Every byte reads back after each conversion (from the nodes: no chunk cache, page cache dropped),
// and what the node folders hold per byte of file data follows the policy: 2, then about
// (k + m) / k = 1.5 (a short tail's shards are padded to a multiple of 8 bytes), then 2 again;
// `dfs status` measures the same overhead for the one layout in use.

import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MIN_SHARD_BYTES } from '../../src/chunks/layout.js'
import { dfs, statusOf, until } from '../helpers/cli.js'
import { stopAllAfterAll } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { expectOk } from '../mount/fixtures.js'
import { CHUNK, type EcMount, TAIL, bytesOfFiles, bytesOnNodes, expectSameFiles, mountWithPolicy, putFile, setPolicy } from './fixtures.js'

stopAllAfterAll()

// Every chunk at least k × 4 KiB, so that every one is a stripe under ec:2+1 (a smaller one would be
// 2 copies: chunks/layout.ts chunkLayout); 'small' is the smallest stripe, c's tail an odd length past it.
const FILES: [string, number][] = [['a', 3 * CHUNK + TAIL], ['b', 4 * CHUNK], ['sub/c', 2 * CHUNK + 2 * MIN_SHARD_BYTES + 999], ['small', 2 * MIN_SHARD_BYTES]]

describe('dfs policy apply: replicas -> ec -> replicas', () => {
  let ec: EcMount
  let data: number
  const overhead = async () => (await bytesOnNodes(ec.cluster.nodes)) / data
  /** Until the node folders hold `ratio` bytes per byte of file data (old pieces go once the new are durable). */
  const untilOverhead = async (ratio: number) => {
    await until(async () => Math.abs((await overhead()) - ratio) < 0.02, 120_000).catch(async err => {
      throw new Error(`stored bytes per byte of data ${(await overhead()).toFixed(3)}, want about ${ratio}: ${(err as Error).message}`)
    })
  }

  /** What `dfs status` measures: one layout in use, at about `ratio` bytes on nodes per byte of data. */
  const expectStatusOverhead = async (layout: string, ratio: number) => {
    const s = await statusOf(ec.cluster.mnt)
    expect(s.overhead.map((o: { layout: string }) => o.layout), JSON.stringify(s.overhead)).toEqual([layout])
    expect(s.overhead[0].overhead).toBeCloseTo(ratio, 1)
    expect(s.overhead[0].dataBytes).toBe(data)
  }

  beforeAll(async () => {
    ec = await mountWithPolicy(3, 'replicas:2', { name: 'd', extraArgs: ['--orphan-grace', '1s'] })
    await mkdir(join(ec.src, 'sub'))
    expectOk(await run('mkdir', [join(ec.dir, 'sub')]), 'mkdir sub', ec.dfs)
    for (const [name, size] of FILES) await putFile(ec, name, size)
    data = await bytesOfFiles(ec.src)
  })
  afterAll(async () => ec?.cluster.cleanup())

  const apply = async () => {
    const r = await dfs('policy', 'apply', ec.dir)
    expectOk(r, `dfs policy apply ${ec.dir}`, ec.dfs)
    return r
  }

  it('starts as 2 copies of every byte', async () => {
    expect(await overhead()).toBeCloseTo(2, 5)
    await expectStatusOverhead('replicas:2', 2)
  })

  it('converts to ec:2+1 keeping every byte, at about 1.5 bytes stored per byte', async () => {
    await setPolicy(ec.dir, 'ec:2+1', ec.dfs)
    await apply()
    await untilOverhead(1.5)
    await expectStatusOverhead('ec:2+1', 1.5)
    await expectSameFiles(ec, 'after converting to ec:2+1')
  })

  it('converts back to replicas:2 keeping every byte, at 2 bytes stored per byte', async () => {
    await setPolicy(ec.dir, 'replicas:2', ec.dfs)
    await apply()
    await untilOverhead(2)
    await expectStatusOverhead('replicas:2', 2)
    await expectSameFiles(ec, 'after converting back to replicas:2')
  })
})
