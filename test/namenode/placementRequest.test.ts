// The placement request over the NameNode protocol: a client's RemoteNameNode asks where an inode's
// chunks are and gets what the NameNode host computes; a tool asks `info` by namespace path.

import { afterEach, expect, it } from 'vitest'
import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { connectTool } from '../../src/client/callNameNode.js'
import { ROOT_INO, S_IFREG } from '../../src/meta/namespace/types.js'
import { makeTempDir } from '../helpers/tmp.js'
import { type RunningNameNode, TEST_SECRET, startTestNameNode } from './fixtures.js'

let running: RunningNameNode | undefined
let client: RemoteNameNode | undefined
afterEach(async () => {
  await client?.close()
  await running?.server.close()
  await running?.host.close()
  running = client = undefined
})

it('a client asks placement(ino) and a tool asks info by path; both get the host\'s placement', async () => {
  running = await startTestNameNode(makeTempDir('dfs-nn-placement-').path)
  const { host, server } = running
  const address = `tcp://127.0.0.1:${server.port}`
  client = await RemoteNameNode.connect({ addresses: [address], secret: TEST_SECRET, log: () => {}, timeoutMs: 60_000 }, 5_000)
  const file = await client.commit({ op: 'mknod', parent: ROOT_INO, name: 'f', mode: S_IFREG | 0o644, uid: 0, gid: 0, time: 1 }) as { ino: number }
  const ref = await host.cluster.chunks.write(Buffer.from('some bytes'))
  await client.commit({ op: 'chunk', ino: file.ino, index: 0, ref, size: 10, mtime: 2, ctime: 2 })

  const placement = await client.placement(file.ino, '/f')
  expect(placement).toEqual(host.placement(file.ino, '/f'))
  expect(placement).toMatchObject({ path: '/f', type: 'file', size: 10, replicas: 2, chunks: [{ index: 0, id: ref.id, length: 10, sha256: ref.sha256, intact: 2 }] })
  expect(placement.chunks[0].copies.map(c => c.state)).toEqual(['ok', 'ok'])
  await expect(client.placement(424242)).rejects.toMatchObject({ code: 'ENOENT' })

  const tool = await connectTool([address], TEST_SECRET)
  try {
    expect(await tool.control('info', { path: '/f' })).toEqual(placement)
    await expect(tool.control('info', { path: '/nope' })).rejects.toMatchObject({ code: 'ENOENT' })
  } finally {
    tool.close()
  }
})
