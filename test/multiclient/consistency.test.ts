// Two clients (`dfs mount --namenode`) of one `dfs namenode` over three `dfs datanode` servers, all
// real processes: what one client does is what the other sees (issue 8, "What users can rely on
// across clients"). One cluster serves every test in this file.

import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ClientRole, type Roles, startRoles, stopAllRoles } from '../helpers/roles.js'
import { type RunResult, run, runBuffer } from '../helpers/run.js'
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js'
import { PY_CREATE_RACE, PY_RANGE_WRITER, python } from './scripts.js'
import { dfs } from '../helpers/cli.js'
import type { ClientSummary } from '../../src/protocol/clientStats.js'

const CHUNK = 1024 * 1024

let roles: Roles
let a: ClientRole
let b: ClientRole
let native: string

beforeAll(async () => {
  roles = await startRoles({ datanodes: 3, clients: 2, replicas: 2, chunkSize: '1M', clientArgs: ['--cache', '4M'] })
  ;[a, b] = roles.clients as [ClientRole, ClientRole]
  native = makeTempDir('dfs-mc-native-').path
})
afterAll(async () => {
  await stopAllRoles()
  await cleanupTempDirs()
})

/** A command that must have worked (else: its output and every role's). */
const ok = <T>(r: RunResult<T>, what: string) => roles.ok(r, what)

const sh = (script: string, cwd?: string) => run('bash', ['-c', `set -euo pipefail\n${script}`], { cwd })

describe('close-to-open: written and closed on one client, read byte-perfect on the other', () => {
  const sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 12345]
  for (const size of sizes) {
    it(`${size} bytes`, async () => {
      const src = join(native, `data-${size}`)
      await writeFile(src, randomBytes(size))
      await ok(await run('cp', [src, join(a.mnt, `f-${size}`)]), `cp on ${a.name}`)
      await ok(await run('cmp', [src, join(b.mnt, `f-${size}`)]), `cmp on ${b.name}`)
      // and back: B rewrites it in place, A reads the new bytes (A read the file before: a cache
      // that kept the old bytes or the old size would show here)
      await ok(await run('cmp', [src, join(a.mnt, `f-${size}`)]), `cmp on ${a.name}`)
      const again = join(native, `again-${size}`)
      await writeFile(again, randomBytes(size + 7))
      await ok(await run('cp', [again, join(b.mnt, `f-${size}`)]), `cp on ${b.name}`)
      await ok(await run('cmp', [again, join(a.mnt, `f-${size}`)]), `cmp of the rewrite on ${a.name}`)
    })
  }

  it('an append on one client is read whole on the other, which had read the shorter file', async () => {
    const f = join(native, 'appended')
    await writeFile(f, randomBytes(CHUNK + 100))
    await ok(await run('cp', [f, join(a.mnt, 'appended')]), 'cp')
    await ok(await run('cmp', [f, join(b.mnt, 'appended')]), 'first read on B')
    const more = randomBytes(2 * CHUNK)
    await writeFile(f, more, { flag: 'a' })
    await ok(await sh(`tail -c ${more.length} ${f} >> ${join(a.mnt, 'appended')}`), 'append on A')
    await ok(await run('cmp', [f, join(b.mnt, 'appended')]), 'read after the append on B')
  })
})

describe('namespace operations on one client are seen by the other\'s next lookup', () => {
  it('mkdir, create, rename, rename over a target, unlink, rmdir', async () => {
    const A = a.mnt
    const B = b.mnt
    await ok(await run('mkdir', ['-p', join(A, 'ns/sub')]), 'mkdir on A')
    await ok(await run('test', ['-d', join(B, 'ns/sub')]), 'the folder on B')
    await ok(await sh(`printf one > ${A}/ns/sub/x`), 'create on A')
    expect((await ok(await run('cat', [join(B, 'ns/sub/x')]), 'cat on B')).stdout).toBe('one')

    await ok(await run('mv', [join(A, 'ns/sub/x'), join(A, 'ns/y')]), 'rename on A')
    expect((await run('test', ['-e', join(B, 'ns/sub/x')])).code).toBe(1)
    expect((await ok(await run('cat', [join(B, 'ns/y')]), 'cat the new name on B')).stdout).toBe('one')

    await ok(await sh(`printf two > ${B}/ns/z`), 'create on B')
    await ok(await run('mv', [join(A, 'ns/y'), join(A, 'ns/z')]), 'rename over z on A') // A must see B's z to replace it
    expect((await ok(await run('cat', [join(B, 'ns/z')]), 'cat z on B')).stdout).toBe('one')
    expect((await run('test', ['-e', join(B, 'ns/y')])).code).toBe(1)
    expect((await ok(await run('ls', [join(B, 'ns')]), 'ls on B')).stdout.split('\n').filter(Boolean)).toEqual(['sub', 'z'])

    await ok(await run('rm', [join(B, 'ns/z')]), 'unlink on B')
    expect((await run('test', ['-e', join(A, 'ns/z')])).code).toBe(1)
    await ok(await run('rmdir', [join(A, 'ns/sub')]), 'rmdir on A')
    expect((await run('test', ['-e', join(B, 'ns/sub')])).code).toBe(1)
    expect((await ok(await run('ls', ['-A', join(B, 'ns')]), 'ls on B')).stdout).toBe('')
  })

  it('links, symlinks, chmod and xattrs made on one client are seen on the other', async () => {
    const A = a.mnt
    const B = b.mnt
    await ok(await sh(`mkdir ${A}/meta; printf data > ${A}/meta/f; ln ${A}/meta/f ${A}/meta/hard; ln -s f ${A}/meta/soft; chmod 0640 ${A}/meta/f`), 'on A')
    expect((await ok(await run('cat', [join(B, 'meta/hard')]), 'cat the hard link on B')).stdout).toBe('data')
    expect((await ok(await run('readlink', [join(B, 'meta/soft')]), 'readlink on B')).stdout.trim()).toBe('f')
    // attributes reach B by push (no kernel cache of them, docs/protocol.md): on B's next stat once
    // the record arrived, which is at most a network delay after A's command returned; so wait for
    // them, with no bound on how long that took
    await eventually(async () => (await run('stat', ['-c', '%a %h', join(B, 'meta/f')])).stdout.trim() === '640 2', 'mode and link count on B')
    const setx = await python(`os.setxattr(sys.argv[4], 'user.color', b'blue')`, ['-', '-', native, join(A, 'meta/f')])
    await ok(setx, 'setxattr on A')
    await eventually(async () => (await python(`print(os.getxattr(sys.argv[4], 'user.color').decode())`, ['-', '-', native, join(B, 'meta/f')])).stdout.trim() === 'blue', 'xattr on B')
  })

  it('a file open on B that A unlinks stays readable and fstat-able on B until B closes it', async () => {
    await ok(await sh(`head -c 300000 /dev/urandom > ${native}/held && cp ${native}/held ${a.mnt}/held`), 'write on A')
    const held = await python(
      `import subprocess\nfd = os.open(sys.argv[4], os.O_RDONLY)\nsubprocess.run(['rm', sys.argv[5]], check=True)\n` +
      `st = os.fstat(fd)\ndata = b''\nwhile True:\n    chunk = os.read(fd, 65536)\n    if not chunk: break\n    data += chunk\n` +
      `print(st.st_size, len(data), data == open(sys.argv[6], 'rb').read())`,
      ['-', '-', native, join(b.mnt, 'held'), join(a.mnt, 'held'), join(native, 'held')],
    )
    expect((await ok(held, 'hold on B, unlink on A, fstat and read on B')).stdout.trim()).toBe('300000 300000 True')
    expect((await run('test', ['-e', join(b.mnt, 'held')])).code).toBe(1)
  })
})

describe('the create race: two clients create one name at once', () => {
  it('exactly one succeeds, the other gets EEXIST, every round', async () => {
    const rounds = 60
    const bar = makeTempDir('dfs-mc-bar-').path
    await ok(await run('mkdir', [join(a.mnt, 'race')]), 'mkdir race')
    await ok(await run('test', ['-d', join(b.mnt, 'race')]), 'race on B')
    const [ra, rb] = await Promise.all([
      python(PY_CREATE_RACE, ['A', 'B', bar, join(a.mnt, 'race'), rounds]),
      python(PY_CREATE_RACE, ['B', 'A', bar, join(b.mnt, 'race'), rounds]),
    ])
    const outA = JSON.parse((await ok(ra, 'racer A')).stdout) as string[]
    const outB = JSON.parse((await ok(rb, 'racer B')).stdout) as string[]
    const wrong: string[] = []
    const owners: string[] = []
    for (let i = 0; i < rounds; i++) {
      const pair = [outA[i], outB[i]].sort().join(',')
      if (pair !== 'EEXIST,ok') wrong.push(`round ${i} (${i % 2 === 0 ? 'O_EXCL create' : 'mkdir'}): A ${outA[i]}, B ${outB[i]}`)
      owners.push(outA[i] === 'ok' ? 'A' : 'B')
    }
    expect(wrong, wrong.join('\n')).toEqual([])
    // each name holds what its one creator wrote, on both clients
    const read = `import json\nd = sys.argv[4]\nprint(json.dumps([open(os.path.join(d, 'n%d' % i) + ('' if i % 2 == 0 else '/owner')).read() for i in range(${rounds})]))`
    for (const client of [a, b]) {
      const r = await ok(await python(read, ['-', '-', native, join(client.mnt, 'race')]), `reading the race on ${client.name}`)
      expect(JSON.parse(r.stdout), client.name).toEqual(owners)
    }
  })
})

describe('concurrent writers of disjoint byte ranges of one file', () => {
  const layouts: Array<{ name: string; size: number; a: [number, number]; b: [number, number] }> = [
    { name: 'in different chunks', size: 3 * CHUNK, a: [0, CHUNK], b: [2 * CHUNK, CHUNK] },
    { name: 'sharing one chunk (middle)', size: 3 * CHUNK, a: [0, CHUNK + CHUNK / 2], b: [CHUNK + CHUNK / 2, CHUNK + CHUNK / 2] },
    { name: 'a few bytes apart in the first chunk', size: 3 * CHUNK, a: [100, 100], b: [300, 100] },
  ]
  for (const layout of layouts) {
    it(`both ranges survive both closes: ${layout.name}`, async () => {
      const name = `ranges-${layouts.indexOf(layout)}`
      const bar = makeTempDir('dfs-mc-bar-').path
      await ok(await run('truncate', ['-s', String(layout.size), join(a.mnt, name)]), 'truncate on A')
      await ok(await run('test', ['-f', join(b.mnt, name)]), 'the file on B')
      const [wa, wb] = await Promise.all([
        python(PY_RANGE_WRITER, ['A', 'B', bar, join(a.mnt, name), layout.a[0], layout.a[1], 0x41]),
        python(PY_RANGE_WRITER, ['B', 'A', bar, join(b.mnt, name), layout.b[0], layout.b[1], 0x42]),
      ])
      await ok(wa, 'writer A')
      await ok(wb, 'writer B')
      const want = Buffer.alloc(layout.size)
      want.fill(0x41, layout.a[0], layout.a[0] + layout.a[1])
      want.fill(0x42, layout.b[0], layout.b[0] + layout.b[1])
      for (const client of [a, b]) {
        const got = (await ok(await runBuffer('cat', [join(client.mnt, name)]), `cat on ${client.name}`)).stdout
        expect(got.length, `size on ${client.name}`).toBe(layout.size)
        expect(describeDiff(got, want), `content on ${client.name}`).toBe('equal')
      }
    })
  }
})

describe('concurrent writers of overlapping byte ranges of one file', () => {
  it('the overlap holds the bytes of the last close; the rest of each range survives', async () => {
    const name = 'overlap'
    const size = 3 * CHUNK
    const bar = makeTempDir('dfs-mc-bar-').path
    await ok(await run('truncate', ['-s', String(size), join(a.mnt, name)]), 'truncate on A')
    await ok(await run('test', ['-f', join(b.mnt, name)]), 'the file on B')
    // Ranges inside one chunk that neither fills (so the writes stay in the clients until close).
    // A writes first and closes last: A's bytes win the overlap [300, 400).
    const ra: [number, number] = [100, 300]
    const rb: [number, number] = [300, 300]
    const [wa, wb] = await Promise.all([
      python(PY_RANGE_WRITER, ['A', 'B', bar, join(a.mnt, name), ra[0], ra[1], 0x41, 'first', 'second']),
      python(PY_RANGE_WRITER, ['B', 'A', bar, join(b.mnt, name), rb[0], rb[1], 0x42, 'second', 'first']),
    ])
    await ok(wa, 'writer A')
    await ok(wb, 'writer B')
    const want = Buffer.alloc(size)
    want.fill(0x42, rb[0], rb[0] + rb[1])
    want.fill(0x41, ra[0], ra[0] + ra[1])
    for (const client of [a, b]) {
      const got = (await ok(await runBuffer('cat', [join(client.mnt, name)]), `cat on ${client.name}`)).stdout
      expect(describeDiff(got, want), `content on ${client.name}`).toBe('equal')
    }
  })
})

describe('git across clients', () => {
  it('git clone on A, then git status and git log on B; a commit on B is in A\'s log', async () => {
    const src = join(native, 'repo')
    const git = ['-c', 'user.name=dfs-test', '-c', 'user.email=test@dfs.invalid', '-c', 'init.defaultBranch=main']
    await ok(await sh([
      `git ${git.join(' ')} init -q ${src}`,
      `cd ${src}`,
      `mkdir -p lib/deep && for i in $(seq 1 30); do echo "line $i" > lib/f$i.txt; done`,
      `head -c ${2 * CHUNK + 3} /dev/urandom > lib/deep/blob.bin`,
      `printf '#!/bin/sh\\necho hi\\n' > run.sh && chmod +x run.sh && ln -s lib/f1.txt link`,
      `git ${git.join(' ')} add -A && git ${git.join(' ')} commit -qm first`,
      `echo change >> lib/f2.txt && git ${git.join(' ')} commit -qam second`,
      `git ${git.join(' ')} mv lib/f3.txt lib/moved.txt && git ${git.join(' ')} commit -qm third`,
    ].join('\n')), 'making the repository')
    await ok(await run('git', [...git, 'clone', '-q', `file://${src}`, join(a.mnt, 'repo')]), 'git clone on A')
    const status = await ok(await run('git', [...git, 'status', '--porcelain'], { cwd: join(b.mnt, 'repo') }), 'git status on B')
    expect(status.stdout).toBe('')
    const logOf = (cwd: string) => run('git', [...git, 'log', '--format=%H %s'], { cwd })
    const want = (await ok(await logOf(src), 'git log of the source')).stdout
    expect((await ok(await logOf(join(b.mnt, 'repo')), 'git log on B')).stdout).toBe(want)
    await ok(await run('git', ['fsck', '--full', '--no-progress'], { cwd: join(b.mnt, 'repo') }), 'git fsck on B')
    await ok(await run('cmp', [join(src, 'lib/deep/blob.bin'), join(b.mnt, 'repo/lib/deep/blob.bin')]), 'blob on B')

    await ok(await sh(`echo from-b >> lib/f4.txt && git ${git.join(' ')} commit -qam fourth`, join(b.mnt, 'repo')), 'commit on B')
    const logA = (await ok(await logOf(join(a.mnt, 'repo')), 'git log on A')).stdout
    expect(logA.split('\n')[0]).toMatch(/ fourth$/)
    expect(logA.split('\n').slice(1).join('\n')).toBe(want)
    expect((await ok(await run('git', [...git, 'status', '--porcelain'], { cwd: join(a.mnt, 'repo') }), 'git status on A')).stdout).toBe('')
  })
})

describe('the NameNode knows its clients', () => {
  const clients = async (): Promise<ClientSummary[]> => {
    const r = await ok(await dfs('status', '--namenode', roles.namenode.url, '--secret-file', roles.secretFile, '--json'), 'dfs status --namenode --json')
    return JSON.parse(r.stdout).clients
  }
  const written = (c: ClientSummary | undefined) => Object.values(c?.counters.nodes ?? {}).reduce((n, io) => n + io.writeBytes, 0)

  it('dfs status --namenode lists both mounts with their mount points; a mount\'s counters move when it writes', async () => {
    await eventually(async () => (await clients()).length === 2, 'both clients reported')
    const before = await clients()
    expect(before.map(c => c.mountpoint).sort()).toEqual([a.mnt, b.mnt].sort())
    for (const c of before) expect(c).toMatchObject({ connected: true, inProcess: false, pid: roles.clients.find(r => r.mnt === c.mountpoint)!.pid })
    const onA = () => before.find(c => c.mountpoint === a.mnt)
    const was = written(onA())
    await ok(await sh(`head -c ${2 * CHUNK} /dev/urandom > ${a.mnt}/counted && sync ${a.mnt}/counted`), 'write on A')
    await eventually(async () => written((await clients()).find(c => c.mountpoint === a.mnt)) >= was + 2 * CHUNK, 'A\'s written bytes moved')
    const now = (await clients()).find(c => c.mountpoint === a.mnt)!
    expect(now.counters.ops.write!.count).toBeGreaterThan(onA()!.counters.ops.write?.count ?? 0)
    const text = await ok(await dfs('status', '--namenode', roles.namenode.url, '--secret-file', roles.secretFile), 'dfs status --namenode')
    expect(text.stdout).toContain('2 clients (2 connected)')
    expect(text.stdout).toContain(`:${a.mnt}`)
  })
})

function describeDiff(got: Buffer, want: Buffer): string {
  if (got.equals(want)) return 'equal'
  const n = Math.min(got.length, want.length)
  let first = 0
  while (first < n && got[first] === want[first]) first++
  let last = n - 1
  while (last > first && got[last] === want[last]) last--
  return `differs from byte ${first} (chunk ${Math.floor(first / CHUNK)}) to byte ${last}: got 0x${got[first]?.toString(16)}, want 0x${want[first]?.toString(16)}; lengths ${got.length}/${want.length}`
}

async function eventually(what: () => Promise<boolean>, label: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await what())) {
    if (Date.now() > deadline) expect.fail(`${label}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
