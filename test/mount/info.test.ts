// Per-file placement through a real mount: `dfs info` and `getfattr -n user.dfs.placement` agree with
// each other and with `dfs fsck`'s view of the nodes; a node folder removed shows its copies not ok;
// the placement xattrs are never listed, so `cp -a` and `rsync -aX` copy a file out with its own
// xattrs and nothing of dfs's.

import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { dfs, until } from '../helpers/cli.js'
import { run } from '../helpers/run.js'
import { mustRun, mustSh } from './fixtures.js'

stopAllAfterAll()

let cluster: Cluster
let daemonPid: number
const SIZE = 3 * 65536 + 1000 // four chunks of 64 KiB, the last short

beforeAll(async () => {
  cluster = makeCluster(3, 'dfs-info-')
  // A long heal grace: the copies on a removed node stay listed (as unreachable) while the test looks.
  daemonPid = (await cluster.start({ chunkSize: '64k', extraArgs: ['--suspect-after', '1s', '--dead-after', '3s', '--heal-grace', '1h'] })).pid
  await mustSh(`head -c ${SIZE} /dev/urandom > ${cluster.mnt}/f && mkdir ${cluster.mnt}/d && setfattr -n user.mine -v hello ${cluster.mnt}/f && sync`)
})
afterAll(async () => cluster?.cleanup())

const infoJson = async (path: string) => {
  const r = await dfs('info', path, '--json')
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}
const xattr = (name: string, path: string) => mustRun('getfattr', ['--only-values', '-n', name, path])
/** Placement without what may move between two looks (the scrubber's times) or differ by who asked (the path). */
const comparable = (p: any) => ({ ...p, path: undefined, chunks: p.chunks.map((c: any) => ({ ...c, copies: c.copies.map(({ verifiedAt, ...copy }: any) => copy) })) })

describe('dfs info and user.dfs.placement', () => {
  it('agree with each other and with dfs fsck: every chunk on 2 nodes, the nodes holding what fsck counts', async () => {
    const file = join(cluster.mnt, 'f')
    const info = await infoJson(file)
    const fromXattr = JSON.parse(await xattr('user.dfs.placement', file))
    expect(info.path).toBe(file)
    expect(fromXattr.path).toBe('/f')
    expect(comparable(fromXattr)).toEqual(comparable(info))
    expect(info).toMatchObject({ type: 'file', size: SIZE, chunkSize: 65536, replicas: 2 })
    expect(info.chunks.map((c: any) => [c.index, c.offset, c.length, c.intact])).toEqual([[0, 0, 65536, 2], [1, 65536, 65536, 2], [2, 131072, 65536, 2], [3, 196608, 1000, 2]])
    for (const c of info.chunks) {
      expect(c.copies).toHaveLength(2)
      expect(new Set(c.copies.map((copy: any) => copy.nodeId)).size).toBe(2)
      expect(c.copies.every((copy: any) => copy.state === 'ok' && copy.node === 'alive' && cluster.nodes.includes(copy.address))).toBe(true)
    }
    // Each chunk's SHA-256 is the hash of those bytes of the file.
    const second = await mustSh(`dd if=${file} bs=65536 skip=1 count=1 status=none | sha256sum`)
    expect(second.split(' ')[0]).toBe(info.chunks[1].sha256)

    // The compact form: one line per chunk.
    const lines = (await xattr('user.dfs.chunks', file)).trimEnd().split('\n')
    expect(lines).toEqual(info.chunks.map((c: any) => `${c.index} ${c.id} ${c.length} ${c.sha256} ${c.copies.map((copy: any) => `${copy.nodeId}:ok`).join(',')}`))

    // fsck reads every copy: nothing wrong, as many chunks, and each node holds the copies info puts on it.
    const r = await dfs('fsck', '--meta', cluster.meta, '--json')
    const report = JSON.parse(r.stdout)
    expect([report.lost, report.underReplicated, report.badReplicas, report.orphans]).toEqual([[], [], [], []])
    expect(report.chunks).toBe(info.chunks.length)
    for (const node of report.nodes) {
      const copies = info.chunks.filter((c: any) => c.copies.some((copy: any) => copy.nodeId === node.nodeId)).length
      expect([node.address, node.chunks]).toEqual([node.address, copies])
    }

    const text = await dfs('info', file)
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(new RegExp(`^${file}: inode ${info.ino}, ${SIZE} bytes .*4 chunks of 64 KiB, 2 replicas`))
    expect(text.stdout).toContain(`chunk 3: offset 196608, 1000 bytes, id ${info.chunks[3].id}, sha256 ${info.chunks[3].sha256}`)
    expect(text.stdout).toMatch(/every chunk has 2 intact copies/)
  })

  it('are never listed, cannot be set, and cp -a / rsync -aX copy only the file\'s own xattrs', async () => {
    const file = join(cluster.mnt, 'f')
    const listed = await mustRun('getfattr', ['-d', '-m', '-', file])
    expect(listed).toContain('user.mine="hello"')
    expect(listed).not.toContain('user.dfs')
    const set = await run('setfattr', ['-n', 'user.dfs.placement', '-v', 'x', file])
    expect(set.code).not.toBe(0)
    expect(set.stderr).toMatch(/Operation not permitted/)

    const out = join(cluster.root, 'out')
    await mustSh(`mkdir ${out} && cp -a ${file} ${out}/cp && rsync -aX ${file} ${out}/rsync && tar --xattrs -C ${cluster.mnt} -cf ${out}/f.tar f`)
    for (const copy of ['cp', 'rsync']) {
      const attrs = await mustRun('getfattr', ['-d', '-m', '-', join(out, copy)])
      expect(attrs).toContain('user.mine="hello"')
      expect(attrs).not.toContain('user.dfs')
      await mustRun('cmp', [file, join(out, copy)])
    }
    const archived = await mustSh(`tar --xattrs -tvvf ${out}/f.tar`)
    expect(archived).toContain('user.mine')
    expect(archived).not.toContain('user.dfs')
  })

  it('a directory shows its inode and no chunks; a path not found or not in a mount is one line with its code', async () => {
    const dir = await dfs('info', join(cluster.mnt, 'd'))
    expect(dir.code, dir.stderr).toBe(0)
    expect(dir.stdout).toMatch(/: inode \d+, a directory: no chunks/)
    // A symlink is followed, as getfattr follows it.
    await mustSh(`ln -s f ${cluster.mnt}/link`)
    const viaLink = await infoJson(join(cluster.mnt, 'link'))
    expect([viaLink.path, viaLink.type, viaLink.size]).toEqual([join(cluster.mnt, 'f'), 'file', SIZE])
    // One that leads nowhere is an error, as getfattr says it, not the link's own inode.
    await mustSh(`ln -s nothere ${cluster.mnt}/dangling && ln -s loop2 ${cluster.mnt}/loop1 && ln -s loop1 ${cluster.mnt}/loop2`)
    const dangling = await dfs('info', join(cluster.mnt, 'dangling'))
    expect([dangling.code, dangling.stderr.trim()]).toEqual([1, `dfs: ${join(cluster.mnt, 'dangling')}: a symbolic link to nothere, which does not exist [ENOENT]`])
    const loop = await dfs('info', join(cluster.mnt, 'loop1'), '--json')
    expect(loop.code).toBe(1)
    expect(JSON.parse(loop.stdout || loop.stderr).error.code).toBe('ELOOP')
    const missing = await dfs('info', join(cluster.mnt, 'nope'))
    expect(missing.code).not.toBe(0)
    expect(missing.stderr.trim()).toBe(`dfs: ${join(cluster.mnt, 'nope')}: no such file or directory [ENOENT]`)
    const outside = await dfs('info', cluster.root)
    expect(outside.code).not.toBe(0)
    expect(outside.stderr.trim().split('\n')).toHaveLength(1)
    expect(outside.stderr).toMatch(/is not in a dfs mount.*\[NOT_MOUNTED\]/)
  })

  it('after a node folder is removed, its copies show as not ok (in dfs info and the xattr)', async () => {
    const file = join(cluster.mnt, 'f')
    const before = await infoJson(file)
    // A node that holds a copy of the first chunk: placement is by random chunk ids, so a fixed node
    // (node_1) held none of the 4 chunks in about one run in 80.
    const gone: string = before.chunks[0].copies[0].address
    expect(cluster.nodes).toContain(gone)
    const onGone = before.chunks.filter((c: any) => c.copies.some((copy: any) => copy.address === gone)).map((c: any) => c.index)
    expect(onGone).toContain(0)
    // The daemon may still be writing into the folder (a user's rm -rf races it the same way): retried.
    await rm(gone, { recursive: true, force: true, maxRetries: 20 })
    const copyOnGone = (p: any, index: number) => p.chunks[index].copies.find((copy: any) => copy.address === gone)
    const noneOk = (p: any) => onGone.every((i: number) => copyOnGone(p, i)?.state !== 'ok')
    await until(async () => noneOk(await infoJson(file)), 60_000)
    const after = await infoJson(file)
    for (const i of onGone) {
      expect(copyOnGone(after, i).state).not.toBe('ok')
      expect(after.chunks[i].intact).toBe(1)
    }
    const fromXattr = JSON.parse(await xattr('user.dfs.placement', file))
    for (const i of onGone) expect(copyOnGone(fromXattr, i).state).not.toBe('ok')
    const text = await dfs('info', file)
    expect(text.stdout).toMatch(new RegExp(`${onGone.length} of 4 chunks have fewer than 2 intact copies`))
  })

  it('of a file in a mount whose daemon is stopped: says so, rather than wait for it', async () => {
    process.kill(daemonPid, 'SIGSTOP')
    try {
      // Without the check this never returns (a lookup in the mount waits for the daemon): dfs()
      // gives up after its generous deadline.
      for (const path of [join(cluster.mnt, 'f'), join(cluster.mnt, 'd', 'nope')]) {
        const r = await dfs('info', path)
        expect(r.timedOut).toBe(false)
        expect([r.code, r.stderr.trim()]).toEqual([1, expect.stringMatching(`^dfs: the daemon pid ${daemonPid} serving ${cluster.mnt} does not answer \\(it is stopped\\).*\\[DAEMON_NOT_ANSWERING\\]$`)])
      }
    } finally {
      process.kill(daemonPid, 'SIGCONT')
    }
  })
})
