// --heal-bandwidth is one budget for the healer and the rebalancer together: a repair and a balance
// running at once copy no more than the budget, not twice it. The budget runs on a fake clock that
// moves only when the test moves it, so "at most the budget" is counted in bytes put on the nodes
// against fake seconds, never timed.

import { afterEach, describe, expect, it } from 'vitest'
import { Healer } from '../../src/cluster/healer/Healer.js'
import { TokenBucket } from '../../src/cluster/healer/TokenBucket.js'
import { Rebalancer } from '../../src/cluster/rebalance/Rebalancer.js'
import { ClusterServices } from '../../src/namenode/ClusterServices.js'
import { type HealCluster, makeHealCluster, randomChunk, until } from './healFixtures.js'

const KiB = 1024
const CHUNK = 64 * KiB
/** Ten chunks a second: the bucket's burst (a tenth of a second) is exactly one chunk. */
const RATE = 10 * CHUNK

/** A clock that stands still until advance(); sleeps on it end when it reaches them, or on abort. */
class FakeClock {
  now = 0
  readonly #sleepers: { at: number; wake: () => void }[] = []

  get sleeping(): number {
    return this.#sleepers.length
  }

  readonly sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve()
      const sleeper = { at: this.now + ms, wake: () => {} }
      sleeper.wake = () => {
        this.#sleepers.splice(this.#sleepers.indexOf(sleeper), 1)
        signal?.removeEventListener('abort', sleeper.wake)
        resolve()
      }
      signal?.addEventListener('abort', sleeper.wake, { once: true })
      this.#sleepers.push(sleeper)
    })

  advance(ms: number): void {
    this.now += ms
    for (const sleeper of this.#sleepers.filter((s) => s.at <= this.now)) sleeper.wake()
  }
}

let cluster: HealCluster | undefined
let healer: Healer | undefined
let rebalancer: Rebalancer | undefined
afterEach(async () => {
  await rebalancer?.stop()
  await healer?.stop()
  healer = rebalancer = undefined
  await cluster?.cleanup()
  cluster = undefined
})

describe('healer and rebalancer share one bandwidth budget', () => {
  it('a repair and a balance at once copy at most the budget between them', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    // Work for both: node 0 dies, so the healer re-copies `a`; `b` sits on nodes 1 and 2 while
    // node 3 is empty, so a balance moves some of it there.
    await c.addFile('a', Array.from({ length: 4 }, () => randomChunk(CHUNK)), Array(4).fill([0, 1]))
    await c.addFile('b', Array.from({ length: 8 }, () => randomChunk(CHUNK)), Array(8).fill([1, 2]))
    const putBytes = () => c.nodes.reduce((sum, n) => sum + n.puts.length, 0) * CHUNK

    const clock = new FakeClock()
    const bandwidth = new TokenBucket(RATE, () => clock.now, clock.sleep)
    let takes = 0
    const take = bandwidth.take.bind(bandwidth)
    bandwidth.take = (bytes, signal) => {
      takes++
      return take(bytes, signal)
    }
    // Each is also told the rate, as the daemon tells them: on its own, each would copy that much.
    healer = new Healer({
      meta: c.meta, chunks: c.chunks, registry: c.registry, replicas: 2, log: c.log, bandwidth,
      options: { graceMs: 20, hintDelayMs: 20, scanIntervalMs: 60_000, concurrency: 1, bandwidthBytesPerSec: RATE },
    })
    rebalancer = new Rebalancer({
      meta: c.meta, registry: c.registry, replicas: 2, locks: healer.locks, log: c.log, bandwidth,
      options: { concurrency: 2, bandwidthBytesPerSec: RATE },
    })
    c.registry.markDead(c.nodes[0].nodeId, 'test')
    healer.start()
    rebalancer.balance()

    // Both asked (the healer, one worker, holds at most two turns), and the budget is spent: with a
    // budget of their own each, they would copy on meanwhile, so that ends the wait too.
    await until(() => (takes >= 3 && clock.sleeping > 0) || putBytes() > CHUNK, 30_000, 'both to ask for bandwidth')
    expect(putBytes(), 'bytes copied before the clock moved: one burst').toBeLessThanOrEqual(RATE / 10)

    // Let fake time pass: never more than the burst plus the rate times the fake seconds.
    const deadline = Date.now() + 60_000
    while (healer.status().state !== 'idle' || rebalancer.status()?.state === 'running') {
      if (Date.now() > deadline) throw new Error('timed out waiting for the repair and the balance to finish')
      clock.advance(100)
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(putBytes()).toBeLessThanOrEqual(RATE / 10 + (RATE * clock.now) / 1000)
    }
    expect(healer.status()).toMatchObject({ copiedChunks: 4, failed: 0 })
    expect(rebalancer.status()!.movedChunks).toBeGreaterThan(0)
  })
})

describe('the daemon wires one budget', () => {
  it('ClusterServices hands the healer and the rebalancer the same budget: every byte either copies is taken from it', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 4, replicas: 2 }))
    const ino = await c.addFile('a', [randomChunk(CHUNK)], [[0, 1]])
    await c.addFile('b', Array.from({ length: 8 }, () => randomChunk(CHUNK)), Array(8).fill([1, 2]))
    const services = new ClusterServices(c.cluster, {
      liveness: { intervalMs: 60_000, suspectAfterMs: 120_000, deadAfterMs: 240_000 },
      healing: { hintDelayMs: 20, scanIntervalMs: 60_000, bandwidthBytesPerSec: 0 },
      scrub: { bytesPerSec: 0 },
      log: c.log,
    })
    let taken = 0
    const take = services.bandwidth.take.bind(services.bandwidth)
    services.bandwidth.take = (bytes, signal) => {
      taken += bytes
      return take(bytes, signal)
    }
    services.start()
    try {
      await until(() => services.healer.status().lastScanAt !== undefined, 30_000, 'the first scan')
      // Work for both: a corrupt copy for the healer to replace, an uneven spread for a balance.
      const ref = c.ref(ino, 0)
      await c.flipByte(0, ref.id)
      services.healer.reportBadCopy(ref, c.nodes[0].nodeId, { code: 'CHUNK_CORRUPT' })
      services.rebalancer.balance()
      await until(() => services.healer.status().copiedChunks === 1, 30_000, 'the repair')
      await services.rebalancer.settle()
      await services.healer.settle()
      const copied = services.healer.status().copiedBytes
      const moved = services.rebalancer.status()!.movedBytes
      expect(copied).toBeGreaterThan(0)
      expect(moved).toBeGreaterThan(0)
      expect(taken).toBe(copied + moved)
    } finally {
      await services.stop()
    }
  })
})
