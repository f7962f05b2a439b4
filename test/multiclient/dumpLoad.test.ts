// Dump and load through a real cluster (DataNode servers, a NameNode with backups, a FUSE client, all
// child processes): a tree made with shell tools (hard links, symlinks, xattrs, sparse and empty
// files, chown'd owners, touch -d times) dumps the same over the NameNode protocol and from the
// folder read-only while the NameNode runs; dump -> load -> dump is byte-identical; after the cluster
// wrote more (the nodes' seq watermark passed the dump), a NameNode on the loaded folder still claims
// the nodes with a new epoch and its client reads every file back byte-perfect
// with the same names, modes, owners, times and xattrs; the folder the dump came from is then fenced.

import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ClientRole, NameNodeRole, type Roles, startRoles, stopRolesAfterAll } from '../helpers/roles.js'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'
import { until } from '../helpers/cli.js'

stopRolesAfterAll()
const work = makeTempDir('dfs-dumpload-')
afterAll(() => work.cleanup(), 120_000)

const dfs = (args: string[], input?: string) => run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, timeout: 300_000, ...(input === undefined ? {} : { input }) })
const sh = (script: string) => run('bash', ['-c', script], { timeout: 300_000 })

/** Everything a user sees of the tree: names, types, modes, owners, sizes, mtimes, link counts, link targets, xattrs and content hashes. */
async function look(mnt: string): Promise<string> {
  const r = await sh(`cd ${mnt} && find . -printf '%p %y %m %U %G %s %T@ %n %l\\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum && python3 -c "
import os
for root, dirs, files in sorted(os.walk('.')):
    for n in sorted(dirs + files):
        p = os.path.join(root, n)
        for a in sorted(os.listxattr(p, follow_symlinks=False)):
            print(p, a, os.getxattr(p, a, follow_symlinks=False))
"`)
  expect(r.code, r.stderr).toBe(0)
  return r.stdout
}

describe('dfs meta dump / load on a real cluster', () => {
  let roles: Roles | undefined
  const extra: { stop(): Promise<void> }[] = []
  afterAll(async () => {
    for (const role of extra.reverse()) await role.stop().catch(() => {})
    await roles?.stop()
  }, 300_000)

  it('round-trips the namespace, and the loaded folder mounts, reads back byte-perfect and fences the old one', { timeout: 900_000 }, async () => {
    const backups = join(work.path, 'backups')
    roles = await startRoles({ datanodes: 2, clients: 1, replicas: 2, chunkSize: '64K', namenodeArgs: ['--backup-dir', backups] })
    const c = roles
    const [client] = c.clients
    const m = client.mnt
    await c.ok(await sh(`set -e; cd ${m}
      mkdir -p d/sub
      head -c 200001 /dev/urandom > d/big
      head -c 65536 /dev/urandom > d/sub/exact
      : > d/empty
      truncate -s 10M sparse
      dd if=/dev/urandom of=sparse bs=1 count=100 seek=5000000 conv=notrunc status=none
      ln d/big hard
      ln -s d/big sym
      ln -s /nowhere/at/all dangling
      chown 1234:5678 d/big
      chmod 640 d/big
      chmod 1777 d/sub
      touch -d '2001-02-03 04:05:06.789' d/empty
      touch -d '1999-12-31 23:59:59' d/sub
      python3 -c 'import os; os.setxattr("d/big", "user.color", b"blue"); os.setxattr("d", "user.empty", b"")'
      sync d/big sparse d/sub/exact`), 'making the tree')
    const before = await look(m)
    expect(before).toContain('user.color')
    expect(before).toMatch(/\.\/d\/big f 640 1234 5678 200001 \S+ 2/)

    await client.stop() // unmounted: everything it did is committed
    const ns = ['--namenode', c.namenode.url, '--secret-file', c.secretFile]
    const live = await c.ok(await dfs(['meta', 'dump', ...ns]), 'dump over the NameNode protocol')
    const liveDoc = JSON.parse(live.stdout)
    expect(liveDoc.header.epoch.epoch).toBeGreaterThanOrEqual(1)
    // Read-only from the folder while the NameNode runs: the same document once the journal is flushed.
    let fromFolder = ''
    await until(async () => {
      fromFolder = (await c.ok(await dfs(['meta', 'dump', '--meta', c.namenode.meta]), 'dump --meta while running')).stdout
      return fromFolder === live.stdout
    }, 60_000, 500)

    // The first backup comes soon after start; it is a whole dump.
    await until(async () => (await readdir(backups).catch(() => [])).some((n) => /^ns-.*\.json$/.test(n)), 120_000, 500)
    const [backup] = (await readdir(backups)).filter((n) => n.startsWith('ns-'))
    expect(JSON.parse(await readFile(join(backups, backup), 'utf8')).header.kind).toBe('dfs-namespace-dump')
    expect(JSON.parse(await readFile(join(c.namenode.meta, 'backups.json'), 'utf8')).dir).toBe(backups)

    // The cluster goes on after the dump: the nodes' seq watermark passes the dump's record.
    const later = await c.addClient()
    await c.ok(await sh(`head -c 100000 /dev/urandom > ${later.mnt}/after-dump && sync ${later.mnt}/after-dump`), 'writing after the dump')
    await later.stop()
    await c.namenode.stop()
    const final = JSON.parse((await c.ok(await dfs(['meta', 'dump', '--meta', c.namenode.meta]), 'dump of the stopped folder')).stdout)
    expect(final.header.lastSeq).toBeGreaterThan(liveDoc.header.lastSeq)

    // Load the earlier dump: its journal ends below what the nodes saw; the claim is let in all the same.
    const dumped = live
    const loadedMeta = join(work.path, 'loaded-meta')
    const loaded = await c.ok(await dfs(['meta', 'load', '--meta', loadedMeta], dumped.stdout), 'load')
    const epoch = JSON.parse(dumped.stdout).header.epoch.epoch as number
    expect(loaded.stdout).toContain(`claims the DataNodes with epoch ${epoch + 1}`)
    const again = await c.ok(await dfs(['meta', 'dump', '--meta', loadedMeta]), 'dump of the loaded folder')
    expect(again.stdout).toBe(dumped.stdout)

    // A NameNode on the loaded folder (settings, nodes and cluster id from the dump) and a client of it.
    const nn = new NameNodeRole(loadedMeta, c.secretFile, () => [], [])
    extra.push(nn)
    await nn.start()
    const reader = new ClientRole('reader', join(work.path, 'reader'), () => nn.url, c.secretFile, [])
    extra.push(reader)
    await reader.start()
    expect(await look(reader.mnt)).toBe(before) // as of the dump: no after-dump
    const claim = JSON.parse(await readFile(join(loadedMeta, 'epoch.json'), 'utf8'))
    expect(claim.epoch).toBe(epoch + 1)
    expect(claim.afterRepair).toBeUndefined() // used once, by that claim

    // Stopped and started again, before it wrote past the journal the dump no longer has: it starts
    // (the nodes' watermark is its own claim's, not the old history's; that refused it: EPOCH_BEHIND).
    await reader.stop()
    await nn.stop()
    await nn.restart()
    await reader.restart()
    expect(await look(reader.mnt)).toBe(before)

    // The folder the dump came from is behind the nodes now: its NameNode is refused.
    const old = await dfs(['namenode', '--meta', c.namenode.meta, '--listen', '127.0.0.1:0', '--secret-file', c.secretFile])
    expect(old.code).not.toBe(0)
    expect(old.stderr).toMatch(/EPOCH_BEHIND/)
  })
})
