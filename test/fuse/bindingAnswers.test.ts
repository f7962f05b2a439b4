// What the patched binding answers by itself, on libfuse's thread (src/fuse/bindingAnswers.ts),
// counted on a real mount: a file system core over in-memory stores, mounted in this process, and
// reached with real tools from child processes (never synchronously from here: this thread answers).
// Counts, not speed: how many kernel requests reach JavaScript for an `ls -l` entry and a write, and
// that nothing remembered is ever stale (hard links, O_APPEND, changes made outside any request).

import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { FileSystem } from '../../src/fs/FileSystem.js'
import type { Mounted } from '../../src/fuse/mount.js'
import { mountHearingCommits } from './mountHearingCommits.js'
import { sh } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

const FILES = 40

describe('the answers the binding gives by itself', () => {
  const dir = makeTempDir('dfs-answers-')
  const mnt = join(dir.path, 'mnt')
  let fs: FileSystem
  let mounted: Mounted | undefined
  /** Requests that reached JavaScript, by op, since the last reset. */
  let reached: Record<string, number> = {}
  const reset = () => { reached = {} }

  beforeAll(async () => {
    await mkdir(mnt)
    ;({ fs, mounted } = await mountHearingCommits(mnt, { onOp: op => { reached[op] = (reached[op] ?? 0) + 1 } }))
  })

  afterAll(async () => {
    await mounted?.unmount()
    await dir.cleanup()
  })

  beforeEach(reset)

  const run = async (script: string) => {
    const r = await sh(script)
    expect(r.code, r.stderr).toBe(0)
    return r.stdout
  }

  it('answers ls -l from what it remembers: after the listing, no entry costs a trip to JavaScript', async () => {
    await run(`mkdir ${mnt}/list && cd ${mnt}/list && for i in $(seq 1 ${FILES}); do echo $i > f$i; done`)
    reset()
    await run(`LC_ALL=C ls -l ${mnt}/list > /dev/null`)
    // The listing's entries are remembered as their getattr answers: only / and the folder are asked
    // (again after the listing's atime change), where the kernel asks 6 times per file (the path
    // walk checks / and the folder, then the file, then again for its security.selinux probe).
    expect(reached.readdir).toBe(1)
    expect(reached.getattr ?? 0).toBeLessThanOrEqual(6)
    expect(reached.getxattr ?? 0).toBe(0)
    reset()
    const before = mounted!.bindingCounters()
    await run(`LC_ALL=C ls -l ${mnt}/list > /dev/null`)
    expect(reached.getattr ?? 0).toBe(0)
    expect(reached.getxattr ?? 0).toBe(0)
    const after = mounted!.bindingCounters()
    expect(after.getattrAnswered - before.getattrAnswered).toBeGreaterThanOrEqual(3 * FILES)
    expect(after.xattrAnswered - before.xattrAnswered).toBeGreaterThanOrEqual(FILES)
  })

  it('keeps what it remembers while another file is read: a READ changes no attribute by itself', async () => {
    await run(`mkdir ${mnt}/reading && cd ${mnt}/reading && for i in $(seq 1 ${FILES}); do echo $i > f$i; done &&
      dd if=/dev/zero of=${mnt}/read bs=128k count=16 status=none`)
    reset()
    // One reader: opened and read once (the access time moves: a commit, everything remembered goes),
    // the files are stat-ed (remembered again), then five more reads (the page cache dropped first, so
    // each is a READ), each followed by a stat of the files by name (no listing remembers them anew).
    await run(`cd ${mnt}/reading && python3 -c "
import os, subprocess
names = ['f%d' % i for i in range(1, ${FILES} + 1)]
fd = os.open('${mnt}/read', os.O_RDONLY)
for i in range(6):
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    assert len(os.pread(fd, 131072, i * 131072)) == 131072
    subprocess.run(['stat', '-c', '%s'] + names, check=True, stdout=subprocess.DEVNULL)
os.close(fd)
"`)
    expect(reached.read).toBeGreaterThanOrEqual(6)
    // The first stat of the folder asks for each file; were reads changes, every later one would too (6 x ${FILES}).
    expect(reached.getattr ?? 0).toBeLessThan(2 * FILES)
  })

  it('answers the security.capability probe before every write itself', async () => {
    await run(`dd if=/dev/zero of=${mnt}/written bs=4k count=8 status=none`)
    expect(reached.write).toBe(8)
    expect(reached.getxattr ?? 0).toBe(0)
  })

  it('answers ACL probes (EOPNOTSUPP) and security.* probes (ENODATA) as the file system would', async () => {
    await run(`echo x > ${mnt}/probed`)
    reset()
    const acl = await sh(`getfattr -n system.posix_acl_access ${mnt}/probed`)
    expect(acl.stderr).toMatch(/Operation not supported/)
    const selinux = await sh(`getfattr -n security.selinux ${mnt}/probed`)
    expect(selinux.stderr).toMatch(/No such attribute/)
    expect(reached.getxattr ?? 0).toBe(0)
  })

  it('passes security.* probes on while such an attribute exists, and answers them again once none does', async () => {
    await run(`echo x > ${mnt}/labelled && setfattr -n security.test -v yes ${mnt}/labelled`)
    expect(await run(`getfattr --only-values -n security.test ${mnt}/labelled`)).toBe('yes')
    const other = await sh(`getfattr -n security.other ${mnt}/labelled`)
    expect(other.stderr).toMatch(/No such attribute/)
    expect(reached.getxattr).toBeGreaterThanOrEqual(2)
    await run(`setfattr -x security.test ${mnt}/labelled`)
    reset()
    const gone = await sh(`getfattr -n security.test ${mnt}/labelled`)
    expect(gone.stderr).toMatch(/No such attribute/)
    expect(reached.getxattr ?? 0).toBe(0)
  })

  it('never answers a stale attribute through another name of a hard link', async () => {
    const out = await run(`cd ${mnt} && echo hello > a && ln a b && stat -c '%s %h' a b > /dev/null &&
      echo more >> b && stat -c '%n %s %h' a &&
      chmod 600 a && stat -c '%n %a' b &&
      exec 3>> a && echo x >&3 && stat -c '%n %s' b && exec 3>&- &&
      echo y >> b && echo z >> a && cat a && rm b && stat -c '%n %h' a`)
    expect(out).toBe('a 11 2\nb 600\nb 13\nhello\nmore\nx\ny\nz\na 1\n')
  })

  it('forgets what it remembers when the namespace changes outside any request', async () => {
    await run(`echo x > ${mnt}/changed && chmod 644 ${mnt}/changed`)
    expect(await run(`stat -c %a ${mnt}/changed && stat -c %a ${mnt}/changed`)).toBe('644\n644\n')
    await fs.chmod('/changed', 0o600) // a commit no kernel request made (as the daemon's own would be)
    expect(await run(`stat -c %a ${mnt}/changed`)).toBe('600\n')
  })

  it('remembers that a name does not exist, until it does', async () => {
    await run(`mkdir ${mnt}/missing`)
    reset()
    const absent = await sh(`stat ${mnt}/missing/x; stat ${mnt}/missing/x; stat ${mnt}/missing/x`)
    expect(absent.stderr.match(/No such file/g)).toHaveLength(3)
    expect(reached.getattr ?? 0).toBeLessThanOrEqual(3) // the folder, the root, and x once
    expect(await run(`cd ${mnt}/missing && echo hello > x && cat x && rm x && (cat x 2>&1 || true) && ln -s y x && readlink x`))
      .toBe('hello\ncat: x: No such file or directory\ny\n')
  })

  it('does not remember a listed entry that changed after the listing', async () => {
    await run(`mkdir ${mnt}/relisted && echo a > ${mnt}/relisted/f && chmod 644 ${mnt}/relisted/f`)
    expect(await run(`ls ${mnt}/relisted > /dev/null && chmod 600 ${mnt}/relisted/f && stat -c %a ${mnt}/relisted/f`)).toBe('600\n')
    // Held open for writing while listed: its stat is not remembered (the writer's bytes are ahead of the journal).
    const out = await run(`cd ${mnt}/relisted && exec 3> g && printf 1234 >&3 && ls -l > /dev/null && stat -c %s g &&
      printf 56 >&3 && ls -l > /dev/null && stat -c %s g && exec 3>&-`)
    expect(out).toBe('4\n6\n')
  })

  it('remembers the attributes of a file just created until it is written, as a closed file\'s', async () => {
    await run(`mkdir ${mnt}/fresh`)
    reset()
    // Open and not yet written: nothing of it is ahead of the namespace, so its first stat is remembered.
    const out = await run(`cd ${mnt}/fresh && exec 3> new && for i in 1 2 3 4 5 6; do stat -c %s new; done &&
      printf 123 >&3 && stat -c %s new && stat -c %s new && exec 3>&- && stat -c %s new`)
    expect(out).toBe('0\n0\n0\n0\n0\n0\n3\n3\n3\n')
    // 8 here; 17 when each stat of the open file reached JavaScript (the kernel also asks for the
    // folders on the way, and for the file after each write and close).
    expect(reached.getattr ?? 0).toBeLessThanOrEqual(10)
  })

  it('does not remember the attributes of a file open for writing', async () => {
    // A writer holds the file open and writes ahead of the journal; each stat sees its writes.
    const out = await run(`cd ${mnt} && exec 3> open && stat -c %s open && printf 12345 >&3 && stat -c %s open &&
      printf 678 >&3 && stat -c %s open && exec 3>&- && stat -c %s open`)
    expect(out).toBe('0\n5\n8\n8\n')
  })
})
