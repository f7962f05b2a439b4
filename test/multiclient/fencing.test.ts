// Fencing across the NameNode split: a copy of a running NameNode's meta folder, started as a second
// `dfs namenode` against the same DataNode servers, is refused while the original runs (EPOCH_HELD),
// and after the original wrote more and stopped (EPOCH_BEHIND). It never deletes a chunk: the
// clients' files read back whole, and the original comes back as if nothing happened.

import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Roles, chunkIds, startRoles, stopRolesAfterAll } from '../helpers/roles.js'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'

stopRolesAfterAll()

let roles: Roles
beforeAll(async () => {
  roles = await startRoles({ datanodes: 3, clients: 1, chunkSize: '1M' })
}, 300_000)
afterAll(async () => roles?.stop(), 300_000)

/** Start a second NameNode on `meta`; it must refuse to start. */
async function secondNameNode(meta: string) {
  return run(process.execPath, [DFS_BIN, 'namenode', '--meta', meta, '--listen', '127.0.0.1:0', '--secret-file', roles.secretFile], {
    cwd: REPO_ROOT, timeout: 120_000,
  })
}

async function allChunks(): Promise<string[]> {
  return (await Promise.all(roles.datanodes.map(d => chunkIds(d.dir)))).flat().sort()
}

describe('a copied NameNode meta folder', () => {
  it('is refused while the original runs, and once it is behind; no chunk is deleted', { timeout: 600_000 }, async () => {
    const [a] = roles.clients
    const sh = (script: string) => run('bash', ['-c', script], { timeout: 120_000 })
    expect((await sh(`head -c 3000000 /dev/urandom > ${join(roles.root, 'data')} && cp ${join(roles.root, 'data')} ${join(a.mnt, 'one')}`)).code).toBe(0)
    const copy = join(roles.root, 'meta-copy')
    expect((await run('cp', ['-a', roles.namenode.meta, copy])).code).toBe(0)
    const before = await allChunks()

    const held = await secondNameNode(copy)
    expect(held.code).not.toBe(0)
    expect(held.stderr + held.stdout).toMatch(/EPOCH_HELD/)

    // The original goes on, writes more, and stops cleanly: the copy is now behind.
    expect((await sh(`cp ${join(roles.root, 'data')} ${join(a.mnt, 'two')} && sync`)).code).toBe(0)
    await roles.namenode.stop()
    const behind = await secondNameNode(copy)
    expect(behind.code).not.toBe(0)
    expect(behind.stderr + behind.stdout).toMatch(/EPOCH_BEHIND/)

    // Nothing was deleted by either attempt, and the original comes back; the client never remounted.
    for (const id of before) expect(await allChunks()).toContain(id)
    await roles.namenode.restart()
    for (const name of ['one', 'two']) {
      expect((await run('cmp', [join(roles.root, 'data'), join(a.mnt, name)], { timeout: 120_000 })).code).toBe(0)
    }
    // And the client stops by itself when asked, after all that (a last sync that failed, as one
    // after a NameNode change that lost the client's changes does, used to abort the stop half
    // way, and the daemon never exited).
    await a.stop()
    expect(a.exitStatus()).toEqual({ code: 0, signal: null })
  })
})
