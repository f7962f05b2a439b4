// The replica rules that used to be written once per caller, now one function each: what a failed
// call says about a node (nodeHealth.ts), how one copy stands (checkCopy.ts). Each is checked on its
// own, and through a caller that used to judge differently from the others.

import { afterEach, describe, expect, it } from 'vitest'
import { checkCopy, checkOf, isBadCopy, readCopy } from '../../src/chunks/checkCopy.js'
import { noteNodeAnswered, noteNodeError } from '../../src/chunks/nodeHealth.js'
import type { ErrorCode } from '../../src/errors.js'
import { makeCluster, type TestCluster } from './fakes.js'

let cluster: TestCluster | undefined
afterEach(async () => {
  await cluster?.cleanup()
  cluster = undefined
})

describe('noteNodeError: one rule for what a failed call says about a node', () => {
  const cases: [ErrorCode, { health: string; full: boolean }][] = [
    ['NODE_FULL', { health: 'alive', full: true }],
    ['NODE_UNAVAILABLE', { health: 'suspect', full: false }],
    ['NODE_LOCKED', { health: 'suspect', full: false }],
    ['CHUNK_MISSING', { health: 'alive', full: false }],
    ['CHUNK_CORRUPT', { health: 'alive', full: false }],
    ['CHUNK_HASH_MISMATCH', { health: 'alive', full: false }],
  ]
  it.each(cases)('%s', async (code, expected) => {
    const c = (cluster = await makeCluster(1))
    const nodeId = c.nodes[0].nodeId
    noteNodeError(c.registry, nodeId, { code, message: `injected ${code}` })
    expect(c.registry.status(nodeId)).toMatchObject(expected)
    noteNodeAnswered(c.registry, nodeId)
    expect(c.registry.health(nodeId)).toBe('alive')
  })

  it('a sync refused for want of room takes the node out of the write pool, as a put would', async () => {
    // The chunk store's sync used to mark only unreachable nodes: a full one stayed writable.
    const c = (cluster = await makeCluster(3))
    const ref = await c.store.write(Buffer.from('abc'))
    const i = c.indexOf(ref.nodes[0])
    c.nodes[i].failures.sync = 'NODE_FULL'
    await c.store.sync([ref])
    expect(c.registry.status(c.nodes[i].nodeId)?.full).toBe(true)
    expect(c.registry.writable()).not.toContain(c.nodes[i].nodeId)
  })
})

describe('checkCopy: how one copy stands', () => {
  it('good, missing, corrupt, unreachable', async () => {
    const c = (cluster = await makeCluster(2))
    const data = Buffer.from('a chunk of bytes')
    const ref = await c.store.write(data)
    const [a, b] = ref.nodes.map((id) => c.nodes[c.indexOf(id)])
    const good = await readCopy(a, a.nodeId, ref)
    expect(good.check).toBe('good')
    expect(good.check === 'good' && good.data.equals(data)).toBe(true)
    expect(await checkCopy(a, a.nodeId, { ...ref, sha256: '0'.repeat(64) })).toBe('corrupt')
    expect(await checkCopy(a, a.nodeId, { ...ref, len: ref.len + 1 })).toBe('corrupt')
    await b.inner.delete(ref.id)
    expect(await checkCopy(b, b.nodeId, ref)).toBe('missing')
    a.failures.get = 'NODE_UNAVAILABLE'
    expect(await checkCopy(a, a.nodeId, ref)).toBe('unreachable')
    expect(await checkCopy(undefined, 'not-registered', ref)).toBe('unreachable')
  })

  it('only missing and corrupt make a copy bad', () => {
    expect(checkOf({ code: 'CHUNK_MISSING' })).toBe('missing')
    expect(checkOf({ code: 'CHUNK_CORRUPT' })).toBe('corrupt')
    expect(checkOf({ code: 'NODE_UNAVAILABLE' })).toBe('unreachable')
    expect(isBadCopy({ code: 'CHUNK_CORRUPT' })).toBe(true)
    expect(isBadCopy({ code: 'NODE_FULL' })).toBe(false)
  })
})
