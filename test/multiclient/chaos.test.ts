// Chaos across roles, all real processes: a client killed with -9 mid-copy, the NameNode killed with
// -9 and restarted during fsync'd writes, a DataNode killed and a DataNode's folder removed while two
// clients read. What the issue promises (issue 8): other clients are unaffected, orphans are
// collected, every fsync'd byte survives, clients recover without remounting, reads see 0 errors and
// the NameNode heals. One cluster serves the whole file, in order.

import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { daemonStatus } from '../helpers/cli.js'
import { isMounted } from '../helpers/mount.js'
import { type ClientRole, type Roles, chunkFiles, startRoles, stopAllRoles } from '../helpers/roles.js'
import { type RunResult, run } from '../helpers/run.js'
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js'
import { PY_FSYNC_CHECK, PY_FSYNC_WRITER, PY_READ_LOOP, type Running, killAllScripts, python, startPython } from './scripts.js'

const CHUNK = 1024 * 1024
const R = 2
/** How long "eventually" may take: generous, a busy machine is slow, not wrong. */
const EVENTUALLY_MS = 180_000

let roles: Roles
let a: ClientRole
let b: ClientRole
let native: string

beforeAll(async () => {
  roles = await startRoles({
    datanodes: 3,
    clients: 2,
    replicas: R,
    chunkSize: '1M',
    // short grace periods so orphans and dead nodes are dealt with in a test's time
    namenodeArgs: ['--orphan-grace', '2s', '--session-grace', '5s', '--heartbeat', '200ms', '--suspect-after', '1s', '--dead-after', '3s', '--heal-grace', '1s'],
    // a small cache: reads go to the DataNodes, where the faults are
    clientArgs: ['--cache', '1M'],
  })
  ;[a, b] = roles.clients as [ClientRole, ClientRole]
  native = makeTempDir('dfs-chaos-native-').path
})
afterAll(async () => {
  await killAllScripts()
  await stopAllRoles()
  await cleanupTempDirs()
})

/** A command that must have worked (else: its output and every role's). */
const ok = <T>(r: RunResult<T>, what: string) => roles.ok(r, what)

async function eventually(what: () => Promise<boolean>, label: string, detail: () => Promise<string> = async () => ''): Promise<void> {
  const deadline = Date.now() + EVENTUALLY_MS
  while (!(await what())) {
    if (Date.now() > deadline) expect.fail(`${label}: not within ${EVENTUALLY_MS} ms\n${await detail()}\n${await roles.tails()}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

/**
 * The NameNode's status, through a client's mount: what `dfs status <mnt> --json` prints, asked of
 * the client daemon's control socket (the loops below poll it while the cluster heals; a dfs process
 * per poll cost ~0.4 s of CPU each).
 */
async function status(via: ClientRole = a): Promise<any> {
  return daemonStatus(via.mnt)
}

const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0)

/** Chunk files on each DataNode's disk. */
async function onDisk(): Promise<number[]> {
  return Promise.all(roles.datanodes.map((d) => chunkFiles(d.dir)))
}

/** Files of random bytes on native disk, copied onto the cluster through `via`; returns name → sha256. */
async function seedFiles(via: ClientRole, dir: string, sizes: number[]): Promise<Record<string, string>> {
  await ok(await run('mkdir', ['-p', join(via.mnt, dir)]), 'mkdir')
  const manifest: Record<string, string> = {}
  for (const [i, size] of sizes.entries()) {
    const data = randomBytes(size)
    const src = join(native, `${dir}-${i}`)
    await writeFile(src, data)
    await ok(await run('cp', [src, join(via.mnt, dir, `f${i}`)]), 'cp')
    manifest[`f${i}`] = createHash('sha256').update(data).digest('hex')
  }
  return manifest
}

/** Readers on A and on B, looping over `dir` until stopped. */
async function startReaders(dir: string, manifest: Record<string, string>) {
  const bar = makeTempDir('dfs-chaos-bar-').path
  const manifestPath = join(bar, 'manifest.json')
  const stop = join(bar, 'stop')
  await writeFile(manifestPath, JSON.stringify(manifest))
  const readers = [a, b].map((c) => startPython(PY_READ_LOOP, ['-', '-', bar, join(c.mnt, dir), manifestPath, stop]))
  const passes = (r: Running) => Number(/^pass (\d+)/.exec(r.lines().filter((l) => l.startsWith('pass')).pop() ?? '')?.[1] ?? 0)
  return {
    readers,
    /** Wait until every reader has finished `more` passes from now. */
    async morePasses(more: number) {
      const from = readers.map(passes)
      await Promise.all(readers.map((r, i) => r.waitForLine(new RegExp(`^pass ${from[i]! + more} `))))
    },
    /** Stop them; returns their error lines (none expected). */
    async stop(): Promise<string[]> {
      await writeFile(stop, '')
      const exits = await Promise.all(readers.map((r) => r.exited))
      const errors = readers.flatMap((r, i) => r.lines().filter((l) => l.startsWith('error')).map((l) => `reader ${i ? 'B' : 'A'}: ${l}`))
      exits.forEach((e, i) => {
        if (e.code !== 0 && errors.length === 0) errors.push(`reader ${i ? 'B' : 'A'} exited ${e.code ?? e.signal}: ${readers[i]!.stderr().slice(-2000)}`)
      })
      return errors
    },
  }
}

describe('kill -9 of a client mid-copy', () => {
  it('other clients go on byte-perfect, the dead mount is cleaned up, and its uncommitted chunks are collected', async () => {
    const c = await roles.addClient(['--cache', '1M'])
    const bar = makeTempDir('dfs-chaos-bar-').path
    // C writes 1 MiB blocks without end, printing each: killed while it writes, for sure
    const writer = startPython(String.raw`
fd = os.open(sys.argv[4], os.O_CREAT | os.O_WRONLY, 0o644)
i = 0
while True:
    os.write(fd, os.urandom(1 << 20))
    i += 1
    print('block %d' % i, flush=True)
`, ['-', '-', bar, join(c.mnt, 'dying')])
    // meanwhile A copies a file of many chunks, which B reads back
    const src = join(native, 'alive')
    await writeFile(src, randomBytes(12 * CHUNK + 777))
    const copying = run('cp', [src, join(a.mnt, 'alive')])
    await writer.waitForLine(/^block 12$/)
    await c.kill9()
    await writer.kill() // its mount is gone; it would only see errors now
    {
      const s = await status()
      // how many chunk files C left uncommitted depends on where its writes were when it died
      console.log(`after the kill: referenced ${s.chunks.referenced} x ${R}, on disk ${(await onDisk()).join(' + ')}`)
    }
    expect(c.exitStatus()?.signal).toBe('SIGKILL')
    expect(isMounted(c.mnt), 'the killed client\'s mount point is unmounted').toBe(false)

    await ok(await copying, 'cp on A while C died')
    await ok(await run('cmp', [src, join(b.mnt, 'alive')]), 'cmp on B')
    for (let i = 0; i < 3; i++) {
      await ok(await run('cp', [src, join(b.mnt, `after-${i}`)]), 'cp on B after C died')
      await ok(await run('cmp', [src, join(a.mnt, `after-${i}`)]), 'cmp on A after C died')
    }

    // Orphans: chunks C stored but never committed are deleted by the NameNode, so the chunk files on
    // the disks come back to what the namespace references (R copies each).
    let last = ''
    await eventually(async () => {
      const s = await status()
      const disk = await onDisk()
      last = `referenced ${s.chunks.referenced} x ${R}, on disk ${disk.join(' + ')}; healer ${JSON.stringify(s.healer)}`
      return s.chunks.underReplicated === 0 && disk.reduce((x, y) => x + y, 0) === s.chunks.referenced * R
    }, 'the chunk files on the DataNodes come back to what the namespace references', async () => last)
  })
})

describe('kill -9 and restart of the NameNode during writes', () => {
  it('every fsync\'d record is intact on both clients, and the clients go on without remounting', async () => {
    const SIZE = 64 * 1024
    const bar = makeTempDir('dfs-chaos-bar-').path
    const stop = join(bar, 'stop')
    const pids = [a.pid, b.pid]
    const writers = [a, b].map((c, i) => startPython(PY_FSYNC_WRITER, ['-', '-', bar, join(c.mnt, `records-${i}`), stop, SIZE]))
    const count = (w: Running) => w.lines().filter((l) => l.startsWith('fsynced')).length
    await Promise.all(writers.map((w) => w.waitForLine(/^fsynced 20$/)))

    // Five times: the NameNode dies at whatever point the writers' commits and fsyncs are at.
    const atKill: number[][] = []
    for (let round = 0; round < 5; round++) {
      const logsBefore = await Promise.all([a, b].map(async (c) => (await c.log()).length))
      await roles.namenode.kill9()
      // the clients notice (an event, not a sleep), while the writers wait in fsync or a commit
      await eventually(async () => (await Promise.all([a, b].map(async (c, i) => (await c.log()).slice(logsBefore[i]).includes('lost the NameNode')))).every(Boolean),
        'both clients notice the NameNode is gone')
      const counts = writers.map(count)
      atKill.push(counts)
      await roles.namenode.restart()
      await Promise.all(writers.map((w, i) => w.waitForLine(new RegExp(`^fsynced ${counts[i]! + 10}$`))))
    }
    await writeFile(stop, '')
    const exits = await Promise.all(writers.map((w) => w.exited))
    exits.forEach((e, i) => expect(e.code, `writer ${i}: ${writers[i]!.stderr()}\n${writers[i]!.lines().slice(-5).join('\n')}`).toBe(0))
    const closed = writers.map((w) => Number(/^closed (\d+)$/.exec(w.lines().pop() ?? '')?.[1]))
    writers.forEach((w, i) => expect(closed[i]).toBe(count(w)))

    for (const c of [a, b]) {
      for (const [i, n] of closed.entries()) {
        const r = await ok(await python(PY_FSYNC_CHECK, ['-', '-', bar, join(c.mnt, `records-${i}`), SIZE, n!]), `checking records-${i} on ${c.name}`)
        expect(JSON.parse(r.stdout), `records-${i} on ${c.name}; writer printed ${n} records, ${atKill.map((k) => k[i]).join(', ')} when the NameNode was killed\n${await roles.tails()}`)
          .toEqual({ ok: true, size: n! * SIZE, bad: [] })
      }
    }
    // the same client processes, still mounted, still working
    expect([a.pid, b.pid]).toEqual(pids)
    expect([a.running, b.running, a.mounted, b.mounted]).toEqual([true, true, true, true])
    await ok(await run('bash', ['-c', `echo after > ${join(a.mnt, 'after-restart')}`]), 'a create on A')
    expect((await ok(await run('cat', [join(b.mnt, 'after-restart')]), 'cat on B')).stdout).toBe('after\n')
  })
})

describe('a client killed while the NameNode is down', () => {
  it('the chunks it stored and could not commit are collected once the NameNode is back', async () => {
    const c = await roles.addClient(['--cache', '1M'])
    const bar = makeTempDir('dfs-chaos-bar-').path
    const go = join(bar, 'go')
    const writer = startPython(String.raw`
fd = os.open(sys.argv[4], os.O_CREAT | os.O_WRONLY, 0o644)
print('open', flush=True)
while not os.path.exists(sys.argv[5]):
    time.sleep(0.01)
i = 0
while True:
    os.write(fd, os.urandom(1 << 20))
    i += 1
    print('block %d' % i, flush=True)
`, ['-', '-', bar, join(c.mnt, 'stranded'), go])
    await writer.waitForLine(/^open$/)
    let last = ''
    let settled: number[] = []
    await eventually(async () => {
      const s = await status()
      settled = await onDisk()
      last = `referenced ${s.chunks.referenced} x ${R}, on disk ${settled.join(' + ')}`
      return sum(settled) === s.chunks.referenced * R
    }, 'the disks hold what the namespace references', async () => last)

    await roles.namenode.kill9()
    await writeFile(go, '')
    // C stores chunks on the DataNodes; their commits wait for the NameNode, which never sees them
    await eventually(async () => {
      const disk = await onDisk()
      last = `on disk ${disk.join(' + ')}, before ${settled.join(' + ')}`
      return sum(disk) >= sum(settled) + 4 * R
    }, 'C stores chunks while the NameNode is down', async () => last)
    await c.kill9()
    await writer.kill()
    expect(isMounted(c.mnt)).toBe(false)

    await roles.namenode.restart()
    await eventually(async () => {
      const s = await status()
      const disk = await onDisk()
      last = `referenced ${s.chunks.referenced} x ${R}, on disk ${disk.join(' + ')}; orphans removed ${s.healer.orphansRemoved}, pending ${s.healer.orphansPending}`
      return sum(disk) === s.chunks.referenced * R && s.healer.orphansRemoved > 0
    }, 'the stranded chunks are collected as orphans', async () => last)
  })
})

describe('DataNode faults while two clients read', () => {
  let manifest: Record<string, string>

  it('kill -9 of a DataNode: 0 read errors, and every chunk is copied back to R copies', async () => {
    manifest = await seedFiles(a, 'reading', [3 * CHUNK + 5, 2 * CHUNK, CHUNK - 1, 4 * CHUNK + 100, 1, 5 * CHUNK])
    const readers = await startReaders('reading', manifest)
    await readers.morePasses(1)
    const victim = roles.datanodes[2]!
    await victim.kill9()
    await readers.morePasses(3)

    let last = ''
    await eventually(async () => {
      const s = await status()
      const disk = await onDisk()
      const dead = s.nodes.find((n: any) => n.nodeId === victim.nodeId)?.health
      last = `node 3 ${dead}; referenced ${s.chunks.referenced}, under-replicated ${s.chunks.underReplicated}, unavailable ${s.chunks.unavailable}; on disk ${disk.join(' + ')}; copied ${s.healer.copiedChunks}`
      // both live nodes hold every chunk: R copies on the two nodes left
      return dead === 'dead' && s.chunks.underReplicated === 0 && s.chunks.unavailable === 0 &&
        disk[0] === s.chunks.referenced && disk[1] === s.chunks.referenced && s.healer.copiedChunks > 0
    }, 'the NameNode re-replicates the dead node\'s chunks', async () => last)
    await readers.morePasses(1)
    expect(await readers.stop()).toEqual([])

    // back on its port with its old chunks: the extra copies are trimmed again
    await victim.restart()
    await eventually(async () => {
      const s = await status()
      const disk = await onDisk()
      last = `nodes ${s.nodes.map((n: any) => n.health).join(',')}; referenced ${s.chunks.referenced}; on disk ${disk.join(' + ')}`
      return s.nodes.every((n: any) => n.health === 'alive') && disk.reduce((x, y) => x + y, 0) === s.chunks.referenced * R
    }, 'the restarted node rejoins and the extra copies go', async () => last)
  })

  it('rm -rf of a DataNode\'s folder while it serves: 0 read errors, and every chunk is back to R copies', async () => {
    manifest ??= await seedFiles(a, 'reading', [3 * CHUNK + 5, 2 * CHUNK, 4 * CHUNK + 100])
    const readers = await startReaders('reading', manifest)
    await readers.morePasses(1)
    const victim = roles.datanodes[1]!
    const others = roles.datanodes.filter((d) => d !== victim)
    // The DataNode is still serving and may write a file into the folder while rm walks it
    // ("Directory not empty"): as a user would, run rm -rf again until the folder is gone.
    let removal = await run('rm', ['-rf', victim.dir])
    for (let attempt = 1; removal.code !== 0 && attempt < 20; attempt++) removal = await run('rm', ['-rf', victim.dir])
    await ok(removal, 'rm -rf of the node folder')
    await readers.morePasses(3)

    let last = ''
    await eventually(async () => {
      const s = await status()
      const disk = await Promise.all(others.map((d) => chunkFiles(d.dir)))
      last = `nodes ${s.nodes.map((n: any) => `${n.nodeId}:${n.health}`).join(',')}; referenced ${s.chunks.referenced}, under-replicated ${s.chunks.underReplicated}, unavailable ${s.chunks.unavailable}; on the other disks ${disk.join(' + ')}`
      return s.chunks.underReplicated === 0 && s.chunks.unavailable === 0 && disk.every((n) => n === s.chunks.referenced)
    }, 'the NameNode copies the lost folder\'s chunks to the other nodes', async () => last)
    await readers.morePasses(1)
    expect(await readers.stop()).toEqual([])
    // what the server whose folder went does, for the record (the test asserts only on data)
    const seen = (await status()).nodes.find((n: any) => n.nodeId === victim.nodeId)
    console.log(`after rm -rf of its folder, ${victim.name} is ${victim.running ? 'still running' : `gone (${JSON.stringify(victim.exitStatus())})`}; ` +
      `the NameNode sees it ${JSON.stringify(seen)}; its output:\n${victim.tail(1500)}`)
  })
})
