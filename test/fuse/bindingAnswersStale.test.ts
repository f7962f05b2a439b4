// Remembered answers (src/fuse/bindingAnswers.ts) never stale, checked two ways on a real in-process
// mount reached with real tools from child processes:
// - differentially: each script runs in a local folder and on the mount, and must print the same
//   (hard links written through an open descriptor, rename over a name with other links, unlink of an
//   open file, folders made and removed, symlinks, truncate and ftruncate, folders moved under open
//   files, O_APPEND through another name), with `ls -l` in between so listings are remembered too;
// - by fuzzing: writers (links, renames, unlinks, chmod, truncate, utime, O_APPEND held open, mkdir,
//   rmdir, symlinks, reads) and readers (listings, scandir stats, lstat) run at once on several
//   libfuse threads, then every name is stat-ed through the mount and compared with what the file
//   system answers when asked directly.

import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FileSystem } from '../../src/fs/FileSystem.js'
import type { Mounted } from '../../src/fuse/mount.js'
import { mountHearingCommits } from './mountHearingCommits.js'
import { sh } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

const S = `stat -c '%n %s %h %a %F'`
const SCRIPTS: Record<string, string> = {
  'hard links written through an open descriptor': `echo hello > a && ln a b && ls -l >/dev/null && ${S} a b && exec 3>>a && echo x >&3 && ${S} b && ls -l > /dev/null && ${S} a b && exec 3>&- && ${S} a b; ls -l >/dev/null; ${S} a b`,
  'rename over a name with another link': `echo 1 > x && echo 22 > y && ln y y2 && ls -l >/dev/null && ${S} x y y2 && mv x y && ${S} y y2; ${S} x 2>&1; ls -l > /dev/null; ${S} y y2`,
  'unlink of an open file': `echo abc > z && ln z z2 && ls -l > /dev/null && exec 4<z && rm z && ${S} z2; ${S} z 2>&1; ls -la | grep -c fuse_hidden; exec 4<&- ; ${S} z2`,
  'folders made and removed': `mkdir d && ls -l > /dev/null && ${S} d && rmdir d; ${S} d 2>&1; mkdir d; ${S} d; ls -l >/dev/null; rmdir d; ${S} d 2>&1`,
  'symlinks, followed and not': `echo 123 > t && ln -s t l && ls -l > /dev/null && stat -c '%n %s %F' l && stat -L -c '%n %s %F' l && echo 45678 > t && stat -L -c '%n %s' l && rm t && stat -L -c '%n %s' l 2>&1; ls -l > /dev/null; stat -L l 2>&1 | head -1`,
  'truncate, ftruncate, dd conv=notrunc': `printf 1234567890 > f && ls -l > /dev/null && truncate -s 3 f && ${S} f && python3 -c "import os; fd=os.open('f', os.O_RDWR); os.ftruncate(fd, 7); print(os.stat('f').st_size); os.close(fd)" && ${S} f && dd if=/dev/zero of=f bs=1 count=2 seek=20 conv=notrunc status=none && ${S} f && ls -l > /dev/null && ${S} f`,
  'folders moved': `mkdir d1 && echo a > d1/f && ls -l d1 > /dev/null && ${S} d1/f && mv d1 d2 && ${S} d1/f 2>&1; ${S} d2/f; ls -l d2 >/dev/null; mv d2 d1; ${S} d2/f 2>&1; ${S} d1/f`,
  'a folder moved while a file in it is open': `mkdir d1 && echo abc > d1/f && exec 5<d1/f && mv d1 d2 && mkdir d1 && ${S} d1/f 2>&1; ls d1 | wc -l; ${S} d2/f; exec 5<&-; ${S} d1/f 2>&1`,
  'chmod and chown through another link': `echo a > p && ln p q && ls -l > /dev/null && chmod 600 p && ${S} q && chown 123:45 q && stat -c '%n %u %g' p`,
  'O_APPEND through another link': `echo a > e && ln e e2 && ls -l >/dev/null && (for i in 1 2 3 4 5; do echo $i >> e2; ${S} e; done) && cat e`,
}

const FUZZ = `
import os, random, sys
root, seed, n, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
random.seed(seed)
names = [f"{d}/f{i}" for d in ("d0", "d1") for i in range(6)] + ["g0", "g1", "g2"]
for d in ("d0", "d1"): os.makedirs(os.path.join(root, d), exist_ok=True)
p = lambda x: os.path.join(root, x)
held = []
for _ in range(n):
    a, b = random.choice(names), random.choice(names)
    try:
        if mode == "reader":
            r = random.random()
            if r < 0.3: os.listdir(p(random.choice(["d0", "d1", "."])))
            elif r < 0.5:
                for e in os.scandir(p(random.choice(["d0", "d1"]))): e.stat(follow_symlinks=False)
            else: os.lstat(p(a))
            continue
        op = random.randrange(14)
        if op == 0:
            with open(p(a), "a") as f: f.write("x" * random.randrange(1, 50))
        elif op == 1: os.link(p(a), p(b))
        elif op == 2: os.rename(p(a), p(b))
        elif op == 3: os.unlink(p(a))
        elif op == 4: os.chmod(p(a), random.choice([0o600, 0o644, 0o755]))
        elif op == 5: os.truncate(p(a), random.randrange(0, 100))
        elif op == 6: os.utime(p(a), (random.randrange(1, 10**9), random.randrange(1, 10**9)))
        elif op == 7:
            fd = os.open(p(a), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644); os.write(fd, b"yy"); held.append(fd)
        elif op == 8 and held: os.close(held.pop(random.randrange(len(held))))
        elif op == 9: os.mkdir(p(a))
        elif op == 10: os.rmdir(p(a))
        elif op == 11: os.symlink("target", p(a))
        elif op == 12:
            with open(p(a)) as f: f.read()
        elif op == 13:
            fd = os.open(p(a), os.O_RDWR); os.ftruncate(fd, random.randrange(0, 80)); os.write(fd, b"z"); os.close(fd)
    except OSError: pass
    if mode != "reader" and random.random() < 0.5:
        try: os.lstat(p(b))
        except OSError: pass
for fd in held: os.close(fd)
`
const SEEN = `
import os, sys, json
root, out = sys.argv[1], {}
for x in [f"{d}/f{i}" for d in ("d0", "d1") for i in range(6)] + ["g0", "g1", "g2", "d0", "d1"]:
    try:
        s = os.lstat(os.path.join(root, x))
        out[x] = [s.st_ino, s.st_mode, s.st_nlink, 0 if s.st_mode & 0o040000 else s.st_size, int(s.st_atime), int(s.st_mtime), int(s.st_ctime), s.st_uid]
    except OSError as e: out[x] = e.strerror
print(json.dumps(out))
`

describe('remembered answers, never stale', () => {
  const dir = makeTempDir('dfs-stale-')
  const mnt = join(dir.path, 'mnt')
  const local = join(dir.path, 'local')
  let fs: FileSystem
  let mounted: Mounted | undefined

  beforeAll(async () => {
    await mkdir(mnt)
    await mkdir(local)
    await writeFile(join(dir.path, 'fuzz.py'), FUZZ)
    await writeFile(join(dir.path, 'seen.py'), SEEN)
    ;({ fs, mounted } = await mountHearingCommits(mnt))
  })

  afterAll(async () => {
    await mounted?.unmount()
    await dir.cleanup()
  })

  for (const [name, script] of Object.entries(SCRIPTS)) {
    it(`prints what a local folder prints: ${name}`, async () => {
      const folder = name.replace(/\W+/g, '-')
      const there = async (root: string) => {
        const r = await sh(`mkdir ${root}/${folder} && cd ${root}/${folder} && ${script}`)
        return r.stdout + r.stderr.replaceAll(root, 'ROOT')
      }
      expect(await there(mnt)).toBe(await there(local))
    })
  }

  it('keeps paths that share a slot of the table apart (/coll/n545 and /coll/n970: same low 16 bits of FNV-1a)', async () => {
    const script = `printf 1 > n545 && printf 22 > n970 && chmod 600 n545 && ls -l > /dev/null &&
      for i in 1 2 3; do ${S} n545 n970; done && rm n970 && for i in 1 2 3; do ${S} n545; ${S} n970 2>&1; done &&
      ls -l > /dev/null && ${S} n545 && mv n545 n970 && ${S} n970 && ${S} n545 2>&1; true`
    const there = async (root: string) => {
      const r = await sh(`mkdir ${root}/coll && cd ${root}/coll && ${script}`)
      return r.stdout + r.stderr
    }
    expect(await there(mnt)).toBe(await there(local))
  })

  it('answers every stat as the file system does after writers and readers ran at once', async () => {
    const before = mounted!.bindingCounters()
    for (let round = 0; round < 2; round++) {
      const root = `${mnt}/fuzz${round}`
      await sh(`mkdir ${root}`)
      const runs = [1, 2, 3].map(i => sh(`python3 ${dir.path}/fuzz.py ${root} ${round * 10 + i} 300 writer`))
        .concat([4, 5].map(i => sh(`python3 ${dir.path}/fuzz.py ${root} ${round * 10 + i} 1000 reader`)))
      for (const r of await Promise.all(runs)) expect(r.code, r.stderr).toBe(0)
      const seen = JSON.parse((await sh(`python3 ${dir.path}/seen.py ${root}`)).stdout) as Record<string, unknown>
      const truth: Record<string, unknown> = {}
      for (const name of Object.keys(seen)) {
        truth[name] = await fs.getattr(`/fuzz${round}/${name}`).then(
          s => [s.ino, s.mode, s.nlink, s.mode & 0o040000 ? 0 : s.size, ...[s.atime, s.mtime, s.ctime].map(t => Math.floor(t / 1000)), s.uid],
          () => 'No such file or directory')
      }
      expect(seen).toEqual(truth)
    }
    // The remembered answers were in play: most stats were answered by the binding.
    const after = mounted!.bindingCounters()
    expect(after.getattrAnswered - before.getattrAnswered).toBeGreaterThan(after.getattrPassedOn - before.getattrPassedOn)
  })
})
