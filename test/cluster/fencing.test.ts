// Fencing at open (src/cluster/fencing.ts), without FUSE: openCluster directly over local folders and
// DataNode servers on 127.0.0.1. A metadata folder behind the nodes is refused, changing nothing; a
// crash between writing the folder's new claim and claiming the nodes never fences the owner.

import { cp, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type ClusterFlags, openCluster } from '../../src/cluster/openCluster.js'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { readClaimFile, readNodeClaim, writeClaimFile } from '../../src/datanode/claimFile.js'
import { readMetaEpoch, writeMetaEpoch } from '../../src/meta/epochClaim.js'
import { SECRET, TestServers } from '../datanode/tcpHelpers.js'
import { sha256Of } from '../helpers/sha256.js'
import { treeListing } from '../helpers/tree.js'

const servers = new TestServers()
afterEach(() => servers.cleanup())

async function folders(names: string[]): Promise<{ root: string; meta: string; dirs: string[] }> {
  const root = await servers.temp.make('dfs-fence-')
  const dirs = names.map((name) => join(root, name))
  for (const dir of dirs) await mkdir(dir)
  return { root, meta: join(root, 'meta'), dirs }
}

const flags = (meta: string, nodes: string[], more: Partial<ClusterFlags> = {}): ClusterFlags =>
  ({ meta, nodes, cacheBytes: 0, log: () => {}, ...more })

async function openAndClose(f: ClusterFlags): Promise<void> {
  const cluster = await openCluster(f, { create: true })
  await cluster.close()
}

async function nodeEpoch(dir: string): Promise<number> {
  return (await readNodeClaim(dir))!.epoch
}

/** Open, put a chunk on every node and delete it again: the opener holds the claim everywhere. */
async function deletesWork(f: ClusterFlags): Promise<void> {
  const cluster = await openCluster(f, { create: true })
  try {
    for (const node of cluster.registry.nodes()) {
      const id = newChunkId()
      await node.put(id, Buffer.from('x'), sha256Of(Buffer.from('x')))
      await node.delete(id)
      expect(await node.has(id)).toBe(false)
    }
  } finally {
    await cluster.close()
  }
}

describe('a metadata folder behind the nodes', () => {
  it('is refused with EPOCH_BEHIND, on mount and fsck --repair, changing nothing; fsck without --repair still looks', async () => {
    const { root, meta, dirs } = await folders(['n1', 'n2', 'n3'])
    await openAndClose(flags(meta, dirs))
    const copy = join(root, 'meta-copy')
    await cp(meta, copy, { recursive: true })
    await openAndClose(flags(meta, dirs)) // the original carries on: epoch 2

    const before = await treeListing([root])
    for (const options of [{ create: true }, { skipUnavailable: true }]) {
      const err = await openCluster(flags(copy, dirs), options).then((c) => c.close().then(() => undefined), (e: Error & { code?: string }) => e)
      expect(err?.code).toBe('EPOCH_BEHIND')
      expect(err?.message).toMatch(new RegExp(`^a newer NameNode \\(epoch 2\\) took over: metadata folder ${copy} is behind the cluster \\(a former primary, a copy or a restored backup\\): node \\S+ was claimed by epoch 2, and this folder's last claim is epoch 1; it can read but never delete$`))
    }
    expect(await treeListing([root])).toEqual(before)
    const look = await openCluster(flags(copy, dirs), { readOnly: true, skipUnavailable: true })
    await look.close()
    await deletesWork(flags(meta, dirs))
  })
})

describe('a crash between the metadata folder\'s new claim and the nodes\' claims', () => {
  it('recovers on the next open (local node folders)', async () => {
    const { meta, dirs } = await folders(['n1', 'n2', 'n3'])
    await openAndClose(flags(meta, dirs))
    const first = (await readMetaEpoch(meta))!
    expect(first.epoch).toBe(1)
    // Step 2 done, step 3 not: the folder claims epoch 2, every node still holds epoch 1 ...
    await writeMetaEpoch(meta, { epoch: 2, token: 'dead', previous: { epoch: 1, token: first.token } })
    await deletesWork(flags(meta, dirs))
    for (const dir of dirs) expect(await nodeEpoch(dir)).toBe(3)
    // ... or step 3 half done: one node took epoch 2, the others did not.
    const third = (await readMetaEpoch(meta))!
    await writeMetaEpoch(meta, { epoch: 4, token: 'cafe', previous: { epoch: 3, token: third.token } })
    await writeClaimFile(dirs[0]!, { epoch: 4, token: 'cafe', seqWatermark: 0 }, (await readClaimFile(dirs[0]!))?.generation)
    await deletesWork(flags(meta, dirs))
    for (const dir of dirs) expect(await nodeEpoch(dir)).toBe(5)
  })

  it('recovers on the next open (DataNode servers)', async () => {
    const started = await Promise.all([1, 2].map(() => servers.start({ clusterId: undefined })))
    const { root } = await folders([])
    const meta = join(root, 'meta')
    const secretFile = join(root, 'secret')
    await writeFile(secretFile, SECRET, { mode: 0o600 })
    const f = flags(meta, started.map((s) => s.url), { secretFile, replicas: 2 })
    await openAndClose(f)
    const first = (await readMetaEpoch(meta))!
    await writeMetaEpoch(meta, { epoch: 2, token: 'dead', previous: { epoch: 1, token: first.token } })
    await deletesWork(f)
    for (const s of started) expect(await nodeEpoch(s.dir)).toBe(3)
  })

  it('claims a server that was down at open as soon as it answers, and deletes there then', async () => {
    const started = await Promise.all([1, 2].map(() => servers.start({ clusterId: undefined })))
    const { root } = await folders([])
    const secretFile = join(root, 'secret')
    await writeFile(secretFile, SECRET, { mode: 0o600 })
    const f = flags(join(root, 'meta'), started.map((s) => s.url), { secretFile, replicas: 2 })
    await openAndClose(f)
    const [, second] = started
    await second!.server.close()
    const cluster = await openCluster(f, { create: true })
    try {
      expect(await nodeEpoch(started[0]!.dir)).toBe(2)
      expect(await nodeEpoch(second!.dir)).toBe(1)
      await servers.start({ dir: second!.dir, listen: `127.0.0.1:${second!.server.port}`, clusterId: undefined })
      const node = cluster.registry.nodes().find((n) => n.address === second!.url)!
      const id = newChunkId()
      await node.put(id, Buffer.from('x'), sha256Of(Buffer.from('x')))
      expect(await nodeEpoch(second!.dir)).toBe(2)
      await node.delete(id)
      expect(await node.has(id)).toBe(false)
    } finally {
      await cluster.close()
    }
  })
})
