// Storage policies through the file system core: the layout each new chunk is written in comes from
// the directory the file was opened in (own policy, else inherited, else the cluster's R), and the
// xattr user.dfs.policy sets, shows and removes a directory's own policy.

import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { isDfsError } from '../../src/errors.js'
import { POLICY_XATTR } from '../../src/meta/namespace/policy.js'
import type { ChunkRef } from '../../src/meta/namespace/types.js'
import { CHUNK, makeFs, readAll, writeFile } from './fakes.js'

const code = async (promise: Promise<unknown>) => promise.then(() => 'ok', err => (isDfsError(err) ? err.code : String(err)))
const policy = (text: string) => Buffer.from(text)

/** Each stored chunk's layout as policy text: what the refs the file system committed say. */
function layouts(fs: ReturnType<typeof makeFs>['fs'], meta: ReturnType<typeof makeFs>['meta'], path: string): string[] {
  const ino = fs.locate(path)!.ino!
  return (meta.state.inodes.get(ino)!.chunks ?? []).filter((r): r is ChunkRef => r !== null).map(ref =>
    ref.ec ? `ec:${ref.ec.k}+${ref.ec.m}` : `replicas:${ref.copies ?? 2}`)
}

describe('the layout new chunks are written in', () => {
  it('is the policy of the directory the file is created in, inherited by folders below, else the cluster R', async () => {
    const { fs, meta, chunks } = makeFs()
    await fs.mkdir('/photos', 0o755)
    await fs.mkdir('/photos/2024', 0o755)
    await fs.mkdir('/photos/2024/raw', 0o755)
    await fs.mkdir('/docs', 0o755)
    await fs.setxattr('/photos', POLICY_XATTR, policy('ec:2+1'), 0)
    await fs.setxattr('/photos/2024/raw', POLICY_XATTR, policy('replicas:3'), 0)
    const data = randomBytes(2 * CHUNK + 5)
    for (const path of ['/photos/a', '/photos/2024/b', '/photos/2024/raw/c', '/docs/d', '/e']) await writeFile(fs, path, data)

    expect(layouts(fs, meta, '/photos/a')).toEqual(['ec:2+1', 'ec:2+1', 'ec:2+1'])
    expect(layouts(fs, meta, '/photos/2024/b')).toEqual(['ec:2+1', 'ec:2+1', 'ec:2+1'])
    expect(layouts(fs, meta, '/photos/2024/raw/c')).toEqual(['replicas:3', 'replicas:3', 'replicas:3'])
    expect(layouts(fs, meta, '/docs/d')).toEqual(['replicas:2', 'replicas:2', 'replicas:2'])
    // The cluster's own R is asked for as ChunkIO's default (no layout), as before policies existed.
    expect(chunks.layouts.slice(-6)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined])
    expect(chunks.layouts[0]).toEqual({ kind: 'ec', k: 2, m: 1 })
    for (const path of ['/photos/a', '/photos/2024/raw/c', '/e']) expect((await readAll(fs, path)).equals(data)).toBe(true)
  })

  it('is taken at open: a rename or a new policy while the file is open does not change it', async () => {
    const { fs, meta } = makeFs()
    await fs.mkdir('/ec', 0o755)
    await fs.mkdir('/plain', 0o755)
    await fs.setxattr('/ec', POLICY_XATTR, policy('ec:2+1'), 0)
    const fh = await fs.create('/ec/f', 0o644)
    await fs.write(fh, randomBytes(CHUNK), 0)
    await fs.rename('/ec/f', '/plain/f')
    await fs.write(fh, randomBytes(CHUNK), CHUNK)
    await fs.setxattr('/ec', POLICY_XATTR, policy('replicas:3'), 0)
    await fs.write(fh, randomBytes(10), 2 * CHUNK)
    await fs.release(fh)
    expect(layouts(fs, meta, '/plain/f')).toEqual(['ec:2+1', 'ec:2+1', 'ec:2+1'])

    // Opened again where it is now: its new chunks take that directory's policy; the old ones keep theirs.
    const again = await fs.open('/plain/f')
    await fs.write(again, randomBytes(10), 0)
    await fs.release(again)
    expect(layouts(fs, meta, '/plain/f')).toEqual(['replicas:2', 'ec:2+1', 'ec:2+1'])
  })

  it('follows the directory back to inheriting once its policy is removed', async () => {
    const { fs, meta } = makeFs()
    await fs.mkdir('/a', 0o755)
    await fs.mkdir('/a/b', 0o755)
    await fs.setxattr('/', POLICY_XATTR, policy('replicas:1'), 0)
    await fs.setxattr('/a/b', POLICY_XATTR, policy('ec:2+1'), 0)
    await writeFile(fs, '/a/b/one', randomBytes(100))
    await fs.removexattr('/a/b', POLICY_XATTR)
    await writeFile(fs, '/a/b/two', randomBytes(100))
    await fs.removexattr('/', POLICY_XATTR)
    await writeFile(fs, '/a/b/three', randomBytes(100))
    expect([layouts(fs, meta, '/a/b/one'), layouts(fs, meta, '/a/b/two'), layouts(fs, meta, '/a/b/three')])
      .toEqual([['ec:2+1'], ['replicas:1'], ['replicas:2']])
  })
})

describe('the xattr user.dfs.policy', () => {
  it('shows a directory\'s own policy, normalised; ENODATA where it only inherits', async () => {
    const { fs } = makeFs({ nodes: 3 })
    await fs.mkdir('/d', 0o755)
    await fs.mkdir('/d/e', 0o755)
    await fs.setxattr('/d', POLICY_XATTR, policy(' ec:2+1\n'), 0)
    expect((await fs.getxattr('/d', POLICY_XATTR)).toString()).toBe('ec:2+1')
    expect(await code(fs.getxattr('/d/e', POLICY_XATTR))).toBe('ENODATA')
    expect(await fs.listxattr('/d')).toContain(POLICY_XATTR)
    await fs.removexattr('/d', POLICY_XATTR)
    expect(await code(fs.getxattr('/d', POLICY_XATTR))).toBe('ENODATA')
    expect(await code(fs.removexattr('/d', POLICY_XATTR))).toBe('ENODATA')
  })

  it('refuses a malformed policy, one on a file, and one wider than the cluster, changing nothing', async () => {
    const { fs, meta, logs } = makeFs({ nodes: 3 })
    await fs.mkdir('/d', 0o755)
    await fs.setxattr('/d', POLICY_XATTR, policy('ec:2+1'), 0)
    await writeFile(fs, '/d/f', randomBytes(10))
    const before = meta.records.length

    for (const bad of ['ec:2', 'ec:0+1', 'ec:25+1', 'ec:2+7', 'replicas:0', 'raid5', '']) {
      expect(await code(fs.setxattr('/d', POLICY_XATTR, policy(bad), 0))).toBe('POLICY_INVALID')
    }
    const onFile = await fs.setxattr('/d/f', POLICY_XATTR, policy('ec:2+1'), 0).catch((err: Error) => err)
    expect(isDfsError(onFile, 'EINVAL')).toBe(true)
    expect((onFile as Error).message).toMatch(/^\/d\/f: user\.dfs\.policy refused: .*directories only.*regular file/)
    const tooWide = await fs.setxattr('/d', POLICY_XATTR, policy('ec:4+2'), 0).catch((err: Error) => err)
    expect(isDfsError(tooWide, 'POLICY_TOO_WIDE')).toBe(true)
    expect((tooWide as Error).message).toMatch(/needs 4\+2 = 6 shards.*the cluster has 3/)
    expect(await code(fs.setxattr('/d', POLICY_XATTR, policy('replicas:4'), 0))).toBe('POLICY_TOO_WIDE')

    expect(meta.records.length).toBe(before)
    expect((await fs.getxattr('/d', POLICY_XATTR)).toString()).toBe('ec:2+1')
    expect(await code(fs.getxattr('/d/f', POLICY_XATTR))).toBe('ENODATA')
    // setfattr says only "Invalid argument": the log says which path and why.
    expect(logs.some(line => line.includes('/d/f: user.dfs.policy refused') && line.includes('directories only'))).toBe(true)
    expect(logs.some(line => line.includes('/d: user.dfs.policy refused') && line.includes('the cluster has 3'))).toBe(true)
  })

  it('is checked at the NameNode for any session, not only by this file system', () => {
    const { nameNode } = makeFs({ nodes: 2 })
    const remote = nameNode.openSession(true)
    const commit = (value: string) => {
      try {
        nameNode.commit(remote, { op: 'xattr', ino: 1, name: POLICY_XATTR, value: Buffer.from(value).toString('base64'), flags: 0, time: 1 })
        return 'ok'
      } catch (err) {
        return isDfsError(err) ? err.code : String(err)
      }
    }
    expect(commit('ec:2+1')).toBe('POLICY_TOO_WIDE')
    expect(commit('ec:1+1')).toBe('ok')
    expect(commit('nonsense')).toBe('POLICY_INVALID')
    expect(Buffer.from(nameNode.state.inodes.get(1)!.xattrs![POLICY_XATTR], 'base64').toString()).toBe('ec:1+1')
  })
})

describe('policyOf (dfs policy get)', () => {
  it('names the policy in force and where it comes from, and what a file\'s chunks are stored as', async () => {
    const { fs } = makeFs()
    await fs.mkdir('/photos', 0o755)
    await fs.mkdir('/photos/trip', 0o755)
    expect(await fs.policyOf('/photos')).toEqual({ path: '/photos', type: 'dir', policy: 'replicas:2' })
    await writeFile(fs, '/photos/trip/f', randomBytes(3 * CHUNK))
    await fs.setPolicy('/photos', 'ec:2+1')
    expect(await fs.policyOf('/photos/trip')).toEqual({ path: '/photos/trip', type: 'dir', policy: 'ec:2+1', from: '/photos' })
    // Two chunks rewritten since: those are stored in the new policy, the third keeps its layout.
    const fh = await fs.open('/photos/trip/f')
    await fs.write(fh, Buffer.from('x'), 0)
    await fs.write(fh, Buffer.from('y'), CHUNK)
    await fs.release(fh)
    expect(await fs.policyOf('/photos/trip/f')).toEqual({
      path: '/photos/trip/f', type: 'file', policy: 'ec:2+1', from: '/photos',
      chunks: [{ layout: 'ec:2+1', count: 2 }, { layout: 'replicas:2', count: 1 }],
    })
    expect(await code(fs.setPolicy('/photos/trip/f', 'ec:2+1'))).toBe('EINVAL')
  })
})
