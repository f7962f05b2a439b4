import { describe, expect, it } from 'vitest'
import { NodeRegistry, type NodeHealthChange, type NodeReport } from '../../src/chunks/NodeRegistry.js'
import type { DataNode } from '../../src/datanode/DataNode.js'

function stubNode(nodeId: string, address = `/srv/${nodeId}`): DataNode {
  const notUsed = async (): Promise<never> => {
    throw new Error('not used')
  }
  return { nodeId, address, put: notUsed, get: notUsed, has: notUsed, delete: notUsed, list: notUsed, usage: notUsed, sync: notUsed, ping: notUsed, close: async () => {} }
}

function setup() {
  let now = 1_000_000
  const registry = new NodeRegistry({ retryAfterMs: 5_000, now: () => now })
  const changes: NodeHealthChange[] = []
  registry.on('change', (change) => changes.push(change))
  for (const id of ['a', 'b', 'c']) registry.add(stubNode(id))
  return { registry, changes, advance: (ms: number) => (now += ms), now: () => now }
}

describe('NodeRegistry', () => {
  it('holds nodes by id, all alive at first', () => {
    const { registry } = setup()
    expect(registry.ids()).toEqual(['a', 'b', 'c'])
    expect(registry.get('b')?.address).toBe('/srv/b')
    expect(registry.get('zz')).toBeUndefined()
    expect(registry.writable()).toEqual(['a', 'b', 'c'])
    expect(registry.status('a')).toMatchObject({ health: 'alive', full: false, address: '/srv/a' })
  })

  it('refuses two nodes with one id (a copied node folder)', () => {
    const { registry } = setup()
    expect(() => registry.add(stubNode('a', '/srv/copy-of-a'))).toThrow(expect.objectContaining({ code: 'NODE_ID_DUPLICATE' }))
  })

  describe('without a heartbeat monitor', () => {
    it('keeps suspect and full nodes out of writes until their back-off is over', () => {
      const { registry, advance } = setup()
      registry.markSuspect('a', 'folder gone')
      registry.markFull('b')
      expect(registry.writable()).toEqual(['c'])
      expect(registry.status('a')).toMatchObject({ health: 'suspect', reason: 'folder gone' })
      expect(registry.status('b')).toMatchObject({ health: 'alive', full: true })
      advance(4_999)
      expect(registry.writable()).toEqual(['c'])
      advance(1)
      expect(registry.writable()).toEqual(['a', 'b', 'c'])
    })

    it('starts a new back-off when a retry fails again, and clears it when the node answers', () => {
      const { registry, advance } = setup()
      registry.markSuspect('a', 'first')
      advance(5_000)
      registry.markSuspect('a', 'again')
      expect(registry.writable()).toEqual(['b', 'c'])
      expect(registry.status('a')).toMatchObject({ reason: 'again' })
      registry.markAlive('a')
      expect(registry.writable()).toEqual(['a', 'b', 'c'])
      expect(registry.status('a')?.retryAt).toBeUndefined()
    })
  })

  describe('with a heartbeat monitor', () => {
    it('offers no back-off retries: only the monitor brings a node back', () => {
      const { registry, advance } = setup()
      registry.monitored = true
      registry.markSuspect('a', 'late heartbeat')
      registry.markFull('b')
      advance(60_000)
      expect(registry.writable()).toEqual(['c'])
      registry.markAlive('a')
      registry.markHasRoom('b')
      expect(registry.writable()).toEqual(['a', 'b', 'c'])
    })

    it('lets a dead node back only after it reported what it holds', () => {
      const { registry } = setup()
      registry.monitored = true
      const reports: NodeReport[] = []
      registry.on('report', (r) => reports.push(r))
      registry.markDead('a', 'silent for 10 s')
      registry.markSuspect('a', 'a late failure does not make it less dead')
      registry.markAlive('a') // a stray success is not a re-admission
      expect(registry.health('a')).toBe('dead')
      expect(registry.writable()).toEqual(['b', 'c'])
      registry.readmit('a', ['00'.repeat(16)])
      expect(reports).toEqual([{ nodeId: 'a', ids: ['00'.repeat(16)] }])
      expect(registry.health('a')).toBe('alive')
      expect(registry.writable()).toEqual(['a', 'b', 'c'])
    })
  })

  it('emits one event per health change, with when and why', () => {
    const { registry, changes, now } = setup()
    registry.markSuspect('a', 'gone')
    registry.markSuspect('a', 'still gone')
    registry.markDead('a', 'silent')
    registry.markAlive('a')
    registry.markAlive('a')
    registry.markFull('c', 'ENOSPC') // not a health change
    expect(changes).toEqual([
      { nodeId: 'a', address: '/srv/a', from: 'alive', to: 'suspect', reason: 'gone', at: now() },
      { nodeId: 'a', address: '/srv/a', from: 'suspect', to: 'dead', reason: 'silent', at: now() },
      { nodeId: 'a', address: '/srv/a', from: 'dead', to: 'alive', reason: undefined, at: now() },
    ])
  })

  it('ignores changes for unknown nodes and forgets removed ones', () => {
    const { registry, changes } = setup()
    registry.markSuspect('zz', 'unknown')
    expect(registry.remove('b')).toBe(true)
    expect(registry.ids()).toEqual(['a', 'c'])
    expect(changes).toEqual([])
  })

  it('hands out copies of status, so callers cannot change it', () => {
    const { registry } = setup()
    const status = registry.status('a')!
    status.health = 'dead'
    expect(registry.health('a')).toBe('alive')
  })
})
