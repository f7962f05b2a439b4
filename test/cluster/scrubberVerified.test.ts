// The scrubber's record of when each copy last verified intact (`dfs info`'s "verified when"): set
// for every copy a pass reads intact, cleared for one that fails, and dropped for a chunk no file
// references any more once a whole pass has gone by.

import { afterEach, expect, it } from 'vitest'
import { Scrubber } from '../../src/cluster/healer/Scrubber.js'
import { type HealCluster, makeHealCluster, randomChunk, until } from './healFixtures.js'

let cluster: HealCluster | undefined
let scrubber: Scrubber | undefined
afterEach(async () => {
  await scrubber?.stop()
  await cluster?.cleanup()
  cluster = scrubber = undefined
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
