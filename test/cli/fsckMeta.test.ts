// A flipped byte in a real metadata folder, as a user meets it: the mount refuses naming the exact
// commands, `dfs fsck --meta` explains (file, record, byte, what the records after it did) and
// changes nothing, `dfs fsck --meta --repair` backs up and recovers, and the mount then serves every
// file the surviving records describe, byte for byte.

import { createHash } from 'node:crypto'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DFS_BIN, REPO_ROOT, forceUnmount, isMounted, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run, sh } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

stopAllAfterAll()

const root = makeTempDir('dfs-cli-fsck-meta-').path
const env = { DFS_RUNTIME_DIR: join(root, 'runtime') }

function dfs(args: string[]) {
  return run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, env, timeout: 120_000 })
}

/** Name -> sha256 of every file directly in dir. */
async function hashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isFile()) out[e.name] = createHash('sha256').update(await readFile(join(dir, e.name))).digest('hex')
  }
  return out
}

/** Random files of assorted sizes under `${root}/src`, copied into the mount with fsync. */
async function writeFiles(mnt: string, names: string[]): Promise<void> {
  for (const [i, name] of names.entries()) {
    const size = [0, 1, 65535, 65536, 200_001][i % 5]
    const r = await sh(`mkdir -p ${root}/src && head -c ${size} /dev/urandom > ${root}/src/${name} && dd if=${root}/src/${name} of=${mnt}/${name} bs=64k conv=fsync status=none`)
    expect(r.code, r.stderr).toBe(0)
  }
}

/** Every chunk file the node folders hold (node/chunks/<xx>/<id>). */
async function chunkFiles(nodes: string[]): Promise<string[]> {
  const out: string[] = []
  for (const node of nodes) {
    for (const f of await readdir(join(node, 'chunks'), { recursive: true, withFileTypes: true })) {
      if (f.isFile() && /^[0-9a-f]{32}$/.test(f.name)) out.push(join(f.parentPath, f.name))
    }
  }
  return out.sort()
}

/** Poll the mount's `dfs status --json` healer until `ready` holds (a generous deadline, not a timing claim). */
async function healerUntil(mnt: string, ready: (h: Record<string, number>) => boolean): Promise<Record<string, number>> {
  const deadline = Date.now() + 90_000
  for (;;) {
    const r = await dfs(['status', mnt, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const healer = JSON.parse(r.stdout).healer as Record<string, number>
    if (ready(healer)) return healer
    if (Date.now() > deadline) throw new Error(`healer never got there: ${JSON.stringify(healer)}`)
    await new Promise((done) => setTimeout(done, 250))
  }
}

async function expectSame(mnt: string, names: string[]): Promise<void> {
  for (const name of names) {
    const r = await run('cmp', [`${root}/src/${name}`, `${mnt}/${name}`])
    expect(r.code, `${name}: ${r.stdout}${r.stderr}`).toBe(0)
  }
}

describe('dfs fsck --meta on damaged metadata', () => {
  it('explains a flipped byte in the journal, repairs it, and the mount serves the files that survive', async () => {
    const c = makeCluster(2, 'dfs-fsck-journal-')
    try {
      let d = await c.start({ replicas: 2, chunkSize: '64k', env })
      await writeFiles(c.mnt, ['f1', 'f2', 'f3'])
      await d.stop() // a checkpoint: f1..f3 are in checkpoint.json

      d = await c.start({ env })
      await writeFiles(c.mnt, ['g1', 'g2', 'g3', 'g4'])
      await d.kill9() // no final checkpoint: g1..g4 live only in the journal
      if (isMounted(c.mnt)) await forceUnmount(c.mnt)

      const segments = (await readdir(c.meta)).filter((n) => n.startsWith('journal-')).sort()
      const live = join(c.meta, segments[segments.length - 1]!)
      const text = await readFile(live, 'utf8')
      expect(text).toContain('"name":"g3"')
      const line = text.slice(0, text.indexOf('"name":"g3"')).split('\n').length
      const seq = Number(text.split('\n')[line - 1]!.split(' ')[0])
      await writeFile(live, text.replace('"name":"g3"', '"name":"g9"')) // one byte

      const mount = await dfs(['mount', c.mnt, '--meta', c.meta, '--foreground'])
      expect(mount.code).not.toBe(0)
      expect(mount.stderr).toContain(`journal ${live} is corrupt at record ${seq} (line ${line})`)
      expect(mount.stderr).toContain(`dfs fsck --meta ${c.meta} --repair`)

      const before = await hashes(c.meta)
      const explain = await dfs(['fsck', '--meta', c.meta])
      expect(explain.code).toBe(1)
      expect(explain.stdout).toContain(`journal ${live} is damaged at record ${seq} (line ${line}), byte `)
      expect(explain.stdout).toMatch(new RegExp(`record ${seq}: create file /g9 .*damaged`))
      expect(explain.stdout).toContain('create file /g4')
      expect(explain.stdout).toMatch(/paths they touched: .*\/g4/)
      expect(explain.stdout).toContain(`dfs fsck --meta ${c.meta} --repair`)
      expect(await hashes(c.meta)).toEqual(before) // explaining changes nothing

      const repair = await dfs(['fsck', '--meta', c.meta, '--repair'])
      expect(repair.stdout).toContain('metadata repaired')
      expect(repair.stdout).toMatch(/lost: the \d+ operation\(s\) listed above; paths they touched: .*\/g4/)
      const backup = (await readdir(c.meta)).find((n) => n.startsWith('backup-'))!
      expect(await readFile(join(c.meta, backup, segments[segments.length - 1]!), 'utf8')).toBe(text.replace('"name":"g3"', '"name":"g9"'))

      d = await c.start({ env })
      await expectSame(c.mnt, ['f1', 'f2', 'f3', 'g1', 'g2'])
      const ls = await run('ls', [c.mnt])
      expect(ls.stdout.split('\n').filter(Boolean).sort()).toEqual(['f1', 'f2', 'f3', 'g1', 'g2'])
      await d.stop()
    } finally {
      await c.cleanup()
    }
  }, 180_000)

  it('puts format.json back from its copy when a byte of it flips: the mount names the fix, fsck --repair makes it', async () => {
    const c = makeCluster(2, 'dfs-fsck-format-')
    try {
      let d = await c.start({ replicas: 2, chunkSize: '64k', env })
      await writeFiles(c.mnt, ['f1', 'f2'])
      await d.stop()
      const format = join(c.meta, 'format.json')
      const good = await readFile(format, 'utf8')
      expect(await readFile(join(c.meta, 'format.copy.json'), 'utf8')).toBe(good)
      const bad = good.replace('"clusterId"', '"clusterIe"') // one byte
      await writeFile(format, bad)

      const mount = await dfs(['mount', c.mnt, '--meta', c.meta, '--foreground'])
      expect(mount.code).not.toBe(0)
      expect(mount.stderr).toContain(`dfs fsck --meta ${c.meta} --repair`)
      expect(mount.stderr).toMatch(/\[FORMAT_CORRUPT\]/)
      expect(isMounted(c.mnt)).toBe(false)

      const repair = await dfs(['fsck', '--meta', c.meta, '--repair'])
      expect(repair.stdout).toContain('put back from its copy format.copy.json')
      expect(await readFile(format, 'utf8')).toBe(good)
      const backup = (await readdir(c.meta)).find((n) => n.startsWith('backup-'))!
      expect(await readFile(join(c.meta, backup, 'format.json'), 'utf8')).toBe(bad)

      d = await c.start({ env })
      await expectSame(c.mnt, ['f1', 'f2'])
      await d.stop()
    } finally {
      await c.cleanup()
    }
  }, 180_000)

  it('falls back to the previous checkpoint when checkpoint.json has a flipped byte, and nothing is lost', async () => {
    const c = makeCluster(2, 'dfs-fsck-checkpoint-')
    try {
      let d = await c.start({ replicas: 2, chunkSize: '64k', env })
      await writeFiles(c.mnt, ['a1', 'a2'])
      await d.stop()
      d = await c.start({ env })
      await writeFiles(c.mnt, ['b1', 'b2'])
      await d.stop() // checkpoint.json now covers b1, b2; checkpoint.prev.json and the journal since it are kept

      const file = join(c.meta, 'checkpoint.json')
      const bytes = await readFile(file)
      bytes[Math.floor(bytes.length / 2)] ^= 0x01
      await writeFile(file, bytes)

      const mount = await dfs(['mount', c.mnt, '--meta', c.meta, '--foreground'])
      expect(mount.code).not.toBe(0)
      expect(mount.stderr).toContain(`checkpoint ${file} is corrupt`)
      expect(mount.stderr).toContain(`dfs fsck --meta ${c.meta} --repair`)

      const explain = await dfs(['fsck', '--meta', c.meta])
      expect(explain.code).toBe(1)
      expect(explain.stdout).toContain(`checkpoint ${file} is damaged`)
      expect(explain.stdout).toContain('nothing is lost')
      expect(explain.stdout).toContain('drops nothing')
      expect(explain.stdout).not.toContain('drops the 0')

      const repair = await dfs(['fsck', '--meta', c.meta, '--repair'])
      expect(repair.stdout).toContain('nothing was lost')
      expect(repair.code, repair.stdout + repair.stderr).toBe(0)

      d = await c.start({ env })
      await expectSame(c.mnt, ['a1', 'a2', 'b1', 'b2'])
      await d.stop() // a new checkpoint: the repaired one becomes checkpoint.prev.json

      // Now the fallback itself rots: checkpoint.json is intact, but nothing is left to fall back on.
      const previous = join(c.meta, 'checkpoint.prev.json')
      const prevBytes = await readFile(previous)
      prevBytes[Math.floor(prevBytes.length / 2)] ^= 0x01
      await writeFile(previous, prevBytes)
      const warned = await dfs(['fsck', '--meta', c.meta])
      expect(warned.stdout).toContain(`WARNING: the previous checkpoint ${previous} is damaged`)
      expect(warned.stdout).toContain('there is no fallback left')
    } finally {
      await c.cleanup()
    }
  }, 180_000)

  it('keeps the chunks of the records a repair dropped, through fsck --repair and a mount, until the hold is released', async () => {
    const c = makeCluster(3, 'dfs-fsck-hold-')
    try {
      let d = await c.start({ replicas: 2, chunkSize: '64k', env })
      await writeFiles(c.mnt, ['e0', 'e1', 'e2', 'e3', 'big']) // big: 200001 bytes, 4 chunks
      const withBig = (await chunkFiles(c.nodes)).length
      expect((await run('rm', [join(c.mnt, 'big')])).code).toBe(0)
      const deadline = Date.now() + 60_000 // the daemon deletes big's chunk files
      while ((await chunkFiles(c.nodes)).length > withBig - 8 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 100))
      await writeFiles(c.mnt, ['h0', 'h1', 'h2', 'h3', 'h4'])
      expect((await run('sync', ['-f', join(c.mnt, 'e0')])).code).toBe(0)
      await d.kill9() // everything lives only in the journal
      if (isMounted(c.mnt)) await forceUnmount(c.mnt)

      const segments = (await readdir(c.meta)).filter((n) => n.startsWith('journal-')).sort()
      const live = join(c.meta, segments[segments.length - 1]!)
      const text = await readFile(live, 'utf8')
      const unlinkBig = text.lastIndexOf('"name":"big"')
      expect(text.slice(0, unlinkBig).split('\n').pop()).toContain('"op":"unlink"')
      // One byte in the middle record that removed big: it and every record after it are dropped.
      await writeFile(live, `${text.slice(0, unlinkBig)}"name":"bih"${text.slice(unlinkBig + '"name":"big"'.length)}`)
      const stored = await chunkFiles(c.nodes)
      expect(stored.length).toBeGreaterThan(4)

      const repair = await dfs(['fsck', '--meta', c.meta, '--repair'])
      expect(repair.stdout).toContain('metadata repaired')
      expect(repair.stdout).toContain(`dfs fsck --meta ${c.meta} --release-orphans`)
      expect(repair.stdout).toMatch(/orphan chunk files \(referenced by nothing\): \d+; kept: held since the metadata repair of \S+ \(the backup \S+backup-\S+ refers to them\)/)
      expect(repair.stdout).toMatch(/0 orphans removed, \d+ orphans kept \(held\)/)
      // big is back in the namespace, but its chunk files went when it was removed: said so, with what to do.
      expect(repair.stdout).toMatch(/1 file\(s\) came back with the repaired metadata but their data is gone[^\n]*\n  \/big\n/)
      expect(repair.stdout).toContain('rm <mountpoint><path>')
      expect(repair.code, repair.stdout + repair.stderr).toBe(1) // lost data remains
      expect(await chunkFiles(c.nodes)).toEqual(stored) // the fsck chunk pass deleted nothing

      // The daemon's collector sees them due and keeps them.
      d = await c.start({ env, extraArgs: ['--orphan-grace', '1s'] })
      await healerUntil(c.mnt, (h) => h.orphansHeld > 0)
      expect(await chunkFiles(c.nodes)).toEqual(stored)
      expect((await dfs(['status', c.mnt])).stdout).toMatch(/healer: .* orphan files removed, \d+ pending \(\d+ kept: held since the metadata repair of /)
      await expectSame(c.mnt, ['e1', 'e2', 'e3'])
      expect((await run('rm', [join(c.mnt, 'big')])).code).toBe(0) // as the repair said
      await d.stop()
      // Big removed, a plain check finds only the held orphans: kept on purpose, not a problem --repair fixes.
      const check = await dfs(['fsck', '--meta', c.meta])
      expect(check.stdout).toMatch(/orphan chunk files \(referenced by nothing\): \d+; kept: held since/)
      expect(check.stdout).toContain('healthy (apart from the held orphans above)')
      expect(check.code, check.stdout + check.stderr).toBe(0)

      const release = await dfs(['fsck', '--meta', c.meta, '--release-orphans'])
      expect(release.code, release.stderr).toBe(0)
      expect(release.stdout).toContain('released the orphan hold')
      d = await c.start({ env, extraArgs: ['--orphan-grace', '1s'] })
      await healerUntil(c.mnt, (h) => h.orphansRemoved > 0 && h.orphansPending === 0)
      const left = await chunkFiles(c.nodes)
      expect(left.length).toBeLessThan(stored.length)
      await expectSame(c.mnt, ['e1', 'e2', 'e3'])
      await d.stop()
    } finally {
      await c.cleanup()
    }
  }, 240_000)
})
