// The cluster events the services emit into the NameNode's feed (src/namenode/events.ts), which the
// dashboard's Events panel shows: the feed itself (a bounded ring read newest first), bursts summed
// up, node transitions, one event per healer pass, bad copies found by the scrubber and by reads and
// then repaired, balance and drain started and ended. No FUSE: a real cluster of local-folder nodes
// (healFixtures.ts); clocks and timers injected where the code takes them.

import { rm } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { NodeRegistry } from '../../src/chunks/NodeRegistry.js'
import { ChunkLocks } from '../../src/cluster/chunkLocks.js'
import { EventBurst } from '../../src/cluster/EventBurst.js'
import { Healer } from '../../src/cluster/healer/Healer.js'
import { HealPass } from '../../src/cluster/healer/HealPass.js'
import { Scrubber } from '../../src/cluster/healer/Scrubber.js'
import { emitNodeEvents } from '../../src/cluster/liveness/nodeEvents.js'
import { Rebalancer } from '../../src/cluster/rebalance/Rebalancer.js'
import type { DataNode } from '../../src/datanode/DataNode.js'
import { type ClusterEvent, EventFeed, type NewEvent } from '../../src/namenode/events.js'
import { type HealCluster, makeHealCluster, randomChunk, until } from './healFixtures.js'

const KiB = 1024
const MiB = 1024 * KiB

let cluster: HealCluster | undefined
const stops: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
  if (process.env.DFS_TEST_LOG && cluster) console.log(cluster.logs.join('\n'))
  await cluster?.cleanup()
  cluster = undefined
})

/** A feed with a clock of our own, and the kinds it holds oldest first. */
function feed(capacity = 500) {
  let now = 1_000
  const events = new EventFeed(capacity, () => now)
  return {
    events,
    emit: (event: NewEvent) => void events.emit(event),
    tick: (ms: number) => void (now += ms),
    kinds: () => events.recent().reverse().map((e) => e.kind),
    of: (kind: ClusterEvent['kind']) => events.recent().reverse().filter((e) => e.kind === kind),
  }
}

describe('EventFeed', () => {
  it('keeps the newest `capacity` events and reads them newest first, after a seq', () => {
    const f = feed(3)
    for (let i = 1; i <= 5; i++) {
      f.events.emit({ kind: 'healed', level: 'info', message: `pass ${i}`, count: i })
      f.tick(10)
    }
    expect(f.events.recent().map((e) => e.seq)).toEqual([5, 4, 3]) // 1 and 2 fell off
    expect(f.events.recent()[0]).toMatchObject({ seq: 5, at: 1_040, kind: 'healed', message: 'pass 5', count: 5 })
    expect(f.events.recent(2).map((e) => e.seq)).toEqual([5, 4])
    expect(f.events.recent(10, 3).map((e) => e.seq)).toEqual([5, 4])
    expect(f.events.recent(1, 3).map((e) => e.seq)).toEqual([5])
    expect(f.events.recent(10, 5)).toEqual([])
    // A viewer that was away longer than the ring holds gets what is left.
    expect(f.events.recent(10, 1).map((e) => e.seq)).toEqual([5, 4, 3])
  })

  it('tells subscribers each event; one that throws stops neither the others nor the emitter', () => {
    const f = feed()
    const heard: number[] = []
    f.events.subscribe(() => {
      throw new Error('viewer gone')
    })
    const stop = f.events.subscribe((e) => heard.push(e.seq))
    f.emit({ kind: 'checkpoint', level: 'info', message: 'a' })
    stop()
    f.emit({ kind: 'checkpoint', level: 'info', message: 'b' })
    expect(heard).toEqual([1])
    expect(f.events.recent()).toHaveLength(2)
  })
})

/** Timers run by hand. */
function manualTimers() {
  const timers = new Map<number, () => void>()
  let next = 0
  return {
    setTimer: (fn: () => void) => (timers.set(++next, fn), next),
    clearTimer: (t: unknown) => void timers.delete(t as number),
    fire() {
      const due = [...timers]
      timers.clear()
      for (const [, fn] of due) fn()
    },
    get pending() {
      return timers.size
    },
  }
}

describe('EventBurst', () => {
  it('emits the first of a burst at once and sums up the rest once per window', () => {
    const f = feed()
    const timers = manualTimers()
    const burst = new EventBurst(f.emit, (count, windowMs) => ({ kind: 'corruption', level: 'warn', count, message: `${count} more in ${windowMs} ms` }), { windowMs: 1_000, ...timers })
    const one = (i: number): NewEvent => ({ kind: 'corruption', level: 'warn', count: 1, message: `copy ${i}` })
    for (let i = 0; i < 1_000; i++) burst.add(one(i))
    expect(f.events.recent().map((e) => e.message)).toEqual(['copy 0'])
    timers.fire()
    for (let i = 0; i < 5; i++) burst.add(one(i))
    timers.fire()
    expect(f.events.recent().reverse().map((e) => [e.message, e.count])).toEqual([['copy 0', 1], ['999 more in 1000 ms', 999], ['5 more in 1000 ms', 5]])
    // Quiet for a window: the burst is over, the next one is told in full again.
    timers.fire()
    expect(timers.pending).toBe(0)
    burst.add(one(7))
    burst.add(one(8))
    burst.flush()
    expect(f.events.recent(2).reverse().map((e) => e.message)).toEqual(['copy 7', '1 more in 1000 ms'])
    expect(timers.pending).toBe(0)
  })
})

describe('node events', () => {
  it('one event per transition: suspect, dead, back with what it holds, full and room again; a repeat is not news', () => {
    let now = 0
    const registry = new NodeRegistry({ now: () => now })
    const node = { nodeId: 'n1', address: '/data/n1' } as DataNode
    registry.add(node)
    registry.monitored = true
    const f = feed()
    const stop = emitNodeEvents(registry, f.emit)

    registry.markSuspect('n1', 'no heartbeat for 2.1 s')
    now += 100
    registry.markSuspect('n1', 'no heartbeat for 2.6 s') // still suspect: nothing new
    registry.markDead('n1', 'no heartbeat for 10.2 s')
    registry.markAlive('n1') // a dead node under a monitor is back only through readmit
    registry.readmit('n1', ['a', 'b', 'c'])
    registry.markFull('n1', '1024 bytes free')
    registry.markFull('n1', '512 bytes free')
    registry.markHasRoom('n1')
    registry.markSuspect('n1', 'put failed')
    registry.markAlive('n1')
    stop()
    registry.markDead('n1', 'after stop: not told')

    expect(f.events.recent().reverse().map((e) => [e.kind, e.level, e.message])).toEqual([
      ['node-suspect', 'warn', 'node /data/n1 is suspect: no heartbeat for 2.1 s'],
      ['node-dead', 'error', 'node /data/n1 is dead: no heartbeat for 10.2 s'],
      ['node-back', 'info', 'node /data/n1 is back with 3 chunks; re-admitted'],
      ['node-full', 'warn', 'node /data/n1 is full (1024 bytes free); it takes no new chunks'],
      ['node-full', 'info', 'node /data/n1 has room again; it takes new chunks'],
      ['node-suspect', 'warn', 'node /data/n1 is suspect: put failed'],
      ['node-back', 'info', 'node /data/n1 answers again'],
    ])
    expect(f.of('node-back')[0]).toMatchObject({ nodeId: 'n1', count: 3 })
  })

  it('a node flapping between suspect and alive: its first changes one by one, then one summary a window; dead comes after it', () => {
    const registry = new NodeRegistry({ now: () => 0 })
    registry.add({ nodeId: 'n1', address: '/data/n1' } as DataNode)
    registry.monitored = true
    const f = feed()
    const timers = manualTimers()
    const stop = emitNodeEvents(registry, f.emit, { windowMs: 60_000, ...timers })
    stops.push(stop)
    for (let i = 0; i < 20; i++) {
      registry.markSuspect('n1', 'no heartbeat for 2.1 s')
      registry.markAlive('n1')
    }
    expect(f.kinds()).toEqual(['node-suspect', 'node-back', 'node-suspect', 'node-back'])
    timers.fire()
    expect(f.events.recent(1)[0]).toMatchObject({
      kind: 'node-suspect', level: 'warn', count: 36, message: 'node /data/n1 changed health or room 36 more times in the last 60 s; now alive',
    })
    registry.markSuspect('n1', 'no heartbeat for 2.1 s') // the burst goes on: counted
    registry.markDead('n1', 'no heartbeat for 10.2 s')
    expect(f.events.recent(2).reverse().map((e) => [e.kind, e.count])).toEqual([['node-suspect', 1], ['node-dead', undefined]])
    expect(f.events.recent().length).toBe(7)
  })

  it('a node flapping between full and room again is summed up the same way', () => {
    const registry = new NodeRegistry({ now: () => 0 })
    registry.add({ nodeId: 'n1', address: '/data/n1' } as DataNode)
    registry.monitored = true
    const f = feed()
    const timers = manualTimers()
    stops.push(emitNodeEvents(registry, f.emit, { windowMs: 60_000, ...timers }))
    for (let i = 0; i < 500; i++) {
      registry.markFull('n1', 'under 8 MiB free')
      registry.markHasRoom('n1')
    }
    expect(f.kinds()).toEqual(['node-full', 'node-full', 'node-full', 'node-full'])
    timers.fire()
    expect(f.events.recent(1)[0]).toMatchObject({
      kind: 'node-suspect', count: 996, message: 'node /data/n1 changed health or room 996 more times in the last 60 s; now alive',
    })
  })
})

describe('HealPass events', () => {
  const counts = { copiedChunks: 10, copiedBytes: 1000, trimmedCopies: 0, corruptRemoved: 1, failed: 0 }

  it('none for a pass that healed, repaired and lost nothing; else one of each kind, with its count', () => {
    expect(new HealPass(counts, 0).events({ ...counts, trimmedCopies: 3 }, 5)).toEqual([])
    const pass = new HealPass(counts, 1_000)
    pass.restored = 10_000
    pass.lost = 2
    pass.replacedBad = 1
    const events = pass.events({ ...counts, copiedChunks: 10_010, copiedBytes: 1000 + 640 * MiB, corruptRemoved: 4 }, 3_500)
    expect(events).toEqual([
      { kind: 'healed', level: 'info', count: 10_000, message: 'healed 10,000 chunks in 2.5 s (10,000 copies, 640 MiB)' },
      { kind: 'repaired', level: 'info', count: 4, message: 'repaired 4 bad copies: each overwritten by a verified copy or deleted' },
      { kind: 'lost', level: 'error', count: 2, message: '2 chunks lost: no intact copy on any node (dfs fsck lists the files)' },
    ])
  })
})

describe('Healer events', () => {
  function startHealer(c: HealCluster, f: ReturnType<typeof feed>): Healer {
    const healer = new Healer({
      meta: c.meta, chunks: c.chunks, registry: c.registry, replicas: c.replicas, log: c.log, onEvent: f.emit,
      options: { graceMs: 100, scanIntervalMs: 60_000, hintDelayMs: 20 },
    })
    healer.start()
    stops.push(() => healer.stop())
    return healer
  }

  it('a pass that re-replicates a dead node is one "healed" event with the count of chunks', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    for (let f = 0; f < 6; f++) await c.addFile(`f${f}`, [randomChunk(32 * KiB), randomChunk(32 * KiB)])
    const f = feed()
    const healer = startHealer(c, f)
    await until(() => healer.status().lastScanAt !== undefined, 60_000, 'first scan')

    const victim = c.nodes[0].nodeId
    let held = 0
    for (const inode of c.meta.state.inodes.values()) inode.chunks?.forEach((ref) => ref && ref.nodes.includes(victim) && held++)
    expect(held).toBeGreaterThan(1)
    await rm(c.dirs[0], { recursive: true, force: true })
    c.registry.markDead(victim, 'test: folder removed')

    await until(() => f.of('healed').length > 0, 60_000, 'a healed event')
    await until(() => healer.status().state === 'idle', 60_000, 'the healer idle')
    expect(f.of('healed').map((e) => [e.count, e.level])).toEqual([[held, 'info']])
    expect(f.of('healed')[0]!.message).toMatch(new RegExp(`^healed ${held} chunks in \\d+\\.\\d s \\(${held} copies, .*\\)$`))
    expect(healer.status()).toMatchObject({ healedChunks: held, copiedChunks: held, badCopiesFound: 0 })
    expect(f.kinds().filter((k) => k !== 'healed')).toEqual([])
  })

  it('a corrupt copy a read found: "corruption" (once, however often it is read), then "repaired"', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const data = randomChunk(40 * KiB)
    const ino = await c.addFile('victim', [data], [[0, 1]])
    const f = feed()
    const healer = startHealer(c, f)
    await until(() => healer.status().state === 'idle' && healer.status().lastScanAt !== undefined, 30_000, 'first scan')
    const ref = c.ref(ino, 0)
    await c.flipByte(0, ref.id)
    // The read fails over to the good copy; the bad one is reported (a second report of it is no news).
    expect((await c.chunks.read(ref)).equals(data)).toBe(true)
    c.chunks.onBadReplica?.(ref, c.nodes[0].nodeId, { code: 'CHUNK_CORRUPT', message: 'again' } as never)

    await until(() => f.of('repaired').length > 0, 30_000, 'a repaired event')
    const corruption = f.of('corruption')
    expect(corruption).toHaveLength(1)
    expect(corruption[0]).toMatchObject({ level: 'warn', nodeId: c.nodes[0].nodeId, count: 1 })
    expect(corruption[0]!.message).toBe(`a read found the copy of chunk ${ref.id} on node ${c.dirs[0]} corrupt; the healer repairs it`)
    expect(f.of('repaired')).toMatchObject([{ count: 1, level: 'info' }])
    expect(corruption[0]!.seq).toBeLessThan(f.of('repaired')[0]!.seq)
    // The bad copy was overwritten by a good one, or deleted.
    expect(healer.status()).toMatchObject({ badCopiesFound: 1, healedChunks: 1 })
  })

  it('the scrubber finding a corrupt copy: "corruption", then "healed" and "repaired" from the healer', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ino = await c.addFile('f', [randomChunk(48 * KiB), randomChunk(48 * KiB), randomChunk(10 * KiB)], [[0, 1], [1, 2], [2, 0]])
    const victim = c.ref(ino, 1)
    await c.flipByte(2, victim.id, 4321)
    const f = feed()
    const healer = startHealer(c, f)
    const scrubber = new Scrubber({
      meta: c.meta, registry: c.registry, log: c.log, onEvent: f.emit,
      onBadCopy: (ref, nodeId, reason) => healer.reportBadCopy(ref, nodeId, reason),
      locks: healer.locks, isReported: healer.isBadCopy,
      options: { bytesPerSec: 32 * MiB, restMs: 60_000 },
    })
    scrubber.start()
    stops.push(() => scrubber.stop())

    await until(() => f.of('repaired').length > 0, 30_000, 'a repaired event')
    expect(f.kinds()).toEqual(['corruption', 'healed', 'repaired'])
    expect(f.of('corruption')[0]).toMatchObject({
      level: 'warn', nodeId: c.nodes[2].nodeId, count: 1,
      message: `the scrubber found the copy of chunk ${victim.id} on node ${c.dirs[2]} corrupt; handed to the healer`,
    })
    expect(f.of('repaired')[0]).toMatchObject({ count: 1 })
    expect(healer.status()).toMatchObject({ badCopiesFound: 1, healedChunks: 1 })
  })
})

describe('Rebalancer events', () => {
  async function twoFullOneEmpty() {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    for (let f = 0; f < 6; f++) {
      const data = [randomChunk(64 * KiB), randomChunk(64 * KiB)]
      await c.addFile(`f${f}`, data, data.map(() => [0, 1]))
    }
    return c
  }

  it('a balance: started, then finished with what it moved', async () => {
    const c = await twoFullOneEmpty()
    const f = feed()
    const r = new Rebalancer({ meta: c.meta, registry: c.registry, replicas: 2, locks: new ChunkLocks(), log: c.log, onEvent: f.emit })
    stops.push(() => r.stop())
    r.balance()
    const result = (await r.settle())!
    expect(result.state).toBe('done')
    expect(f.of('balance').map((e) => e.level)).toEqual(['info', 'info'])
    const [started, finished] = f.of('balance')
    expect(started!.message).toMatch(/^balance started/)
    expect(finished).toMatchObject({ count: result.movedChunks })
    expect(finished!.message).toMatch(new RegExp(`^balance finished: moved ${result.movedChunks} chunks \\(.*\\) in \\d+\\.\\d s; balanced$`))
  })

  it('a drain: started and finished, naming the node; a cancelled one says so', async () => {
    const c = await twoFullOneEmpty()
    const f = feed()
    const r = new Rebalancer({ meta: c.meta, registry: c.registry, replicas: 2, locks: new ChunkLocks(), log: c.log, onEvent: f.emit })
    stops.push(() => r.stop())
    r.drain(c.nodes[0].nodeId)
    expect((await r.settle())!.state).toBe('done')
    const [started, finished] = f.of('drain')
    expect(started).toMatchObject({ nodeId: c.nodes[0].nodeId, message: `drain of ${c.dirs[0]} started: it takes no new chunks; its chunks move to other nodes` })
    expect(finished).toMatchObject({ nodeId: c.nodes[0].nodeId, count: 12 })
    expect(finished!.message).toMatch(new RegExp(`^drain of ${c.dirs[0]} finished: moved 12 chunks .*can be removed$`))

    // Cancelled before its first move (every put held at the gate).
    await r.undoDrain(c.nodes[0].nodeId)
    const releases = c.nodes.map((n) => n.holdPuts())
    r.drain(c.nodes[1].nodeId)
    await until(() => c.nodes.some((n) => n.waiting > 0), 30_000, 'a move under way')
    const cancelling = r.cancel('drain')
    for (const release of releases) release() // let the moves in flight through
    await cancelling
    expect(f.of('drain').at(-1)!.message).toMatch(new RegExp(`^drain of ${c.dirs[1]} cancelled: moved \\d+ chunks? .* of \\d+ planned$`))
  })
})
