// Erasure-coded files through a real mount under every loss pattern the code can survive, and one
// more loss than that. For ec:2+1 on 3 node folders and ec:4+2 on 6 (every stripe on every node):
//
// - every set of up to m node folders taken away (moved aside while mounted, as a disk unplugged;
//   put back before the next pattern, and the cluster healthy again) leaves every file, read from
//   the nodes with the page cache dropped, byte-perfect: several 64 KiB chunks, a short tail, a small
//   file;
// - then the shard files of one file are removed on the nodes: m shards of chunk 0 (still readable),
//   m + 1 of chunk 1 and of the tail (lost), none of chunk 2. dd of each chunk's range: EIO for
//   exactly chunks 1 and 3, the rest byte-perfect; and the daemon keeps serving everything else.

import { readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dfs } from '../helpers/cli.js'
import { stopAllAfterAll } from '../helpers/mount.js'
import { run, runBuffer } from '../helpers/run.js'
import { expectOk } from '../mount/fixtures.js'
import {
  CHUNK, type EcMount, type ShardFile, TAIL, chunkPath, dropCaches, expectSameFiles, mountWithPolicy, putFile, subsetsUpTo, untilHealthy,
  writeFindingShards,
} from './fixtures.js'

stopAllAfterAll()

const SIZE = 3 * CHUNK + TAIL

function lossSuite(k: number, m: number, nodeCount: number): void {
  describe(`ec:${k}+${m} on ${nodeCount} nodes`, () => {
    let ec: EcMount
    let shards: ShardFile[][]

    beforeAll(async () => {
      ec = await mountWithPolicy(nodeCount, `ec:${k}+${m}`)
      await putFile(ec, 'a', SIZE)
      await putFile(ec, 'small', 1000)
      shards = await writeFindingShards(ec, 'c', SIZE, k + m)
    })
    afterAll(async () => ec?.cluster.cleanup())

    it('stores each chunk as k + m shards, each on its own node, as dfs info says; a short tail padded to a multiple of 8 bytes only', async () => {
      expect(shards).toHaveLength(4)
      for (const stripe of shards) expect(new Set(stripe.map(s => s.node)).size).toBe(k + m)
      const r = await dfs('info', join(ec.dir, 'c'), '--json')
      expectOk(r, 'dfs info --json c', ec.dfs)
      const info = JSON.parse(r.stdout)
      const nodeIds = await Promise.all(ec.cluster.nodes.map(async node => JSON.parse(await readFile(join(node, 'dfs-node.json'), 'utf8')).nodeId as string))
      for (const [i, chunk] of info.chunks.entries()) {
        expect(chunk.layout).toBe(`ec:${k}+${m}`)
        const onDisk = new Map(shards[i]!.map(s => [s.id, nodeIds[s.node]]))
        expect(new Map(chunk.shards.map((s: { id: string; nodeId: string }) => [s.id, s.nodeId]))).toEqual(onDisk)
        const shardLen = Math.max(8, Math.ceil(chunk.length / k / 8) * 8)
        for (const s of shards[i]!) expect((await stat(chunkPath(ec.cluster.nodes[s.node]!, s.id))).size).toBe(shardLen)
      }
      expect(info.chunks.map((c: { length: number }) => c.length)).toEqual([CHUNK, CHUNK, CHUNK, TAIL])
    })

    const patterns = subsetsUpTo(nodeCount, m)
    it(`reads every file back byte-perfect with any ${m === 1 ? 'one node folder' : `${m} node folders or fewer`} gone (${patterns.length} patterns)`, async () => {
      const nodes = ec.cluster.nodes
      for (const pattern of patterns) {
        // Whether a read first tries a gone node's data shard and fails over (io.failovers), or the
        // node already left "alive" (a heartbeat first: timing) and the read takes a parity shard in
        // its place, a stripe that lost a data shard is decoded: the bytes are what is asserted.
        const gone = pattern.map(i => nodes[i]!)
        for (const node of gone) await rename(node, `${node}.away`)
        try {
          await expectSameFiles(ec, `without ${pattern.map(i => `node_${i + 1}`).join(', ') || 'no node'}`)
        } finally {
          for (const node of gone) await rename(`${node}.away`, node)
        }
        // Back to every node alive and every stripe whole before the next pattern, so losses never add up.
        await untilHealthy(ec.cluster.mnt)
      }
    })

    it(`gives EIO for exactly the chunks that lost ${m + 1} shards, and keeps serving the rest`, async () => {
      const nodes = ec.cluster.nodes
      const remove = async (stripe: ShardFile[], count: number) => {
        for (const s of stripe.slice(0, count)) await rm(chunkPath(nodes[s.node]!, s.id))
      }
      await remove(shards[0]!, m) // still readable: any k of k + m
      await remove(shards[1]!, m + 1)
      await remove(shards[3]!, m + 1) // the short tail
      await dropCaches()

      const file = join(ec.dir, 'c')
      const want = await readFile(join(ec.src, 'c'))
      // The lost ones first: a failed read must not spoil the reads after it.
      for (const index of [1, 3, 0, 2]) {
        const r = await runBuffer('dd', [`if=${file}`, `bs=${CHUNK}`, `skip=${index}`, 'count=1', 'status=none'])
        if (index === 1 || index === 3) {
          expect(r.code, `dd of chunk ${index} should fail: ${r.stderr}`).not.toBe(0)
          expect(r.stderr).toMatch(/Input\/output error/)
        } else {
          expectOk(r, `dd of chunk ${index}`, ec.dfs)
          expect(r.stdout.equals(want.subarray(index * CHUNK, (index + 1) * CHUNK)), `chunk ${index} of c`).toBe(true)
        }
      }
      // A read that crosses into a lost chunk fails too; one that ends just before it does not.
      const before = await runBuffer('dd', [`if=${file}`, 'bs=4096', `skip=${CHUNK / 4096 - 1}`, 'count=1', 'status=none'])
      expectOk(before, 'dd of the last 4 KiB before chunk 1', ec.dfs)
      expect(before.stdout.equals(want.subarray(CHUNK - 4096, CHUNK))).toBe(true)
      const crossing = await runBuffer('dd', [`if=${file}`, 'bs=4096', `skip=${CHUNK / 4096 - 1}`, 'count=2', 'status=none'])
      expect(crossing.code, `dd across the start of chunk 1 should fail: ${crossing.stderr}`).not.toBe(0)
      expect(crossing.stderr).toMatch(/Input\/output error/)

      // Everything else still reads, and the daemon is still there.
      for (const name of ['a', 'small']) expectOk(await run('cmp', [join(ec.src, name), join(ec.dir, name)]), `cmp ${name}`, ec.dfs)
      expectOk(await run('ls', ['-l', ec.dir]), 'ls -l', ec.dfs)
      expect(ec.dfs.exitStatus()).toBeNull()
    })
  })
}

lossSuite(2, 1, 3)
lossSuite(4, 2, 6)
