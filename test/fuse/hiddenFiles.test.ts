// libfuse 2's hidden files (src/fuse/hiddenFiles.ts) over the real FileSystem core with in-memory
// stores, no FUSE: the calls are the ones libfuse 2 makes (rename to .fuse_hidden*, getattr of the
// hidden name, unlink of it at the last close), and the results are what a local disk shows.

import { describe, expect, it } from 'vitest'
import { FUSE_HIDDEN, LibfuseHiddenFiles } from '../../src/fuse/hiddenFiles.js'
import { makeFs, readAll } from '../fs/fakes.js'

const HIDDEN = '.fuse_hidden0000002a00000001'

function setup() {
  const made = makeFs()
  return { ...made, hidden: new LibfuseHiddenFiles(made.fs) }
}

async function names(fs: ReturnType<typeof makeFs>['fs'], dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).names.filter(n => n !== '.' && n !== '..')
}

describe('libfuse 2 hidden files', () => {
  it('knows the name libfuse 2.9 makes', () => {
    expect(FUSE_HIDDEN.test(HIDDEN)).toBe(true)
    for (const other of ['.fuse_hidden', '.fuse_hidden0000002a0000000', '.fuse_hidden0000002A00000001', 'x.fuse_hidden0000002a00000001']) {
      expect(FUSE_HIDDEN.test(other), other).toBe(false)
    }
  })

  it('takes the hide of an open file as its unlink: the name goes, the file lives on until the last close', async () => {
    const { fs, hidden, meta } = setup()
    await fs.mkdir('/d', 0o755)
    const fh = await fs.create('/d/f', 0o644)
    await fs.write(fh, Buffer.from('still here'), 0)

    await hidden.rename('/d/f', `/d/${HIDDEN}`)
    expect(meta.records.at(-1)).toMatchObject({ op: 'unlink', name: 'f' }) // journaled as the unlink it stands for
    expect(await names(fs, '/d')).toEqual([]) // neither the old name nor the hidden one is listed
    // libfuse still reaches the file under the hidden name; it takes one off nlink for the hidden name.
    const stat = await hidden.getattr(`/d/${HIDDEN}`)
    expect(stat.nlink).toBe(1)
    expect(stat.size).toBe(10)
    const out = Buffer.alloc(100)
    expect(out.subarray(0, await fs.read(fh, out, 0)).toString()).toBe('still here')

    // The last close forgets the nameless inode, and its hidden name with it. libfuse unlinks the
    // hidden name after that release; the ENOENT it gets is ignored by libfuse.
    await fs.release(fh)
    expect(hidden.size).toBe(0)
    await expect(hidden.getattr(`/d/${HIDDEN}`)).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(hidden.unlink(`/d/${HIDDEN}`)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('drops the hidden name of a file that has another name at libfuse\'s unlink, leaving that name', async () => {
    const { fs, hidden } = setup()
    const fh = await fs.create('/f', 0o644)
    await fs.link('/f', '/g')
    await hidden.rename('/f', `/${HIDDEN}`)
    expect((await hidden.getattr(`/${HIDDEN}`)).nlink).toBe(2) // g, plus the one libfuse takes off
    await fs.release(fh)
    await hidden.unlink(`/${HIDDEN}`) // the name was gone already: nothing to do
    expect(hidden.size).toBe(0)
    expect(await names(fs, '/')).toEqual(['g'])
    expect((await fs.getattr('/g')).nlink).toBe(1)
  })

  it('lets the folder of a hidden file be removed while the file is open', async () => {
    const { fs, hidden } = setup()
    await fs.mkdir('/d', 0o755)
    const fh = await fs.create('/d/f', 0o644)
    await hidden.rename('/d/f', `/d/${HIDDEN}`)
    await fs.rmdir('/d')
    await fs.release(fh)
    expect(hidden.size).toBe(0) // the inode was forgotten at its last close, and its hidden name with it
  })

  it('leaves a rename to such a name alone when the file is not open, or the name is taken', async () => {
    const { fs, hidden } = setup()
    await fs.release(await fs.create('/closed', 0o644))
    await hidden.rename('/closed', `/${HIDDEN}`)
    expect(await names(fs, '/')).toEqual([HIDDEN]) // an ordinary rename
    expect(hidden.size).toBe(0)

    const fh = await fs.create('/open', 0o644)
    await hidden.rename('/open', `/${HIDDEN}`) // taken: rename over it, as asked
    expect(await names(fs, '/')).toEqual([HIDDEN])
    expect(hidden.size).toBe(0)
    await fs.release(fh)
  })

  it('passes other unlinks and renames through', async () => {
    const { fs, hidden } = setup()
    await fs.release(await fs.create('/a', 0o644))
    await hidden.rename('/a', '/b')
    expect(await names(fs, '/')).toEqual(['b'])
    await hidden.unlink('/b')
    expect(await names(fs, '/')).toEqual([])
    await expect(hidden.unlink(`/${HIDDEN}`)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('undoes libfuse\'s hide when it is the first half of rename(a, b) with b a hard link of a: nothing changes', async () => {
    const { fs, hidden } = setup()
    const fh = await fs.create('/a', 0o644)
    await fs.link('/a', '/b')
    const before = { a: await fs.getattr('/a'), dir: await fs.getattr('/') }
    // libfuse: b is open, so it hides b, then renames a to b.
    await hidden.rename('/b', `/${HIDDEN}`)
    await hidden.rename('/a', '/b')
    expect((await names(fs, '/')).sort()).toEqual(['a', 'b'])
    const after = { a: await fs.getattr('/a'), dir: await fs.getattr('/') }
    expect(after.a.nlink).toBe(2)
    expect(after.a.ctime).toBe(before.a.ctime)
    expect({ mtime: after.dir.mtime, ctime: after.dir.ctime }).toEqual({ mtime: before.dir.mtime, ctime: before.dir.ctime })
    await fs.release(fh)
  })

  it('does as asked when a lookup came between (a program\'s own unlink(b) then rename(a, b))', async () => {
    const { fs, hidden } = setup()
    const fh = await fs.create('/a', 0o644)
    await fs.link('/a', '/b')
    await hidden.rename('/b', `/${HIDDEN}`)
    await hidden.getattr('/b').catch(() => {}) // the kernel looks b up first
    await hidden.rename('/a', '/b')
    expect(await names(fs, '/')).toEqual(['b'])
    await fs.release(fh)
  })

  it('reads back the bytes of a hidden file through a new open of its hidden name', async () => {
    const { fs, hidden } = setup()
    const fh = await fs.create('/f', 0o644)
    await fs.write(fh, Buffer.from('kept'), 0)
    await hidden.rename('/f', `/${HIDDEN}`)
    expect((await readAll(fs, `/${HIDDEN}`)).toString()).toBe('kept')
    await fs.release(fh)
  })
})
