// `dfs policy apply` with a NameNode and a client over TCP, as real processes (three `dfs datanode`,
// one `dfs namenode`, one `dfs mount --namenode`): with --namenode for a namespace path, and through
// the client's mount (its daemon forwards the command to the NameNode); bad input in one line;
// replicas -> ec:2+1 -> replicas keeps every byte the client reads back.

import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dfs } from '../helpers/cli.js'
import { type Roles, startRoles, stopRolesAfterAll } from '../helpers/roles.js'
import { run } from '../helpers/run.js'
import { mustSh } from '../mount/fixtures.js'

stopRolesAfterAll()

let roles: Roles
let mnt: string
let src: string

beforeAll(async () => {
  roles = await startRoles({ datanodes: 3, clients: 1, replicas: 2, chunkSize: '64k' })
  mnt = roles.clients[0].mnt
  src = join(roles.root, 'src')
  await mustSh(`mkdir -p ${src}/sub && head -c ${4 * 64 * 1024 + 9000} /dev/urandom > ${src}/big && head -c ${2 * 4096 + 10} /dev/urandom > ${src}/sub/small`) // each chunk at least k × 4 KiB: all stripes (chunkLayout)
  await mustSh(`mkdir -p ${mnt}/photos ${mnt}/docs && cp -r ${src}/. ${mnt}/photos/ && echo hello > ${mnt}/docs/note && sync`)
}, 180_000)
afterAll(async () => roles?.stop())

const viaNameNode = (...args: string[]) => dfs('policy', 'apply', ...args, '--namenode', roles.namenode.url, '--secret-file', roles.secretFile)

async function sameBytes(): Promise<void> {
  for (const name of ['big', 'sub/small']) await roles.ok(await run('cmp', [join(src, name), join(mnt, 'photos', name)]), `cmp ${name}`)
}

describe('dfs policy apply with a NameNode over TCP', () => {
  it('bad input in one line, non-zero, for namespace paths; a tree already in its policy: nothing to convert, through the client mount too', async () => {
    const refusals: [string[], RegExp][] = [
      [['/docs/note'], /^dfs: \/docs\/note is not a directory: .*give the folder \[ENOTDIR\]$/],
      [['/nope'], /^dfs: \/nope: no such file or directory \[ENOENT\]$/],
    ]
    for (const [args, line] of refusals) {
      const r = await viaNameNode(...args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1)
      expect(r.stderr.trim()).toMatch(line)
    }
    const nn = await roles.ok(await viaNameNode('/docs'), 'dfs policy apply --namenode /docs')
    expect(nn.stdout).toMatch(/^dfs: every file under \/docs is already stored as its directory's policy \(replicas:2 at \/docs\): nothing to convert$/m)
    const client = await roles.ok(await dfs('policy', 'apply', join(mnt, 'docs')), 'dfs policy apply in the client mount')
    expect(client.stdout).toMatch(/nothing to convert/)
  })

  it('replicas -> ec:2+1 (--namenode) -> replicas (through the client mount) keeps every byte', async () => {
    await roles.ok(await run('setfattr', ['-n', 'user.dfs.policy', '-v', 'ec:2+1', join(mnt, 'photos')]), 'setfattr ec:2+1')
    const to = await roles.ok(await viaNameNode('/photos'), 'dfs policy apply --namenode /photos')
    expect(to.stdout).toMatch(/^dfs: converted 6 of 6 chunks .* of 2 files under \/photos to ec:2\+1/)
    await sameBytes()
    const get = await roles.ok(await dfs('policy', 'get', join(mnt, 'photos/big')), 'dfs policy get')
    expect(get.stdout).toMatch(/5 chunks: 5 ec:2\+1/)

    await roles.ok(await run('setfattr', ['-x', 'user.dfs.policy', join(mnt, 'photos')]), 'setfattr -x')
    const back = await roles.ok(await dfs('policy', 'apply', join(mnt, 'photos')), 'dfs policy apply in the client mount')
    expect(back.stdout).toMatch(/converted 6 of 6 chunks .* to replicas:2/)
    await sameBytes()
  })
})
