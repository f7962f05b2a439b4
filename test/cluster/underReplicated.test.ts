// A write that got fewer than R copies (every other node full) is the healer's at once: counted
// under-replicated and queued by a scan right after it, not at the next periodic scan (an hour away
// here), and copied as soon as a node has room again.

import { afterEach, describe, expect, it } from 'vitest'
import { Healer } from '../../src/cluster/healer/Healer.js'
import { ROOT_INO, S_IFREG } from '../../src/meta/namespace/types.js'
import { type HealCluster, makeHealCluster, randomChunk, until } from './healFixtures.js'

const KiB = 1024
const HOUR = 3_600_000

let cluster: HealCluster | undefined
let healer: Healer | undefined
afterEach(async () => {
  await healer?.stop()
  healer = undefined
  if (process.env.DFS_TEST_LOG && cluster) console.log(cluster.logs.join('\n'))
  await cluster?.cleanup()
  cluster = undefined
})

describe('Healer: a write with fewer than R copies', () => {
  it('is counted and queued at once, and copied when a node has room again', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 3 }))
    healer = new Healer({
      meta: c.meta, chunks: c.chunks, registry: c.registry, replicas: 3, log: c.log,
      options: { scanIntervalMs: HOUR, orphanIntervalMs: HOUR, hintDelayMs: 20, graceMs: HOUR },
    })
    healer.start()
    const h = healer
    await until(() => h.status().scans >= 1 && h.status().state === 'idle', 20_000, 'the first scan')
    const scans = h.status().scans

    // Two nodes are full: the chunk gets one copy, and the file records it in the same turn.
    for (const i of [1, 2]) c.nodes[i].failPuts = 'NODE_FULL'
    const inode = c.meta.commit({ op: 'mknod', parent: ROOT_INO, name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: Date.now() }) as { ino: number }
    const data = randomChunk(16 * KiB)
    const ref = await c.chunks.write(data)
    c.meta.commit({ op: 'chunk', ino: inode.ino, index: 0, ref, size: data.length, mtime: Date.now(), ctime: Date.now() })
    expect(ref.nodes).toHaveLength(1)

    await until(() => h.status().scans > scans && h.status().state === 'idle', 20_000, 'a scan soon after the write')
    expect(h.status().underReplicated).toBe(1)

    // Room again on both: copied without waiting for the periodic scan.
    for (const i of [1, 2]) {
      c.nodes[i].failPuts = undefined
      c.registry.markHasRoom(c.nodes[i].nodeId)
    }
    await until(() => c.ref(inode.ino, 0).nodes.length === 3, 20_000, 'three copies')
    await until(() => h.status().underReplicated === 0, 20_000, 'counted as healed')
    expect(c.holders(ref.id)).toEqual([0, 1, 2])
  })
})
