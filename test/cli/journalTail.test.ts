// A flipped byte in the LAST journal record is damage, not a torn write: the record is whole (it ends
// with its newline), it was fsync'd and acknowledged, so the mount must not drop it by itself. The
// mount refuses with JOURNAL_CORRUPT and the exact commands; `dfs fsck --meta --repair` backs up,
// cuts and lists what is lost, and then the mount works.

import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DFS_BIN, REPO_ROOT, forceUnmount, isMounted, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run, sh } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

stopAllAfterAll()

const root = makeTempDir('dfs-cli-journal-tail-').path
const env = { DFS_RUNTIME_DIR: join(root, 'runtime') }

function dfs(args: string[]) {
  return run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, env, timeout: 120_000 })
}

// Overwrite a file in place with write + fsync, as an application that wants its bytes kept does.
const OVERWRITE = 'import os,sys\nfd=os.open(sys.argv[1],os.O_WRONLY|os.O_TRUNC)\nos.write(fd,b"NEW\\n")\nos.fsync(fd)\nos.close(fd)'

describe('a flipped byte in the last journal record', () => {
  it('stops the mount with JOURNAL_CORRUPT instead of dropping the record; fsck --repair recovers and the mount works', async () => {
    const c = makeCluster(2, 'dfs-journal-tail-')
    try {
      let d = await c.start({ replicas: 2, chunkSize: '64k', env })
      expect((await sh(`echo old > ${c.mnt}/x && sync`)).code).toBe(0)
      const write = await run('python3', ['-c', OVERWRITE, `${c.mnt}/x`])
      expect(write.code, write.stderr).toBe(0) // fsync acknowledged NEW
      await d.kill9()
      if (isMounted(c.mnt)) await forceUnmount(c.mnt)

      const segments = (await readdir(c.meta)).filter((n) => n.startsWith('journal-')).sort()
      const live = join(c.meta, segments[segments.length - 1]!)
      const bytes = await readFile(live)
      expect(bytes[bytes.length - 1]).toBe(0x0a) // the last record is whole
      const at = bytes.length - 30
      expect(bytes.lastIndexOf(0x0a, bytes.length - 2)).toBeLessThan(at) // the flip lands inside the last record
      bytes[at]! ^= 0x01
      await writeFile(live, bytes)

      const refused = await c.start({ env }).then(
        async (daemon) => {
          await daemon.stop()
          return undefined
        },
        (err: Error) => err,
      )
      expect(refused, 'the mount dropped the damaged last record and mounted').toBeInstanceOf(Error)
      expect(refused!.message).toContain('[JOURNAL_CORRUPT]')
      expect(refused!.message).toContain(`journal ${live} is corrupt at record `)
      expect(refused!.message).toContain(`dfs fsck --meta ${c.meta} --repair`)
      expect(await readFile(live)).toEqual(bytes) // the refused mount cut nothing
      expect((await readdir(c.meta)).filter((n) => n.startsWith('torn-'))).toEqual([])

      const explain = await dfs(['fsck', '--meta', c.meta])
      expect(explain.code).toBe(1)
      expect(explain.stdout).toContain(`journal ${live} is damaged at record `)

      const repair = await dfs(['fsck', '--meta', c.meta, '--repair'])
      expect(repair.stdout, repair.stderr).toContain('metadata repaired')
      expect(repair.stdout).toMatch(/lost: the \d+ operation\(s\) listed above/)
      const backup = (await readdir(c.meta)).find((n) => n.startsWith('backup-'))!
      expect(await readFile(join(c.meta, backup, segments[segments.length - 1]!))).toEqual(bytes)

      d = await c.start({ env })
      const cat = await run('cat', [`${c.mnt}/x`])
      expect(cat.code, cat.stderr).toBe(0)
      await d.stop()
    } finally {
      await c.cleanup()
    }
  }, 240_000)

  it('a real torn tail (a record cut short) is dropped at mount with a warning, and its bytes are kept', async () => {
    const c = makeCluster(2, 'dfs-journal-torn-')
    try {
      let d = await c.start({ replicas: 2, chunkSize: '64k', env })
      // fsync'd: the record is in the journal before the kill (sync(2) does not reach a libfuse2 file system)
      expect((await sh(`printf 'kept\\n' | dd of=${c.mnt}/y conv=fsync status=none`)).code).toBe(0)
      await d.kill9()
      if (isMounted(c.mnt)) await forceUnmount(c.mnt)

      const segments = (await readdir(c.meta)).filter((n) => n.startsWith('journal-')).sort()
      const live = join(c.meta, segments[segments.length - 1]!)
      const whole = await readFile(live)
      const torn = Buffer.from('99 0123456789abcdef {"op":"crea') // a write the crash cut short
      await writeFile(live, Buffer.concat([whole, torn]))

      d = await c.start({ env })
      const cat = await run('cat', [`${c.mnt}/y`])
      expect(cat.stdout).toBe('kept\n')
      expect(d.output()).toMatch(new RegExp(`WARN.*journal ${live}: dropped a torn tail at line \\d+, byte ${whole.length}: ${torn.length} bytes`))
      await d.stop()
      const copies = (await readdir(c.meta)).filter((n) => n.startsWith('torn-'))
      expect(copies).toHaveLength(1)
      expect(await readFile(join(c.meta, copies[0]!))).toEqual(torn)
    } finally {
      await c.cleanup()
    }
  }, 240_000)
})
