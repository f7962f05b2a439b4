// Fencing with real processes: a copy of a running cluster's metadata folder (cp -a) can never delete
// live data. Against `dfs datanode` servers the copy is refused while the original runs (EPOCH_HELD),
// and once the original wrote more and stopped (EPOCH_BEHIND); local node folders are held by their
// lock while the original runs, and the copy is behind after. The original opens as before.

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readNodeClaim } from '../../src/datanode/claimFile.js'
import { dfs } from '../helpers/cli.js'
import { type DataNodeProcess, startDataNode, stopAllDataNodes } from '../helpers/datanodes.js'
import { makeCluster, startDfs, stopAllAfterAll } from '../helpers/mount.js'
import { sh } from '../helpers/run.js'
import { cleanupTempDirsAfterAll, makeTempDir } from '../helpers/tmp.js'

stopAllAfterAll()
cleanupTempDirsAfterAll()
afterAll(stopAllDataNodes)

/** Every chunk file under the node folders, sorted: what a delete would change. */
function chunkFiles(nodes: string[]): string[] {
  return nodes.flatMap((dir) => readdirSync(join(dir, 'chunks'), { recursive: true }).map(String).filter((p) => /[0-9a-f]{32}$/.test(p)).map((p) => `${dir}/${p}`)).sort()
}

async function writeDurably(root: string, path: string, kib: number): Promise<void> {
  // dd conv=fsync: the file's chunks and its journal record are durable when dd exits.
  const r = await sh(`head -c ${kib * 1024} /dev/urandom > ${root}/src-${kib} && dd if=${root}/src-${kib} of=${path} bs=64k conv=fsync status=none`)
  expect(r.code, r.stderr).toBe(0)
}

async function claimOf(node: string): Promise<{ epoch: number; seqWatermark: number }> {
  return (await readNodeClaim(node))!
}

describe('a copied metadata folder against dfs datanode servers', () => {
  it('is refused while the original runs, and after the original wrote more and stopped; the original opens as before', async () => {
    const root = makeTempDir('dfs-fence-tcp-').path
    const secret = join(root, 'secret')
    writeFileSync(secret, 'fencing test secret\n', { mode: 0o600 })
    const nodes = [1, 2, 3].map((i) => join(root, `node_${i}`))
    for (const dir of nodes) mkdirSync(dir)
    const servers: DataNodeProcess[] = await Promise.all(nodes.map((dir) => startDataNode({ dir, secretFile: secret })))
    const urls = servers.map((s) => s.url)
    const meta = join(root, 'meta')
    const copy = join(root, 'meta-copy')
    const mnt = join(root, 'mnt')
    mkdirSync(mnt)

    const original = await startDfs({ mountpoint: mnt, nodes: urls, meta, replicas: 2, chunkSize: '64k', extraArgs: ['--secret-file', secret] })
    await writeDurably(root, join(mnt, 'one'), 200)
    expect((await sh(`cp -a ${meta} ${copy}`)).code).toBe(0)

    // While the original runs: refused, and nothing on any node changed.
    const before = chunkFiles(nodes)
    const held = await dfs('fsck', '--meta', copy, '--secret-file', secret, '--repair')
    expect(held.code).not.toBe(0)
    expect(held.stderr).toMatch(/held by a running NameNode of epoch 1 .*\[EPOCH_HELD\]/)
    // One line, naming the server as the mount knows it and the folder it serves.
    const refusal = held.stderr.split('\n').filter((line) => line.startsWith('dfs: '))
    expect(refusal).toHaveLength(1)
    expect(refusal[0]).toMatch(/^dfs: node tcp:\/\/127\.0\.0\.1:\d+ \(\/\S+\/node_\d\) is held by a running NameNode of epoch 1 \(connected from 127\.0\.0\.1:\d+\): metadata folder \S+meta-copy is a copy of the one in use/)
    expect(chunkFiles(nodes)).toEqual(before)

    // The original writes more, then stops: the copy is behind.
    await writeDurably(root, join(mnt, 'two'), 300)
    await original.stop()
    const afterWrites = chunkFiles(nodes)
    for (const node of nodes) expect((await claimOf(node)).epoch).toBe(1)
    const behind = await dfs('fsck', '--meta', copy, '--secret-file', secret, '--repair')
    expect(behind.code).not.toBe(0)
    expect(behind.stderr).toMatch(new RegExp(`metadata folder ${copy} is behind the cluster \\(a copy or a restored backup\\).*journal reached seq \\d+.*can read but never delete \\[EPOCH_BEHIND\\]`))
    expect(chunkFiles(nodes)).toEqual(afterWrites)
    // Mounted elsewhere, the copy is refused just the same.
    const mnt2 = join(root, 'mnt2')
    mkdirSync(mnt2)
    await expect(startDfs({ mountpoint: mnt2, nodes: urls, meta: copy, extraArgs: ['--secret-file', secret] })).rejects.toThrow(/EPOCH_BEHIND/)
    // Reading is still allowed: fsck without --repair looks.
    const look = await dfs('fsck', '--meta', copy, '--secret-file', secret)
    expect(look.stderr).not.toMatch(/EPOCH_/)

    // The rightful owner opens (epoch 2) and finds every chunk.
    const owner = await dfs('fsck', '--meta', meta, '--secret-file', secret, '--repair')
    expect(owner.code, owner.stdout + owner.stderr).toBe(0)
    for (const node of nodes) expect((await claimOf(node)).epoch).toBe(2)
    await Promise.all(servers.map((s) => s.stop()))
  }, 300_000)

  it('is behind once the original, killed -9, had raised the nodes\' watermark while it ran; the original, repaired below the watermark, opens', async () => {
    const root = makeTempDir('dfs-fence-kill-').path
    const secret = join(root, 'secret')
    writeFileSync(secret, 'fencing test secret\n', { mode: 0o600 })
    const nodes = [1, 2].map((i) => join(root, `node_${i}`))
    for (const dir of nodes) mkdirSync(dir)
    const servers = await Promise.all(nodes.map((dir) => startDataNode({ dir, secretFile: secret })))
    const urls = servers.map((s) => s.url)
    const meta = join(root, 'meta')
    const copy = join(root, 'meta-copy')
    const mnt = join(root, 'mnt')
    mkdirSync(mnt)

    const original = await startDfs({ mountpoint: mnt, nodes: urls, meta, replicas: 2, chunkSize: '64k', extraArgs: ['--secret-file', secret] })
    await writeDurably(root, join(mnt, 'one'), 64)
    expect((await sh(`cp -a ${meta} ${copy}`)).code).toBe(0)
    const looked = await dfs('fsck', '--meta', copy, '--secret-file', secret, '--json')
    const copiedAt: number = JSON.parse(looked.stdout).metadata.lastGoodSeq
    expect(copiedAt).toBeGreaterThan(0)
    await writeDurably(root, join(mnt, 'two'), 64)
    // The NameNode raises the watermark by itself every few seconds: wait for it (generously), then crash.
    const deadline = Date.now() + 60_000
    while ((await Promise.all(nodes.map(claimOf))).some((c) => c.seqWatermark <= copiedAt)) {
      if (Date.now() > deadline) throw new Error('the watermark was never raised')
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    await original.kill9()
    await sh(`fusermount -u ${mnt} || umount -l ${mnt}`)

    const behind = await dfs('fsck', '--meta', copy, '--secret-file', secret, '--repair')
    expect(behind.stderr).toMatch(/\[EPOCH_BEHIND\]/)

    // The owner's own journal is damaged where 'two' was made: the repair cuts it below the nodes'
    // watermark. That folder is still the cluster's: the open after the repair claims the nodes.
    const segments = readdirSync(meta).filter((n) => n.startsWith('journal-')).sort()
    const live = join(meta, segments[segments.length - 1]!)
    const text = await readFile(live, 'utf8')
    expect(text).toContain('"name":"two"')
    writeFileSync(live, text.replace('"name":"two"', '"name":"twO"'))
    const owner = await dfs('fsck', '--meta', meta, '--secret-file', secret, '--repair')
    expect(owner.stdout).toMatch(/cut /)
    expect(owner.stderr).not.toMatch(/EPOCH_/)
    for (const node of nodes) expect((await claimOf(node)).epoch).toBe(2)
    await Promise.all(servers.map((s) => s.stop()))
  }, 300_000)
})

describe('a copied metadata folder against local node folders', () => {
  it('is refused while the original runs (the folders are locked), and behind once it wrote more', async () => {
    const cluster = makeCluster(3, 'dfs-fence-local-')
    try {
      const copy = join(cluster.root, 'meta-copy')
      const original = await cluster.start({ replicas: 2, chunkSize: '64k' })
      await writeDurably(cluster.root, join(cluster.mnt, 'one'), 200)
      expect((await sh(`cp -a ${cluster.meta} ${copy}`)).code).toBe(0)
      const locked = await dfs('fsck', '--meta', copy, '--repair')
      expect(locked.stderr).toMatch(/\[NODE_LOCKED\]/)

      await writeDurably(cluster.root, join(cluster.mnt, 'two'), 300)
      await original.stop()
      const files = chunkFiles(cluster.nodes)
      const behind = await dfs('fsck', '--meta', copy, '--repair')
      expect(behind.code).not.toBe(0)
      expect(behind.stderr).toMatch(/is behind the cluster \(a copy or a restored backup\).*\[EPOCH_BEHIND\]/)
      expect(chunkFiles(cluster.nodes)).toEqual(files)

      const owner = await dfs('fsck', '--meta', cluster.meta, '--repair')
      expect(owner.code, owner.stdout + owner.stderr).toBe(0)
    } finally {
      await cluster.cleanup()
    }
  }, 300_000)
})
