// The chunk store below R copies: a write with fewer than R copies is handed to the repair hook at
// once; --min-copies N makes a write or a sync with fewer than N copies fail (ENOSPC when the other
// nodes are full, EIO when they are down) and leaves no copy behind; deletes aimed at a dead node are
// not sent (one log line, counted), and reach it again once it is back.

import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChunkRef } from '../../src/chunks/ChunkRef.js'
import { ChunkStore } from '../../src/chunks/ChunkStore.js'
import { posixCodeOf } from '../../src/errors.js'
import { makeCluster, type TestCluster } from './fakes.js'

let cluster: TestCluster | undefined
afterEach(async () => {
  await cluster?.cleanup()
  cluster = undefined
})

const onDisk = (c: TestCluster, id: string) => c.dirs.flatMap((_, i) => (existsSync(c.chunkPath(i, id)) ? [i] : []))

describe('ChunkStore below R copies', () => {
  it('hands a write with fewer than R copies to onUnderReplicated, and not one with R', async () => {
    const c = (cluster = await makeCluster(3, { replicas: 2 }))
    const under: ChunkRef[] = []
    c.store.onUnderReplicated = (ref) => under.push(ref)
    await c.store.write(randomBytes(100))
    expect(under).toEqual([])
    c.nodes[1].failures.put = 'NODE_FULL'
    c.nodes[2].failures.put = 'NODE_FULL'
    const ref = await c.store.write(randomBytes(100))
    expect(ref.nodes).toEqual([c.nodes[0].nodeId])
    expect(under).toEqual([ref])
  })

  it('with minCopies 2, a write that gets one copy fails with NODE_FULL (ENOSPC) when the rest are full, leaving nothing', async () => {
    const c = (cluster = await makeCluster(3, { replicas: 3, minCopies: 2 }))
    c.nodes[1].failures.put = 'NODE_FULL'
    c.nodes[2].failures.put = 'NODE_FULL'
    const err = await c.store.write(randomBytes(100)).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NODE_FULL', context: { minCopies: 2, copies: 1 } })
    expect(posixCodeOf(err)).toBe('ENOSPC')
    expect((err as Error).message).toMatch(/got 1 of 3 copies, fewer than --min-copies 2/)
    expect(await c.nodes[0].list()).toEqual([])
  })

  it('with minCopies 2, a write that gets one copy fails with NO_NODES (EIO) when another node is down', async () => {
    const c = (cluster = await makeCluster(3, { replicas: 2, minCopies: 2 }))
    c.nodes[1].failures.put = 'NODE_UNAVAILABLE'
    c.nodes[2].failures.put = 'NODE_FULL'
    const err = await c.store.write(randomBytes(100)).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NO_NODES', context: { minCopies: 2, copies: 1 } })
    expect(posixCodeOf(err)).toBe('EIO')
    for (const node of c.nodes) expect(await node.inner.list()).toEqual([])
    expect(c.store.stats.writes).toBe(0)
  })

  it('with minCopies 2, a sync that leaves a chunk durable on one node fails; with the default it succeeds', async () => {
    const c = (cluster = await makeCluster(2, { replicas: 2, minCopies: 2 }))
    const ref = await c.store.write(randomBytes(100))
    c.nodes[1].failures.sync = 'NODE_UNAVAILABLE'
    await expect(c.store.sync([ref])).rejects.toMatchObject({ code: 'NODE_UNAVAILABLE', context: { chunk: ref.id, minCopies: 2 } })
    const lenient = new ChunkStore({ registry: c.registry, replicas: 2, cacheBytes: 0 })
    await expect(lenient.sync([ref])).resolves.toBeUndefined()
  })

  it('refuses minCopies outside 1..replicas', async () => {
    const c = (cluster = await makeCluster(2))
    for (const minCopies of [0, 3, 1.5]) {
      expect(() => new ChunkStore({ registry: c.registry, replicas: 2, minCopies, cacheBytes: 0 })).toThrow(
        expect.objectContaining({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/--min-copies/) }),
      )
    }
  })

  it('sends no delete to a dead node (one log line, counted), and sends them again once it is alive', async () => {
    const warnings: string[] = []
    const infos: string[] = []
    const log = { debug() {}, info: (m: string) => infos.push(m), warn: (m: string) => warnings.push(m) }
    const c = (cluster = await makeCluster(3, { replicas: 3, log }))
    const refs = await Promise.all(Array.from({ length: 4 }, () => c.store.write(randomBytes(100))))
    const dead = c.nodes[2]
    c.registry.markDead(dead.nodeId, 'test: silent')
    dead.failures.delete = 'NODE_UNAVAILABLE' // a dead node's calls would fail (or hang) anyway

    for (const ref of refs.slice(0, 3)) await c.store.delete([ref.id])
    expect(dead.calls.delete).toBe(0)
    expect(c.store.stats).toMatchObject({ deletesDeferred: 3, deleteFailures: 0 })
    expect(warnings).toEqual([])
    expect(infos.filter((m) => m.includes(dead.address))).toHaveLength(1)
    for (const ref of refs.slice(0, 3)) expect(onDisk(c, ref.id)).toEqual([2]) // left for the orphan collector

    c.registry.readmit(dead.nodeId, await dead.inner.list())
    delete dead.failures.delete
    await c.store.delete([refs[3].id])
    expect(onDisk(c, refs[3].id)).toEqual([])
  })

  it('logs a node whose deletes keep failing once, not once per delete, and counts every failure', async () => {
    const warnings: string[] = []
    const log = { debug() {}, info() {}, warn: (m: string) => warnings.push(m) }
    const c = (cluster = await makeCluster(2, { replicas: 2, log }))
    const refs = await Promise.all(Array.from({ length: 30 }, () => c.store.write(randomBytes(100))))
    c.nodes[1].failures.delete = 'NODE_UNAVAILABLE'
    for (const ref of refs.slice(0, 29)) await c.store.delete([ref.id])
    expect(c.store.stats.deleteFailures).toBe(29)
    expect(warnings.filter((m) => m.includes(c.nodes[1].address))).toHaveLength(1)
    // It answers again, then fails again: that is news, logged once more.
    delete c.nodes[1].failures.delete
    await c.store.delete([refs[29].id])
    c.nodes[1].failures.delete = 'NODE_UNAVAILABLE'
    await c.store.delete([refs[0].id])
    expect(warnings.filter((m) => m.includes(c.nodes[1].address))).toHaveLength(2)
  })
})
