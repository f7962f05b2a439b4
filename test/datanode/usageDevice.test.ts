// USAGE names the device a node stores on, so capacity counts each disk once; the field is optional
// on the wire, so servers and clients from before it keep working with newer ones.

import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { decodeUsage } from '../../src/datanode/tcp/protocol.js'
import { TempDirs } from './tempDirs.js'

const temp = new TempDirs()
afterEach(() => temp.cleanup())

describe('usage().device', () => {
  it('is the same for two node folders on one filesystem', async () => {
    const root = await temp.make('dfs-device-')
    const nodes = []
    for (const name of ['a', 'b']) {
      await mkdir(join(root, name))
      nodes.push(await LocalFolderNode.open(join(root, name), { clusterId: 'c', create: true }))
    }
    const [a, b] = await Promise.all(nodes.map((n) => n.usage()))
    expect(a.device).toMatch(/^.+:\d+$/)
    expect(b.device).toBe(a.device)
    await Promise.all(nodes.map((n) => n.close()))
  })

  it('travels in USAGE, and a reply without it (an older server) still decodes', () => {
    const old = { capacity: 10, available: 5, used: 1, chunks: 2 }
    expect(decodeUsage(Buffer.from(JSON.stringify(old)))).toEqual(old)
    expect(decodeUsage(Buffer.from(JSON.stringify({ ...old, device: 'm:42' })))).toEqual({ ...old, device: 'm:42' })
    expect(decodeUsage(Buffer.from(JSON.stringify({ ...old, device: 42 })))).toEqual(old)
  })
})
