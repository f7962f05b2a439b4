// The scrubber's record of when each copy last verified intact (`dfs info`'s "verified when"): set
// for every copy a pass reads intact, cleared for one that fails, and dropped for a chunk no file
// references any more once a whole pass has gone by.

import { afterEach, expect, it } from 'vitest'
import { Healer } from '../../src/cluster/healer/Healer.js'
import { Scrubber } from '../../src/cluster/healer/Scrubber.js'
import { VerifiedCopies } from '../../src/cluster/healer/VerifiedCopies.js'
import { type HealCluster, makeHealCluster, randomChunk, until } from './healFixtures.js'

let cluster: HealCluster | undefined
let scrubber: Scrubber | undefined
let healer: Healer | undefined
afterEach(async () => {
  await scrubber?.stop()
  await healer?.stop()
  await cluster?.cleanup()
  cluster = scrubber = healer = undefined
})

it('records a time per intact copy, none for a corrupt one, and forgets a deleted file\'s chunks after a pass', async () => {
  const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
  const ino = await c.addFile('f', [randomChunk(10_000), randomChunk(10_000)], [[0, 1], [1, 2]])
  const gone = await c.addFile('g', [randomChunk(5_000)], [[0, 2]])
  const goneRef = c.ref(gone, 0)
  const [first, second] = [c.ref(ino, 0), c.ref(ino, 1)]
  await c.flipByte(2, second.id)
  const before = Date.now() - 1000
  const s = (scrubber = new Scrubber({ meta: c.meta, registry: c.registry, log: c.log, options: { bytesPerSec: 1 << 30, restMs: 20 } }))
  s.start()
  await until(() => s.status().passes >= 1, 30_000, 'a pass')
  for (const nodeId of first.nodes) expect(s.verified.get(first.id, nodeId)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000)
  expect(s.verified.get(second.id, second.nodes[0])).toBeGreaterThan(0)
  expect(s.verified.get(second.id, c.nodes[2].nodeId)).toBeUndefined() // corrupt
  expect(s.verified.get(goneRef.id, goneRef.nodes[0])).toBeGreaterThan(0)

  c.meta.commit({ op: 'unlink', parent: 1, name: 'g', dir: false, time: Date.now() })
  c.meta.commit({ op: 'forget', ino: gone }) // as the NameNode does once no client has it open
  const passes = s.status().passes
  await until(() => s.status().passes >= passes + 2, 30_000, 'two more passes') // one may have begun before the unlink
  expect(s.verified.get(goneRef.id, goneRef.nodes[0])).toBeUndefined()
  expect(s.verified.size).toBe(2)
})

it('a copy the healer writes, and the one it copied from, count as verified then', async () => {
  const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
  const ino = await c.addFile('f', [randomChunk(10_000)], [[0]]) // one copy of two
  const verified = new VerifiedCopies()
  const h = (healer = new Healer({ meta: c.meta, chunks: c.chunks, registry: c.registry, replicas: 2, log: c.log, options: { graceMs: 100, hintDelayMs: 20 } }))
  h.onVerifiedCopy = (chunkId, nodeId) => verified.record(chunkId, nodeId)
  h.start()
  await until(() => c.ref(ino, 0).nodes.length === 2, 30_000, 'the second copy')
  const ref = c.ref(ino, 0)
  const added = ref.nodes.find(n => n !== c.nodes[0].nodeId)!
  expect(verified.get(ref.id, added)).toBeGreaterThan(0)
  expect(verified.get(ref.id, c.nodes[0].nodeId)).toBeGreaterThan(0) // the source, read and checked
})
