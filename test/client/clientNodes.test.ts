// A client opens the nodes its NameNode names, from its own host. A local-folder node it cannot
// open (the folder is on the NameNode's host) is not silently skipped: it is named, and every use
// of it says why and what to do instead.

import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ClientNodes } from '../../src/client/clientNodes.js'
import { makeTempDir } from '../helpers/tmp.js'

describe('ClientNodes', () => {
  let nodes: ClientNodes | undefined
  afterEach(async () => {
    await nodes?.close()
    nodes = undefined
  })

  it('names a local-folder node it cannot open, and every call to it says so plainly', async () => {
    const elsewhere = join(makeTempDir('dfs-client-nodes-').path, 'on-the-namenode-host')
    const logs: string[] = []
    nodes = new ClientNodes({ clusterId: 'c1', secret: Buffer.from('s'), log: m => logs.push(m) })
    await nodes.update([{ nodeId: 'aaaa', address: elsewhere, health: 'alive', full: false, draining: false }])
    const [why] = nodes.unreachable()
    expect(why).toMatch(/node aaaa is the folder .*on-the-namenode-host on the NameNode's host/)
    expect(why).toMatch(/serve every node with `dfs datanode`/)
    expect(logs.join('\n')).toContain(why)
    const node = nodes.registry.get('aaaa')!
    await expect(node.get('0'.repeat(32))).rejects.toMatchObject({ code: 'NODE_UNAVAILABLE', message: why })
  })

  it('takes the health the NameNode reports', async () => {
    nodes = new ClientNodes({ clusterId: 'c1', secret: Buffer.from('s'), log: () => {} })
    const info = { nodeId: 'bbbb', address: 'tcp://127.0.0.1:9', health: 'alive' as const, full: false, draining: false }
    await nodes.update([info])
    expect(nodes.registry.writable()).toEqual(['bbbb'])
    await nodes.update([{ ...info, health: 'dead' }])
    expect(nodes.registry.health('bbbb')).toBe('dead')
    expect(nodes.registry.writable()).toEqual([])
    await nodes.update([{ ...info, draining: true }])
    expect(nodes.registry.health('bbbb')).toBe('alive')
    expect(nodes.registry.writable()).toEqual([])
  })
})
