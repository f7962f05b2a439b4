// Opening a cluster refuses bad folders before its first write: the meta folder and every node
// folder are byte-for-byte the same after a refusal. Without FUSE: openCluster directly, with local
// folders and real DataNode servers on 127.0.0.1.

import { cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type ClusterFlags, type OpenOptions, openCluster } from '../../src/cluster/openCluster.js'
import { SECRET, TestServers } from '../datanode/tcpHelpers.js'
import { treeListing } from '../helpers/tree.js'

const servers = new TestServers()
afterEach(() => servers.cleanup())

async function folders(names: string[]): Promise<{ root: string; meta: string; dirs: string[] }> {
  const root = await servers.temp.make('dfs-open-')
  const dirs = names.map(name => join(root, name))
  for (const dir of dirs) await mkdir(dir)
  return { root, meta: join(root, 'meta'), dirs }
}

const flags = (meta: string, nodes: string[], more: Partial<ClusterFlags> = {}): ClusterFlags =>
  ({ meta, nodes, cacheBytes: 0, log: () => {}, ...more })

async function create(meta: string, nodes: string[], more: Partial<ClusterFlags> = {}): Promise<void> {
  const cluster = await openCluster(flags(meta, nodes, more), { create: true })
  await cluster.close()
}

/** Open must fail with code, and leave every folder under root as it was. */
async function refuses(root: string, f: ClusterFlags, options: OpenOptions, code: string): Promise<Error> {
  const before = await treeListing([root])
  const err = await openCluster(f, options).then(c => c.close().then(() => new Error('opened')), (e: Error) => e)
  expect(err).toMatchObject({ code })
  expect(await treeListing([root]), `${code}: changed the folders`).toEqual(before)
  return err
}

describe('openCluster checks everything before the first write', () => {
  it('refuses a copied node folder (same node id), on mount, fsck --repair and fsck', async () => {
    const { root, meta, dirs } = await folders(['n1', 'n2', 'n3'])
    await create(meta, dirs)
    const copy = join(root, 'n4')
    await cp(dirs[2], copy, { recursive: true })

    const err = await refuses(root, flags(meta, [...dirs, copy]), { create: true }, 'NODE_ID_DUPLICATE')
    expect(err.message).toMatch(/node \S*n4 has the same node id \(\w+\) as node \S*n3: it is a copy of that folder; empty \S*n4 to make it a new node/)
    await refuses(root, flags(meta, [...dirs, copy]), { skipUnavailable: true }, 'NODE_ID_DUPLICATE')
    await refuses(root, flags(meta, [...dirs, copy]), { readOnly: true, skipUnavailable: true }, 'NODE_ID_DUPLICATE')

    // The cluster still opens as it was, and the copy, emptied, joins as a new node.
    await create(meta, dirs)
    await rm(copy, { recursive: true })
    await mkdir(copy)
    await create(meta, [...dirs, copy])
  })

  it('refuses two DataNode servers serving copies of one folder', async () => {
    const { root, meta, dirs } = await folders(['n1', 'n2', 'served-a'])
    const secretFile = join(root, 'secret')
    await writeFile(secretFile, SECRET, { mode: 0o600 })
    const a = await servers.start({ dir: dirs[2], clusterId: undefined })
    await create(meta, [dirs[0], dirs[1], a.url], { secretFile })
    const copy = join(root, 'served-b')
    await cp(dirs[2], copy, { recursive: true })
    const b = await servers.start({ dir: copy, clusterId: undefined })

    const err = await refuses(root, flags(meta, [dirs[0], dirs[1], a.url, b.url], { secretFile }), { create: true }, 'NODE_ID_DUPLICATE')
    expect(err.message).toContain(`node ${b.url} has the same node id`)
  })

  it('refuses node folders that are the mount point, the meta folder, or inside one another', async () => {
    const { root, meta, dirs } = await folders(['n1', 'n2', 'n3', 'mnt', 'meta'])
    const [n1, n2, n3, mnt] = dirs
    await mkdir(join(n1, 'sub'))
    const alias = join(root, 'alias-of-n1')
    await symlink(n1, alias)

    const cases: Array<[string[], Partial<ClusterFlags>, RegExp]> = [
      [[n1, n2, mnt], { mountpoint: mnt }, /node folder \S*mnt is the mount point \S*mnt/],
      [[n1, n2, join(mnt, 'x')], { mountpoint: mnt }, /node folder \S*mnt\/x is inside the mount point/],
      [[n1, n2, meta], {}, /node folder \S*meta is the metadata folder \S*meta/],
      [[n1, n2, n3], { mountpoint: join(meta, 'mnt') }, /the metadata folder \S*meta contains the mount point/],
      [[n1, n2, join(n1, 'sub')], {}, /node folder \S*n1\/sub is inside node folder \S*n1;/],
      [[n1, n2, alias], {}, /node folder \S*alias-of-n1 is node folder \S*n1;/],
      [[n1, n2, n3], { meta: join(n2, 'meta') }, /node folder \S*n2 contains the metadata folder/],
    ]
    for (const [nodes, more, message] of cases) {
      const err = await refuses(root, flags(meta, nodes, more), { create: true }, 'FOLDERS_OVERLAP')
      expect(err.message).toMatch(message)
      expect(err.message).toMatch(/give every node folder, the metadata folder and the mount point a folder of its own, none inside another/)
    }
  })

  it('refuses a --meta that is a file, or below one, with a message and not a raw errno', async () => {
    const { root, dirs } = await folders(['n1', 'n2'])
    const file = join(root, 'a-file')
    await writeFile(file, 'x')
    const err = await refuses(root, flags(file, dirs), { create: true }, 'META_FOREIGN')
    expect(err.message).toMatch(/metadata folder \S*a-file is a file, not a folder; pass a folder/)
    const below = await refuses(root, flags(join(file, 'meta'), dirs), { create: true }, 'META_FOREIGN')
    expect(below.message).toMatch(/part of its path is a file/)
  })

  it('refuses host:port without tcp:// (or with another scheme), naming what to write', async () => {
    const { root, meta, dirs } = await folders(['n1', 'n2'])
    const err = await refuses(root, flags(meta, [...dirs, '127.0.0.1:47101']), { create: true }, 'BAD_ARGUMENT')
    expect(err.message).toContain('write tcp://127.0.0.1:47101')
    const scheme = await refuses(root, flags(meta, [...dirs, 'http://127.0.0.1:47101']), { create: true }, 'BAD_ARGUMENT')
    expect(scheme.message).toContain('write DataNode servers as tcp://host:port')
    // A folder by such a name is still usable, written as a path.
    await mkdir(join(root, 'host:1'))
    await create(meta, [...dirs, join(root, 'host:1')])
  })
})
