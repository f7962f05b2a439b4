// The bench's in-memory FUSE file system (src/bench/memFs.ts) holds what the bench writes: it is
// started the way the bench starts it, reached with real tools from child processes, compared byte
// for byte with the same steps on a native folder, and leaves no mount or process behind. No timing:
// its speed is a figure of `npm run bench`.

import { randomBytes } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MountProcess, mountInfo } from '../../src/bench/daemon.js'
import { memFsOperations } from '../../src/bench/memFs.js'
import { run, sh } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

describe('memfs, the bench ceiling', () => {
  const dir = makeTempDir('memfs-')
  const mnt = join(dir.path, 'mnt')
  const native = join(dir.path, 'native')
  let memfs: MountProcess | undefined

  beforeAll(async () => {
    await mkdir(mnt)
    await mkdir(native)
    memfs = await MountProcess.launch({
      what: 'memfs', readyPrefix: 'memfs: mounted', mountpoint: mnt,
      argv: [join(REPO, 'dist', 'bench', 'memFs.js'), mnt], cwd: REPO, logPath: join(dir.path, 'memfs.log'),
    })
  })

  afterAll(async () => {
    await memfs?.stop()
    await dir.cleanup()
  })

  it('mounts with the options dfs mounts with', async () => {
    const info = await mountInfo(mnt)
    expect(info?.fstype).toBe('fuse.memfs')
    if (process.getuid?.() === 0) expect(info?.options).toMatch(/default_permissions,allow_other/)
  })

  it('keeps the bytes of writes at any offset, truncates both ways, lists, removes', async () => {
    // The same steps on both sides; a file over several 1 MiB pieces, rewritten across a boundary.
    const steps = (d: string) => `set -e
      cd '${d}'
      dd if='${join(dir.path, 'src.bin')}' of=big bs=1M conv=fsync status=none
      dd if=/dev/zero bs=1000 count=3000 status=none | tr '\\0' 'x' | dd of=big bs=1000 seek=1000 conv=notrunc status=none
      cp big copy && truncate -s 1048577 copy && truncate -s 3000000 copy
      mkdir sub && printf hello > sub/a && printf gone > sub/b && rm sub/b
      dd if='${join(dir.path, 'src.bin')}' of=sparse bs=4096 seek=700 count=2 status=none`
    expect((await sh(`head -c 3145729 /dev/urandom > '${join(dir.path, 'src.bin')}'`)).code).toBe(0)
    for (const d of [native, mnt]) {
      const r = await sh(steps(d))
      expect(r.code, `${d}: ${r.stderr}`).toBe(0)
    }
    for (const name of ['big', 'copy', 'sub/a', 'sparse']) {
      const r = await run('cmp', [join(native, name), join(mnt, name)])
      expect(r.code, `${name}: ${r.stdout}${r.stderr}`).toBe(0)
    }
    const list = (d: string) => sh(`cd '${d}' && LC_ALL=C ls -1A . sub && stat -c '%n %s %F' big copy sparse sub/a`)
    expect((await list(mnt)).stdout).toBe((await list(native)).stdout)
    expect((await sh(`rm -r '${mnt}/sub' '${mnt}/big' && ls -A '${mnt}'`)).stdout.split('\n').filter(Boolean).sort()).toEqual(['copy', 'sparse'])
  })

  it('keeps the bytes of a file deleted or renamed over while a handle is open on it, for that handle', () => {
    // Driven through its operations, not a mount: libfuse 2 renames an open file it is asked to
    // delete and unlinks it at the last close, so through a mount the open-handle case never reaches
    // memfs's unlink (letGo must still hold for it, and for a file renamed over).
    const { ops } = memFsOperations(() => ({ uid: 0, gid: 0 }))
    const call = (op: string, ...args: unknown[]) => {
      let answer: unknown[] | undefined
      ops[op]!(...args, (...results: unknown[]) => { answer = results })
      return answer!
    }
    const bytes = randomBytes(3 * 1024 * 1024 + 5)
    const readAll = (fd: number) => {
      const out = Buffer.alloc(bytes.length)
      expect(call('read', '/f', fd, out, out.length, 0)).toEqual([bytes.length])
      return out
    }
    const [, fd] = call('create', '/f', 0o644) as [number, number]
    expect(call('write', '/f', fd, bytes, bytes.length, 0)).toEqual([bytes.length])
    const [, second] = call('open', '/f', 0) as [number, number]
    expect(call('unlink', '/f')).toEqual([0])
    expect(readAll(fd).equals(bytes)).toBe(true)
    expect(call('release', '/f', fd)).toEqual([0])
    expect(readAll(second).equals(bytes)).toBe(true) // one handle left
    expect(call('release', '/f', second)).toEqual([0])

    // Renamed over while open: the old file's bytes stay for its handle.
    const [, a] = call('create', '/a', 0o644) as [number, number]
    call('write', '/a', a, bytes, bytes.length, 0)
    const [, b] = call('create', '/b', 0o644) as [number, number]
    expect(call('rename', '/b', '/a')).toEqual([0])
    const out = Buffer.alloc(bytes.length)
    expect(call('read', '/a', a, out, out.length, 0)).toEqual([bytes.length])
    expect(out.equals(bytes)).toBe(true)
    call('release', '/a', a)
    call('release', '/a', b)
  })

  it('unmounts and exits on SIGTERM', async () => {
    await memfs!.stop()
    expect(memfs!.running).toBe(false)
    expect(memfs!.exitText()).toBe('exit code 0')
    expect(await mountInfo(mnt)).toBeUndefined()
  })
})
