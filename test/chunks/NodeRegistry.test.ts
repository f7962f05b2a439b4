import { describe, expect, it } from 'vitest'
import { NodeRegistry, type NodeStateChange } from '../../src/chunks/NodeRegistry.js'
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
  const changes: NodeStateChange[] = []
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
    expect(registry.status('a')).toMatchObject({ state: 'alive', address: '/srv/a' })
  })

  it('refuses two nodes with one id (a copied node folder)', () => {
    const { registry } = setup()
    expect(() => registry.add(stubNode('a', '/srv/copy-of-a'))).toThrow(expect.objectContaining({ code: 'NODE_FOLDER_INVALID' }))
  })

  it('keeps down and full nodes out of writes until their back-off is over', () => {
    const { registry, advance } = setup()
    registry.markDown('a', 'folder gone')
    registry.markFull('b')
    expect(registry.writable()).toEqual(['c'])
    expect(registry.status('a')).toMatchObject({ state: 'down', reason: 'folder gone' })
    advance(4_999)
    expect(registry.writable()).toEqual(['c'])
    advance(1)
    expect(registry.writable()).toEqual(['a', 'b', 'c'])
  })

  it('starts a new back-off when a retry fails again, and clears it when the node answers', () => {
    const { registry, advance } = setup()
    registry.markDown('a', 'first')
    advance(5_000)
    registry.markDown('a', 'again')
    expect(registry.writable()).toEqual(['b', 'c'])
    expect(registry.status('a')).toMatchObject({ reason: 'again' })
    registry.markAlive('a')
    expect(registry.writable()).toEqual(['a', 'b', 'c'])
    expect(registry.status('a')?.retryAt).toBeUndefined()
  })

  it('emits one event per state change, with when and why', () => {
    const { registry, changes, now } = setup()
    registry.markDown('a', 'gone')
    registry.markDown('a', 'still gone')
    registry.markAlive('a')
    registry.markAlive('a')
    registry.markFull('c', 'ENOSPC')
    expect(changes).toEqual([
      { nodeId: 'a', address: '/srv/a', from: 'alive', to: 'down', reason: 'gone', at: now() },
      { nodeId: 'a', address: '/srv/a', from: 'down', to: 'alive', reason: undefined, at: now() },
      { nodeId: 'c', address: '/srv/c', from: 'alive', to: 'full', reason: 'ENOSPC', at: now() },
    ])
  })

  it('ignores state changes for unknown nodes and forgets removed ones', () => {
    const { registry, changes } = setup()
    registry.markDown('zz', 'unknown')
    expect(registry.remove('b')).toBe(true)
    expect(registry.ids()).toEqual(['a', 'c'])
    expect(changes).toEqual([])
  })

  it('hands out copies of status, so callers cannot change it', () => {
    const { registry } = setup()
    const status = registry.status('a')!
    status.state = 'down'
    expect(registry.state('a')).toBe('alive')
  })
})
