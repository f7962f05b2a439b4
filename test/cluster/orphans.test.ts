// The orphan collector on a real cluster of local-folder nodes, driven sweep by sweep with an injected
// clock (no timers, no sleeping out the grace period): an unreferenced chunk file goes once it has
// been seen, not being written, for the grace period; a chunk being written, one an open-but-unlinked
// file still reads, and one dropped by a record not yet durable never go early; a referenced chunk on
// a node its ref does not list is handed to the healer, never deleted here.

import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { fsck } from '../../src/cluster/fsck.js'
import { Healer } from '../../src/cluster/healer/Healer.js'
import { OrphanCollector, type OrphanCollectorDeps } from '../../src/cluster/healer/OrphanCollector.js'
import { ROOT_INO } from '../../src/meta/namespace/types.js'
import type { NodeRegistry } from '../../src/chunks/NodeRegistry.js'
import type { DataNode } from '../../src/datanode/DataNode.js'
import { type HealCluster, makeHealCluster, randomChunk, until } from './healFixtures.js'
import { sha256Of } from '../helpers/sha256.js'
import { orphanHold, releaseOrphanHold, writeOrphanHold } from '../../src/meta/orphanHold.js'

const KiB = 1024
const GRACE = 30_000

let cluster: HealCluster | undefined
let collector: OrphanCollector | undefined
afterEach(async () => {
  await collector?.stop()
  collector = undefined
  if (process.env.DFS_TEST_LOG && cluster) console.log(cluster.logs.join('\n'))
  await cluster?.cleanup()
  cluster = undefined
})

/** A collector whose clock the test moves; sweeps only when the test calls sweep(). */
function makeCollector(c: HealCluster, overrides: Partial<OrphanCollectorDeps> = {}) {
  const clock = { now: 1_000_000 }
  const extras: { id: string; nodeId: string }[] = []
  collector = new OrphanCollector({
    meta: c.meta,
    chunks: c.chunks,
    registry: c.registry,
    log: c.log,
    onExtraCopy: (ref, nodeId) => extras.push({ id: ref.id, nodeId }),
    options: { graceMs: GRACE },
    now: () => clock.now,
    ...overrides,
  })
  return { collector, clock, extras }
}

describe('OrphanCollector', () => {
  it('keeps every orphan while a metadata repair holds them (fsck --repair too), and collects them once released', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const orphan = await c.storeOn(randomChunk(16 * KiB), [0, 2])
    await writeOrphanHold(c.cluster.metaDir, { since: '2026-01-02T03:04:05.678Z', backupDir: '/m/backup-x', droppedRecords: 3 })
    const { collector, clock } = makeCollector(c, { hold: () => orphanHold(c.cluster.metaDir) })

    await collector.sweep()
    clock.now += 10 * GRACE
    await collector.sweep()
    expect(c.holders(orphan.id)).toEqual([0, 2])
    expect(collector.status()).toMatchObject({ orphansPending: 1, orphansRemoved: 0, orphansHeld: 1, orphanHold: { backupDir: '/m/backup-x' } })
    expect(c.logs.join('\n')).toContain('kept: held since the metadata repair of 2026-01-02T03:04:05.678Z (the backup /m/backup-x refers to them)')

    const report = await fsck(c.cluster, { repair: true })
    expect(report.repaired).toMatchObject({ orphansRemoved: 0, orphansKept: 2 })
    expect(report.orphanHold).toMatchObject({ since: '2026-01-02T03:04:05.678Z' })
    expect(c.holders(orphan.id)).toEqual([0, 2])

    expect(await releaseOrphanHold(c.cluster.metaDir)).toBe(true)
    await collector.sweep()
    expect(c.holders(orphan.id)).toEqual([])
    expect(collector.status()).toMatchObject({ orphansPending: 0, orphansRemoved: 2, orphansHeld: 0 })
  })

  it('deletes an unreferenced chunk file only after it was seen for the grace period, and nothing referenced', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ino = await c.addFile('kept', [randomChunk(24 * KiB), randomChunk(8 * KiB)])
    // A crash between put and journal: on two nodes, in no file.
    const orphan = await c.storeOn(randomChunk(16 * KiB), [0, 2])
    const { collector, clock } = makeCollector(c)

    await collector.sweep()
    expect(collector.status()).toMatchObject({ orphansPending: 1, orphansRemoved: 0 })
    clock.now += GRACE - 1
    await collector.sweep()
    expect(c.holders(orphan.id)).toEqual([0, 2])

    clock.now += 1
    await collector.sweep()
    expect(c.holders(orphan.id)).toEqual([])
    expect(collector.status()).toMatchObject({ orphansPending: 0, orphansRemoved: 2, orphanFailures: 0 })
    for (const index of [0, 1]) expect(c.holders(c.ref(ino, index).id)).toHaveLength(2)
    const report = await fsck(c.cluster, { repair: false })
    expect([report.orphans, report.lost, report.underReplicated, report.badReplicas]).toEqual([[], [], [], []])
  })

  it('checks every page of a listing: orphans on each page go, referenced chunks on each page stay', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ino = await c.addFile('kept', [randomChunk(8 * KiB), randomChunk(8 * KiB), randomChunk(8 * KiB)])
    const orphans = [await c.storeOn(randomChunk(4 * KiB), [0, 2]), await c.storeOn(randomChunk(4 * KiB), [0, 1]), await c.storeOn(randomChunk(4 * KiB), [1, 2])]
    // Every node lists one id per page (a big node lists thousands per page, datanode/listPages.ts).
    const onePerPage = (node: DataNode): DataNode => new Proxy(node, {
      get: (target, key) => key === 'listPages'
        ? async function* () { for (const id of await target.list()) yield [id] }
        : (Reflect.get(target, key) as unknown as (...args: unknown[]) => unknown)?.bind?.(target) ?? Reflect.get(target, key),
    })
    const registry = new Proxy(c.registry, {
      get: (target, key) => key === 'get'
        ? (nodeId: string) => { const node = target.get(nodeId); return node && onePerPage(node) }
        : (Reflect.get(target, key) as unknown as (...args: unknown[]) => unknown)?.bind?.(target) ?? Reflect.get(target, key),
    })
    const { collector, clock } = makeCollector(c, { registry })
    await collector.sweep()
    clock.now += GRACE
    await collector.sweep()
    for (const orphan of orphans) expect(c.holders(orphan.id)).toEqual([])
    expect(collector.status()).toMatchObject({ orphansRemoved: 6, orphanFailures: 0 })
    for (const index of [0, 1, 2]) expect(c.holders(c.ref(ino, index).id)).toHaveLength(2)
  })

  it('never collects a chunk being written, however long the write takes; its clock starts when the write returns', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ino = await c.addFile('growing', [randomChunk(8 * KiB)])
    const { collector, clock } = makeCollector(c)

    // A write whose bytes are on the nodes but whose puts have not returned.
    const releases = c.nodes.map((n) => n.holdPuts({ after: true }))
    const data = randomChunk(16 * KiB)
    const writing = c.chunks.write(data)
    await until(() => c.nodes.reduce((n, node) => n + node.waiting, 0) === 2, 60_000, 'puts landed')
    const id = c.nodes.find((n) => n.waiting > 0)!.puts.at(-1)!

    for (let i = 0; i < 4; i++) {
      await collector.sweep()
      clock.now += 10 * GRACE
    }
    expect(collector.status().orphansPending).toBe(1)
    expect(c.holders(id)).toHaveLength(2)

    // The write returns and, in the same turn, the file records the chunk: referenced, never collected.
    for (const release of releases) release()
    const ref = await writing
    c.meta.commit({ op: 'chunk', ino, index: 1, ref, size: 24 * KiB, mtime: Date.now(), ctime: Date.now() })
    await collector.sweep()
    clock.now += 10 * GRACE
    await collector.sweep()
    expect(collector.status()).toMatchObject({ orphansPending: 0, orphansRemoved: 0 })
    expect((await c.chunks.read(c.ref(ino, 1))).equals(data)).toBe(true)
  })

  it('never collects a chunk recorded after the walk passed and before its nodes were listed: the next walk sees it', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ino = await c.addFile('late', [randomChunk(8 * KiB)])
    const data = randomChunk(16 * KiB)
    let late: ChunkRef | undefined
    // The first listing of the sweep writes and records a chunk first: the walk is over by then.
    const registry: OrphanCollectorDeps['registry'] = {
      ids: () => c.registry.ids(),
      health: (nodeId) => c.registry.health(nodeId),
      on: (event, listener) => c.registry.on(event, listener),
      off: (event, listener) => c.registry.off(event, listener),
      get: (nodeId) => {
        const node = c.registry.get(nodeId)
        if (!node) return undefined
        const list = async () => {
          if (!late) {
            late = await c.chunks.write(data)
            c.meta.commit({ op: 'chunk', ino, index: 1, ref: late, size: 24 * KiB, mtime: Date.now(), ctime: Date.now() })
          }
          return node.list()
        }
        return { address: node.address, list } as unknown as ReturnType<NodeRegistry['get']>
      },
    }
    const { collector, clock, extras } = makeCollector(c, { registry })
    await collector.sweep()
    expect(late).toBeDefined()
    expect(collector.status().orphansPending).toBe(1) // the walk missed it: a candidate, no more
    clock.now += 10 * GRACE
    await collector.sweep()
    expect(collector.status()).toMatchObject({ orphansPending: 0, orphansRemoved: 0 })
    expect(c.holders(late!.id)).toHaveLength(2)
    expect(extras).toEqual([])
    expect((await c.chunks.read(c.ref(ino, 1))).equals(data)).toBe(true)
  })

  it('keeps the chunks of a file that is open but unlinked (nlink 0)', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ino = await c.addFile('open-then-unlinked', [randomChunk(24 * KiB)])
    c.meta.commit({ op: 'unlink', parent: ROOT_INO, name: 'open-then-unlinked', dir: false, time: Date.now() })
    expect(c.meta.state.inodes.get(ino)?.nlink).toBe(0)
    const id = c.ref(ino, 0).id
    const { collector, clock } = makeCollector(c)
    for (let i = 0; i < 3; i++) {
      await collector.sweep()
      clock.now += GRACE
    }
    expect(c.holders(id)).toHaveLength(2)
    expect(collector.status()).toMatchObject({ orphansPending: 0, orphansRemoved: 0 })
  })

  it('deletes a chunk a record dropped only once that record is durable', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const ino = await c.addFile('overwritten', [randomChunk(24 * KiB)])
    const old = c.ref(ino, 0)
    let syncCalls = 0
    let releaseSync!: () => void
    const held = new Promise<void>((resolve) => (releaseSync = resolve))
    const meta = {
      get state() {
        return c.meta.state
      },
      sync: async () => {
        syncCalls++
        await held
        await c.meta.sync()
      },
    }
    const { collector, clock } = makeCollector(c, { meta })

    // The file drops the chunk (say, a truncate); the record is in memory, not yet durable.
    const dropped = c.meta.commit({ op: 'truncate', ino, size: 0, keep: 0, mtime: Date.now(), ctime: Date.now() }) as ChunkRef[]
    expect(dropped.map((r) => r.id)).toEqual([old.id])
    await collector.sweep()
    clock.now += GRACE
    const sweeping = collector.sweep()
    await until(() => syncCalls === 1, 60_000, 'the sync before deleting')
    expect(c.holders(old.id)).toHaveLength(2) // not a copy gone while the drop could still be undone by a crash
    releaseSync()
    await sweeping
    expect(c.holders(old.id)).toEqual([])
    expect(collector.status().orphansRemoved).toBe(2)
  })

  it('hands a referenced copy on a node its ref does not list to the healer, and deletes nothing', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const data = randomChunk(24 * KiB)
    const ino = await c.addFile('f', [data], [[0, 1]])
    const ref = c.ref(ino, 0)
    // A put that a stalled node completed after the write had moved on to other nodes.
    await c.nodes[2].inner.put(ref.id, data, sha256Of(data))
    const { collector, clock, extras } = makeCollector(c)
    await collector.sweep()
    clock.now += GRACE
    await collector.sweep()
    expect(extras).toContainEqual({ id: ref.id, nodeId: c.nodes[2].nodeId })
    expect(c.holders(ref.id)).toEqual([0, 1, 2])
    expect(collector.status()).toMatchObject({ orphansPending: 0, orphansRemoved: 0 })
  })

  it('with the healer: a put a stalled node completed late is trimmed back to R, and fsck is clean', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const data = randomChunk(24 * KiB)
    const ino = await c.addFile('f', [data], [[0, 1]])
    await c.nodes[2].inner.put(c.ref(ino, 0).id, data, sha256Of(data))
    const healer = new Healer({
      meta: c.meta, chunks: c.chunks, registry: c.registry, replicas: 2, log: c.log,
      options: { scanIntervalMs: 3_600_000, orphanIntervalMs: 3_600_000, hintDelayMs: 20 },
    })
    healer.start()
    try {
      await until(() => healer.status().orphansPending === 0 && healer.orphans.status().orphanSweeps >= 1, 60_000, 'the first sweep')
      await healer.settle()
      await until(() => c.holders(c.ref(ino, 0).id).length === 2, 60_000, 'the extra copy trimmed')
      expect(healer.status().trimmedCopies).toBe(1)
      const report = await fsck(c.cluster, { repair: false })
      expect([report.orphans, report.lost, report.underReplicated, report.badReplicas]).toEqual([[], [], [], []])
      expect((await c.chunks.read(c.ref(ino, 0))).equals(data)).toBe(true)
    } finally {
      await healer.stop()
    }
  })

  it('leaves a dead node alone, and collects its orphans once it is back', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const orphan = await c.storeOn(randomChunk(8 * KiB), [1])
    c.registry.markDead(c.nodes[1].nodeId, 'test: silent')
    const { collector, clock } = makeCollector(c)
    for (let i = 0; i < 3; i++) {
      await collector.sweep()
      clock.now += GRACE
    }
    expect(c.holders(orphan.id)).toEqual([1])
    expect(collector.status().orphansPending).toBe(0)

    c.registry.readmit(c.nodes[1].nodeId, await c.nodes[1].list())
    await collector.sweep()
    clock.now += GRACE
    await collector.sweep()
    expect(c.holders(orphan.id)).toEqual([])
  })

  it('sweeps soon after a suspect node answers again: a put it completed late goes to the healer as an extra copy', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    const data = randomChunk(24 * KiB)
    const ino = await c.addFile('f', [data], [[0, 1]])
    const extras: { id: string; nodeId: string }[] = []
    collector = new OrphanCollector({
      meta: c.meta, chunks: c.chunks, registry: c.registry, log: c.log,
      onExtraCopy: (ref, nodeId) => extras.push({ id: ref.id, nodeId }),
      options: { graceMs: GRACE, intervalMs: 3_600_000, hintDelayMs: 20 },
    })
    collector.start()
    await until(() => collector!.status().orphanSweeps >= 1, 60_000, 'the first sweep')
    // Node 2 stalls (suspect); the write moved on without it; then its put lands after all.
    c.registry.markSuspect(c.nodes[2].nodeId, 'test: stalled')
    await c.nodes[2].inner.put(c.ref(ino, 0).id, data, sha256Of(data))
    c.registry.markAlive(c.nodes[2].nodeId)
    await until(() => extras.length > 0, 60_000, 'a sweep after the node answered')
    expect(extras).toEqual([{ id: c.ref(ino, 0).id, nodeId: c.nodes[2].nodeId }])
  })

  it('sweeps by itself: soon after start, and again when a candidate comes due', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 2, replicas: 2 }))
    const orphan = await c.storeOn(randomChunk(8 * KiB), [0])
    collector = new OrphanCollector({ meta: c.meta, chunks: c.chunks, registry: c.registry, log: c.log, options: { graceMs: 200 } })
    collector.start()
    await until(() => c.holders(orphan.id).length === 0, 60_000, 'the orphan collected')
    // The file goes before the sweep logs what it removed: wait for the line, not race it.
    await until(() => c.logs.some((line) => /removed 1 chunk file/.test(line)), 60_000, 'the sweep logged its removal')
    expect(collector.status().orphanSweeps).toBeGreaterThanOrEqual(2)
  })
})
