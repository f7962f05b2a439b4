// Chaos on a mounted cluster: a node folder deleted while mounted, a stored chunk corrupted on one
// node and on every node, node folders that run out of space. Every test asserts on the bytes read
// back through the mount and on what `dfs fsck` reports and repairs, never on timing.
//
// The mount is reached only from child processes (cp, cmp, diff, cat, dd, python3); the node and
// meta folders are ordinary local folders the test may read and damage directly.
// Daemons run with 64 KiB chunks and a 32 KiB chunk cache (smaller than a chunk), so reads really
// go to the node folders (only chunks under 32 KiB, a file's short tail, can be cached), and the
// kernel's page cache is dropped before every read that matters. Files whose chunks a test damages
// are whole chunks, so none of their chunks is ever served from the cache.

import { randomBytes } from 'node:crypto'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type Cluster, DFS_BIN, REPO_ROOT, isMounted, makeCluster, stopAllAfterAll, stopAllDfs } from '../helpers/mount.js'
import { run, sh } from '../helpers/run.js'

stopAllAfterAll()

const CHUNK = 64 * 1024
const DAEMON_FLAGS = { replicas: 2, chunkSize: '64k', extraArgs: ['--cache', '32k'] }

// ---- helpers -------------------------------------------------------------------------------------

interface Problem {
  path: string
  index: number
  chunk: string
  good: string[]
  bad: { node: string; why: string }[]
}
interface FsckReport {
  files: number
  chunks: number
  lost: Problem[]
  underReplicated: Problem[]
  badReplicas: Problem[]
  orphans: { node: string; chunk: string }[]
  nodes: { nodeId: string; address: string; chunks: number; reachable: boolean; error?: string }[]
  repaired?: { copied: number; mapsFixed: number; orphansRemoved: number; failed: string[] }
}

function dfsCli(args: string[]) {
  return run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, timeout: 120_000 })
}

async function fsckJson(meta: string): Promise<{ code: number; report: FsckReport }> {
  const r = await dfsCli(['fsck', '--meta', meta, '--json'])
  let report: FsckReport
  try {
    report = JSON.parse(r.stdout) as FsckReport
  } catch {
    throw new Error(`dfs fsck --json printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
  }
  return { code: r.code, report }
}

async function fsckRepair(meta: string): Promise<{ code: number; out: string }> {
  const r = await dfsCli(['fsck', '--meta', meta, '--repair'])
  return { code: r.code, out: `${r.stdout}\n${r.stderr}` }
}

async function dropCaches(): Promise<void> {
  const r = await sh('echo 3 > /proc/sys/vm/drop_caches')
  expect(r.code, `drop_caches: ${r.stderr}`).toBe(0)
}

async function writeRandom(path: string, size: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, randomBytes(size))
}

/** Copy a local file onto the mount and fsync it before close (python), so it is stored and journaled. */
async function putSynced(from: string, to: string): Promise<void> {
  const script = 'import os,sys\nf=open(sys.argv[2],"wb")\nf.write(open(sys.argv[1],"rb").read())\nf.flush()\nos.fsync(f.fileno())\nf.close()'
  const r = await run('python3', ['-c', script, from, to])
  expect(r.code, `writing ${to}: ${r.stderr}`).toBe(0)
}

/** `diff -r` of the local source tree against the mount: same names, same bytes. */
async function expectSameTree(src: string, mnt: string): Promise<void> {
  const r = await run('diff', ['-r', '--no-dereference', src, mnt], { timeout: 120_000 })
  expect(r.code, `diff -r ${src} ${mnt}:\n${r.stdout}${r.stderr}`).toBe(0)
}

async function nodeIdOf(node: string): Promise<string> {
  return (JSON.parse(await readFile(join(node, 'dfs-node.json'), 'utf8')) as { nodeId: string }).nodeId
}

/** Every chunk file in the node folders: chunk id -> the files holding it. */
async function chunkFiles(nodes: string[]): Promise<Map<string, { node: string; path: string }[]>> {
  const found = new Map<string, { node: string; path: string }[]>()
  for (const node of nodes) {
    let subs: string[]
    try {
      subs = await readdir(join(node, 'chunks'))
    } catch {
      continue // a deleted node folder
    }
    for (const sub of subs) {
      for (const name of await readdir(join(node, 'chunks', sub))) {
        if (!/^[0-9a-f]{32}$/.test(name)) continue
        const list = found.get(name) ?? []
        list.push({ node, path: join(node, 'chunks', sub, name) })
        found.set(name, list)
      }
    }
  }
  return found
}

/** The node ids each chunk's ref lists, in the ref's order (the order reads try them), from the journal. */
async function refNodesFromJournal(meta: string): Promise<Map<string, string[]>> {
  const refs = new Map<string, string[]>()
  const segments = (await readdir(meta)).filter(name => /^journal-\d+\.log$/.test(name)).sort()
  for (const segment of segments) {
    for (const line of (await readFile(join(meta, segment), 'utf8')).split('\n')) {
      const m = /^\d+ [0-9a-f]{16} (.*)$/.exec(line)
      if (!m) continue
      const record = JSON.parse(m[1]) as { op: string; ref?: { id: string; nodes: string[] } | null; id?: string; nodes?: string[] }
      if (record.op === 'chunk' && record.ref) refs.set(record.ref.id, record.ref.nodes)
      if (record.op === 'replicas' && record.id && record.nodes) refs.set(record.id, record.nodes)
    }
  }
  return refs
}

/** Write `size` random bytes to mnt/<name> (fsync'd); returns the local copy and the ids of the chunks it added (in no order). */
async function writeAndFindChunks(c: Cluster, name: string, size: number): Promise<{ local: string; chunks: string[] }> {
  const local = join(c.root, 'src', name)
  await writeRandom(local, size)
  const before = new Set((await chunkFiles(c.nodes)).keys())
  await putSynced(local, join(c.mnt, name))
  const chunks = [...(await chunkFiles(c.nodes)).keys()].filter(id => !before.has(id))
  expect(chunks.length, `chunks stored for ${name}`).toBe(Math.ceil(size / CHUNK))
  return { local, chunks }
}

async function flipByte(path: string, at: number): Promise<void> {
  const data = await readFile(path)
  data[at % data.length] ^= 0xff
  await writeFile(path, data)
}

const allProblems = (r: FsckReport) => [...r.lost, ...r.underReplicated, ...r.badReplicas]

// ---- tests ---------------------------------------------------------------------------------------

describe('a node folder deleted while mounted (rm -rf node_1)', () => {
  it('loses nothing, keeps taking writes, fsck --repair restores 2 copies, and node_1 rejoins empty', async () => {
    const c = makeCluster(3, 'dfs-chaos-rmnode-')
    const src = join(c.root, 'src')
    // Sizes around the chunk boundary, some of many chunks, and a directory tree.
    const sizes: Record<string, number> = {
      empty: 0, one: 1, 'chunk-minus-1': CHUNK - 1, chunk: CHUNK, 'chunk-plus-1': CHUNK + 1, 'three-chunks': 3 * CHUNK,
      'one-mib-plus': (1 << 20) + 17, 'five-mib-plus': 5 * (1 << 20) + 3,
      'tree/a/one.bin': 1234, 'tree/a/b/two.bin': 2 * CHUNK + 5, 'tree/a/b/c/three.bin': 40_000, 'tree/x/four.bin': 300_000,
      'tree/x/y/five.bin': 77,
    }
    for (const [name, size] of Object.entries(sizes)) await writeRandom(join(src, name), size)
    await mkdir(join(src, 'tree/empty-dir/inner'), { recursive: true })

    let dfs = await c.start(DAEMON_FLAGS)
    const cp = await run('cp', ['-a', `${src}/.`, c.mnt])
    expect(cp.code, cp.stderr).toBe(0)
    await expectSameTree(src, c.mnt)
    const oldNode1 = await nodeIdOf(c.nodes[0])
    expect((await chunkFiles([c.nodes[0]])).size, 'node_1 held chunks before it was deleted').toBeGreaterThan(0)

    // The daemon may be writing into the folder meanwhile (a user's rm -rf races it the same way): retried.
    await rm(c.nodes[0], { recursive: true, force: true, maxRetries: 20 })
    await dropCaches()
    await expectSameTree(src, c.mnt)

    // New writes still succeed (on the two nodes left) and read back.
    await writeRandom(join(src, 'after/new.bin'), 2 * (1 << 20) + 9)
    await writeRandom(join(src, 'after/small.txt'), 10)
    const cp2 = await run('cp', ['-a', join(src, 'after'), `${c.mnt}/`])
    expect(cp2.code, cp2.stderr).toBe(0)
    await dropCaches()
    await expectSameTree(src, c.mnt)

    // Unmount the user's way: the daemon stores what it buffered, checkpoints and exits.
    const unmount = await dfsCli(['unmount', c.mnt])
    expect(unmount.code, unmount.stdout + unmount.stderr).toBe(0)
    expect(unmount.stdout).toMatch(/^dfs: unmounted /)
    expect(await dfs.exited, dfs.output()).toEqual({ code: 0, signal: null })
    expect(isMounted(c.mnt)).toBe(false)

    // Unmounted: fsck sees copies missing from node_1, but every chunk still has an intact copy.
    const before = await fsckJson(c.meta)
    expect(before.code).toBe(1)
    expect(before.report.lost).toEqual([])
    expect(before.report.underReplicated.length).toBeGreaterThan(0)
    for (const p of before.report.underReplicated) {
      expect(p.good).toHaveLength(1)
      expect(p.bad.map(b => b.node)).toContain(oldNode1)
    }
    expect(before.report.nodes.find(n => n.nodeId === oldNode1)).toMatchObject({ reachable: false })

    const repair = await fsckRepair(c.meta)
    expect(repair.code, repair.out).toBe(0)
    const after = await fsckJson(c.meta)
    expect(after.report.lost).toEqual([])
    expect(after.report.underReplicated).toEqual([])
    expect(after.report.badReplicas).toEqual([])
    // node_1 is still recorded and still gone: expected until the folder is back.
    expect(after.report.nodes.find(n => n.nodeId === oldNode1)).toMatchObject({ reachable: false })

    // The folder comes back empty: it joins as a fresh node and the cluster mounts as before.
    await mkdir(c.nodes[0])
    dfs = await c.start(DAEMON_FLAGS)
    await dropCaches()
    await expectSameTree(src, c.mnt)
    const newNode1 = await nodeIdOf(c.nodes[0])
    expect(newNode1).not.toBe(oldNode1)
    // New writes use it again.
    await writeRandom(join(src, 'rejoined.bin'), 40 * CHUNK)
    const cp3 = await run('cp', [join(src, 'rejoined.bin'), c.mnt])
    expect(cp3.code, cp3.stderr).toBe(0)
    await dropCaches()
    await expectSameTree(src, c.mnt)
    expect((await chunkFiles([c.nodes[0]])).size, 'chunks written to the rejoined node_1').toBeGreaterThan(0)
    await dfs.stop()

    const final = await fsckJson(c.meta)
    expect(final.report.nodes.map(n => [n.address, n.reachable]).sort()).toEqual(c.nodes.map(n => [n, true]))
    expect(final.report.nodes.find(n => n.address === c.nodes[0])?.nodeId).toBe(newNode1)
    expect(allProblems(final.report)).toEqual([])
    expect(final.code).toBe(0)
    await c.cleanup()
  })
})

describe('corrupted chunks', () => {
  it('a copy with one flipped byte is never served: the read fails over, fsck names the bad copy, --repair fixes it', async () => {
    const c = makeCluster(3, 'dfs-chaos-flip-')
    const dfs = await c.start(DAEMON_FLAGS)
    const { local, chunks } = await writeAndFindChunks(c, 'victim.bin', 3 * CHUNK)
    const refs = await refNodesFromJournal(c.meta)
    const files = await chunkFiles(c.nodes)
    const ids = new Map(await Promise.all(c.nodes.map(async n => [await nodeIdOf(n), n] as const)))
    // No daemon runs while fsck looks: a running one repairs what its reads find, whenever it likes.
    await dfs.stop()

    // Corrupt every chunk of the file on the node its ref lists first: the one reads try first.
    const corrupted: { chunk: string; nodeId: string; path: string }[] = []
    for (const chunk of chunks) {
      const listed = refs.get(chunk)
      expect(listed, `chunk ${chunk} in the journal`).toBeDefined()
      expect(listed).toHaveLength(2)
      const first = ids.get(listed![0])!
      const file = files.get(chunk)!.find(f => f.node === first)!
      await flipByte(file.path, 1000)
      corrupted.push({ chunk, nodeId: listed![0], path: file.path })
    }

    const check = await fsckJson(c.meta)
    expect(check.code).toBe(1)
    expect(check.report.lost).toEqual([])
    for (const { chunk, nodeId } of corrupted) {
      const problem = allProblems(check.report).find(p => p.chunk === chunk)
      expect(problem, `fsck reports chunk ${chunk}`).toBeDefined()
      expect(problem!.path).toBe('/victim.bin')
      expect(problem!.good).toHaveLength(1)
      expect(problem!.good).not.toContain(nodeId)
      expect(problem!.bad).toEqual([{ node: nodeId, why: expect.stringMatching(/SHA-256|bytes/) }])
    }

    const repair = await fsckRepair(c.meta)
    expect(repair.code, repair.out).toBe(0)
    const healed = await fsckJson(c.meta)
    expect(allProblems(healed.report)).toEqual([])
    expect(healed.report.orphans).toEqual([])
    expect(healed.code).toBe(0)

    // Corrupted again, each chunk on the node its ref now lists first: a mounted read never serves them.
    const refsNow = await refNodesFromJournal(c.meta)
    const now = await chunkFiles(c.nodes)
    const again: string[] = []
    for (const chunk of chunks) {
      const file = now.get(chunk)!.find(f => f.node === ids.get(refsNow.get(chunk)![0]))!
      await flipByte(file.path, 1000)
      again.push(chunk)
    }
    const remount = await c.start(DAEMON_FLAGS)
    await dropCaches()
    const cmp = await run('cmp', [local, join(c.mnt, 'victim.bin')])
    expect(cmp.code, `${cmp.stdout}${cmp.stderr}`).toBe(0)
    expect(remount.exitStatus()).toBeNull()
    // Each bad copy was noticed and reported (the daemon logs the chunk for repair).
    for (const chunk of again) expect(remount.output()).toContain(chunk)
    await remount.stop()
    await c.cleanup()
  })

  it('with every copy of a chunk corrupted the read fails with EIO, and the daemon keeps serving everything else', async () => {
    const c = makeCluster(3, 'dfs-chaos-lost-')
    const dfs = await c.start(DAEMON_FLAGS)
    const healthy = await writeAndFindChunks(c, 'healthy.bin', 3 * CHUNK + 7)
    const victim = await writeAndFindChunks(c, 'victim.bin', 2 * CHUNK)
    const files = await chunkFiles(c.nodes)
    // Find which of the victim's two chunks comes first in the file: the one whose bytes match.
    const firstBytes = (await readFile(victim.local)).subarray(0, CHUNK)
    let first: string | undefined
    for (const id of victim.chunks) {
      if ((await readFile(files.get(id)![0].path)).equals(firstBytes)) first = id
    }
    expect(first, 'the chunk holding the first 64 KiB of victim.bin').toBeDefined()
    const copies = files.get(first!)!
    expect(copies).toHaveLength(2)
    for (const copy of copies) await flipByte(copy.path, 5)

    await dropCaches()
    const cat = await run('cat', [join(c.mnt, 'victim.bin')])
    expect(cat.code).not.toBe(0)
    expect(cat.stderr).toMatch(/Input\/output error/)
    // The second chunk is intact and still readable on its own.
    const tailBytes = await sh(`dd if=${join(c.mnt, 'victim.bin')} bs=${CHUNK} skip=1 count=1 status=none | cmp - <(tail -c +${CHUNK + 1} ${victim.local})`)
    expect(tailBytes.code, tailBytes.stdout + tailBytes.stderr).toBe(0)

    // The daemon is alive and the mount is not stale: other files read, new files write.
    expect(dfs.exitStatus()).toBeNull()
    expect(isMounted(c.mnt)).toBe(true)
    const ls = await run('ls', ['-la', c.mnt])
    expect(ls.code, ls.stderr).toBe(0)
    expect(ls.stdout).toContain('healthy.bin')
    const cmp = await run('cmp', [healthy.local, join(c.mnt, 'healthy.bin')])
    expect(cmp.code, cmp.stdout + cmp.stderr).toBe(0)
    const fresh = join(c.root, 'src', 'fresh.bin')
    await writeRandom(fresh, 5 * CHUNK + 1)
    expect((await run('cp', [fresh, c.mnt])).code).toBe(0)
    await dropCaches()
    const cmpFresh = await run('cmp', [fresh, join(c.mnt, 'fresh.bin')])
    expect(cmpFresh.code, cmpFresh.stdout + cmpFresh.stderr).toBe(0)
    // A second failed read does not take it down either.
    expect((await run('cat', [join(c.mnt, 'victim.bin')])).code).not.toBe(0)
    expect(dfs.exitStatus()).toBeNull()
    await dfs.stop()
    expect(dfs.exitStatus(), dfs.output()).toEqual({ code: 0, signal: null })

    // fsck names the lost chunk and cannot repair it.
    const check = await fsckJson(c.meta)
    expect(check.code).toBe(1)
    expect(check.report.lost).toHaveLength(1)
    expect(check.report.lost[0]).toMatchObject({ path: '/victim.bin', index: 0, chunk: first, good: [] })
    expect(check.report.underReplicated).toEqual([])
    const repair = await fsckRepair(c.meta)
    expect(repair.code, repair.out).toBe(1)
    await c.cleanup()
  })
})

describe('node folders that run out of space (small tmpfs mounts)', () => {
  const tmpfsMounts: string[] = []
  afterAll(async () => {
    // Daemons first (they hold the node folders), then the tmpfs mounts; cleanupAll also unmounts
    // anything left below its temp folders.
    await stopAllDfs()
    for (const dir of tmpfsMounts.reverse()) await run('umount', [dir])
  })

  it('writes go to the nodes with room; with every node full the writer gets ENOSPC and the daemon lives on', async () => {
    const c = makeCluster(3, 'dfs-chaos-full-')
    const sizes = ['4M', '1M', '4M']
    for (const [i, node] of c.nodes.entries()) {
      const r = await run('mount', ['-t', 'tmpfs', '-o', `size=${sizes[i]}`, 'tmpfs', node])
      expect(r.code, `mount tmpfs on ${node}: ${r.stderr}`).toBe(0)
      tmpfsMounts.push(node)
    }
    const dfs = await c.start(DAEMON_FLAGS)
    const src = join(c.root, 'src')

    // 2.5 MiB of files, 5 MiB of copies: node_2 (1 MiB) fills up, the others take the rest.
    for (let i = 1; i <= 5; i++) {
      await writeRandom(join(src, `f${i}.bin`), 8 * CHUNK)
      const r = await run('cp', [join(src, `f${i}.bin`), c.mnt])
      expect(r.code, `cp f${i}.bin: ${r.stderr}`).toBe(0)
    }
    const df = await run('df', ['-B1', '--output=avail', c.nodes[1]])
    expect(Number(df.stdout.trim().split('\n')[1]), 'node_2 is (nearly) full').toBeLessThan(CHUNK)
    await dropCaches()
    await expectSameTree(src, c.mnt)

    // Now fill everything: the writer is told there is no space.
    const dd = await run('dd', ['if=/dev/urandom', `of=${join(c.mnt, 'big.bin')}`, `bs=${CHUNK}`, 'count=160'])
    expect(dd.code).not.toBe(0)
    expect(dd.stderr).toMatch(/No space left on device/)

    // The daemon lives on and serves what was stored before.
    expect(dfs.exitStatus()).toBeNull()
    await dropCaches()
    const ls = await run('ls', [c.mnt])
    expect(ls.code, ls.stderr).toBe(0)
    for (let i = 1; i <= 5; i++) {
      const r = await run('cmp', [join(src, `f${i}.bin`), join(c.mnt, `f${i}.bin`)])
      expect(r.code, r.stdout + r.stderr).toBe(0)
    }

    // Deleting the big file frees its space, and writes succeed again. A full node is left alone
    // for a few seconds before it is tried again, so the first attempts may still see ENOSPC.
    const rmBig = await run('rm', [join(c.mnt, 'big.bin')])
    expect(rmBig.code, rmBig.stderr).toBe(0)
    await writeRandom(join(src, 'later.bin'), 3 * CHUNK)
    let wrote = false
    for (let attempt = 0; attempt < 60 && !wrote; attempt++) {
      if (attempt > 0) await new Promise(resolve => setTimeout(resolve, 500))
      wrote = (await run('cp', [join(src, 'later.bin'), c.mnt])).code === 0
    }
    expect(wrote, 'a write succeeds once the big file is deleted').toBe(true)
    await dropCaches()
    await expectSameTree(src, c.mnt)
    expect(dfs.exitStatus()).toBeNull()

    await dfs.stop()
    expect(dfs.exitStatus(), dfs.output()).toEqual({ code: 0, signal: null })
    const check = await fsckJson(c.meta)
    expect(check.report.lost).toEqual([])
    expect(check.report.underReplicated).toEqual([])
  })
})
