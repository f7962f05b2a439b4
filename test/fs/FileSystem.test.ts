import { randomBytes } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { dfsError, isDfsError } from '../../src/errors.js'
import { CHUNK, makeFs, readAll, writeFile } from './fakes.js'

const code = async (promise: Promise<unknown>) => promise.then(() => 'ok', err => (isDfsError(err) ? err.code : String(err)))

describe('file content', () => {
  it('reads back files of sizes around chunk boundaries', async () => {
    const { fs } = makeFs()
    for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 17]) {
      const data = randomBytes(size)
      await writeFile(fs, `/f${size}`, data)
      expect((await fs.getattr(`/f${size}`)).size).toBe(size)
      expect((await readAll(fs, `/f${size}`)).equals(data)).toBe(true)
    }
  })

  it('keeps random overwrites, truncates and holes identical to a model buffer', async () => {
    const { fs, meta, chunks } = makeFs({ dirtyLimit: 4 * CHUNK })
    let model = Buffer.alloc(0)
    const fh = await fs.create('/r', 0o644)
    let seed = 7
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n)
    for (let step = 0; step < 400; step++) {
      const kind = rand(10)
      if (kind < 6) {
        // Mostly small writes, so chunks stay dirty across truncates; some span chunks.
        const at = rand(8 * CHUNK)
        const data = randomBytes(1 + rand(rand(4) === 0 ? 2 * CHUNK : CHUNK / 8))
        await fs.write(fh, data, at)
        if (model.length < at + data.length) model = Buffer.concat([model, Buffer.alloc(at + data.length - model.length)])
        data.copy(model, at)
      } else if (kind < 8) {
        const size = rand(9 * CHUNK)
        await fs.ftruncate(fh, size)
        model = size <= model.length ? model.subarray(0, size) : Buffer.concat([model, Buffer.alloc(size - model.length)])
        model = Buffer.from(model)
      } else if (kind < 9) {
        await fs.flush(fh)
      } else {
        const at = rand(model.length + 1)
        const out = Buffer.alloc(rand(3 * CHUNK))
        const n = await fs.read(fh, out, at)
        expect(out.subarray(0, n).equals(model.subarray(at, at + out.length))).toBe(true)
      }
      // Crash safety: what the journal records never points at bytes past the recorded size.
      const committed = meta.state.inodes.get(2)!
      committed.chunks!.forEach((ref, i) => {
        if (ref) expect(i * CHUNK + ref.len).toBeLessThanOrEqual(committed.size)
      })
    }
    await fs.flush(fh)
    await fs.release(fh)
    expect((await readAll(fs, '/r')).equals(model)).toBe(true)
    // What the journal says equals what is live, and only referenced chunks remain once durable.
    expect(meta.replayed()).toEqual(meta.state)
    await meta.sync()
    const referenced = new Set(meta.state.inodes.get(2)!.chunks!.filter(Boolean).map(ref => ref!.id))
    expect(new Set(chunks.stored.keys())).toEqual(referenced)
  })

  it('reads holes as zeros and stores nothing for them', async () => {
    const { fs, chunks } = makeFs()
    const fh = await fs.create('/sparse', 0o644)
    await fs.write(fh, Buffer.from('end'), 10 * CHUNK)
    await fs.release(fh)
    const data = await readAll(fs, '/sparse')
    expect(data.length).toBe(10 * CHUNK + 3)
    expect(data.subarray(0, 10 * CHUNK).every(b => b === 0)).toBe(true)
    expect(chunks.stored.size).toBe(1)
  })

  it('never exposes old bytes when a shrunk file grows again', async () => {
    const { fs } = makeFs()
    await writeFile(fs, '/t', Buffer.alloc(2 * CHUNK, 0xaa))
    await fs.truncate('/t', 100)
    await fs.truncate('/t', 2 * CHUNK)
    const data = await readAll(fs, '/t')
    expect(data.subarray(0, 100).every(b => b === 0xaa)).toBe(true)
    expect(data.subarray(100).every(b => b === 0)).toBe(true)
  })

  it('zeroes the cut-off tail of a buffered chunk before writes beyond it', async () => {
    const { fs } = makeFs()
    const fh = await fs.create('/z', 0o644)
    await fs.write(fh, Buffer.alloc(CHUNK / 2, 0xbb), 0)
    await fs.ftruncate(fh, 100)
    await fs.write(fh, Buffer.from([1]), 200)
    const out = Buffer.alloc(201)
    expect(await fs.read(fh, out, 0)).toBe(201)
    expect(out.subarray(100, 200).every(b => b === 0)).toBe(true)
    await fs.release(fh)
  })

  it('overwrites copy-on-write and collects the old chunk once durable', async () => {
    const { fs, meta, chunks } = makeFs()
    await writeFile(fs, '/c', Buffer.alloc(CHUNK, 1))
    const before = [...chunks.stored.keys()]
    const fh = await fs.open('/c')
    await fs.write(fh, Buffer.from([2]), 10)
    await fs.release(fh)
    expect(chunks.stored.has(before[0])).toBe(true) // not durable yet: the old chunk must stay
    await meta.sync()
    expect(chunks.stored.has(before[0])).toBe(false)
    const data = await readAll(fs, '/c')
    expect(data[10]).toBe(2)
    expect(data[11]).toBe(1)
  })

  it('stores bytes of a file held open within seconds, without waiting for close', async () => {
    vi.useFakeTimers()
    try {
      const { fs, meta } = makeFs()
      const fh = await fs.create('/open', 0o644)
      await fs.write(fh, Buffer.from('kept open'), 0)
      await vi.advanceTimersByTimeAsync(3_000)
      expect(meta.records.some(r => r.op === 'chunk')).toBe(false)
      await vi.advanceTimersByTimeAsync(4_000)
      expect(meta.records.some(r => r.op === 'chunk')).toBe(true)
      await fs.release(fh)
      fs.close()
    } finally {
      vi.useRealTimers()
    }
  })

  it('fsync makes the written chunks durable on the nodes', async () => {
    const { fs, chunks } = makeFs()
    const fh = await fs.create('/s', 0o644)
    await fs.write(fh, randomBytes(3 * CHUNK), 0)
    await fs.fsync(fh)
    expect(chunks.synced.size).toBe(3)
    await fs.release(fh)
  })

  it('fsync after a chunk was replaced and collected does not ask the nodes for the old one', async () => {
    const { fs, meta, chunks } = makeFs()
    const fh = await fs.create('/again', 0o644)
    await fs.write(fh, Buffer.from('first'), 0)
    await fs.flush(fh)
    await fs.write(fh, Buffer.from('second'), 0)
    await fs.flush(fh)
    await meta.sync() // the first chunk is collected now
    await fs.fsync(fh)
    expect([...chunks.synced].every(id => chunks.stored.has(id))).toBe(true)
    await fs.release(fh)
  })

  it('fsync syncs a chunk where it lives now, after the healer or a balance moved its copies', async () => {
    const { fs, meta, chunks } = makeFs()
    const fh = await fs.create('/moved', 0o644)
    await fs.write(fh, Buffer.from('moving'), 0)
    await fs.flush(fh)
    const ref = meta.state.inodes.get(2)!.chunks![0]!
    meta.commit({ op: 'replicas', ino: 2, index: 0, id: ref.id, nodes: ['n3', 'n4'] })
    const seen: string[][] = []
    const sync = chunks.sync.bind(chunks)
    chunks.sync = async refs => { seen.push(...refs.map(r => [...r.nodes])); return sync(refs) }
    await fs.fsync(fh)
    expect(seen).toEqual([['n3', 'n4']])
    await fs.release(fh)
  })

  it('reports a failed store at flush and keeps the bytes for a retry', async () => {
    const { fs, chunks } = makeFs()
    const fh = await fs.create('/e', 0o644)
    await fs.write(fh, Buffer.from('precious'), 0)
    chunks.failWrites = dfsError('NODE_FULL', 'every node is full', {})
    expect(await code(fs.flush(fh))).toBe('NODE_FULL')
    chunks.failWrites = null
    await fs.flush(fh)
    await fs.release(fh)
    expect((await readAll(fs, '/e')).toString()).toBe('precious')
  })

  describe('a chunk being stored is never written again', () => {
    /** A file of one stored chunk of random bytes, and a gate that holds back reads of it. */
    async function storedChunk() {
      const made = makeFs()
      const base = randomBytes(CHUNK)
      await writeFile(made.fs, '/c', base)
      let open!: () => void
      made.chunks.readGate = new Promise<void>(resolve => (open = resolve))
      const fh = await made.fs.open('/c')
      return { ...made, base, fh, open }
    }

    it('writes waiting on one load, the filling one first, all land and the stored bytes are the hashed ones', async () => {
      const { fs, chunks, base, fh, open } = await storedChunk()
      const expected = Buffer.from(base)
      const piece = CHUNK / 4
      // The first write ends at the chunk's last byte: it seals the chunk as soon as the load is in.
      const writes = [3, 0, 1, 2].map(i => {
        const data = randomBytes(piece)
        data.copy(expected, i * piece)
        return fs.write(fh, data, i * piece)
      })
      await new Promise(resolve => setImmediate(resolve))
      open()
      await Promise.all(writes)
      await fs.flush(fh)
      await fs.release(fh)
      expect(chunks.mismatches).toEqual([])
      expect((await readAll(fs, '/c')).equals(expected)).toBe(true)
    })

    it('bytes handed to a store that failed are never written again (a late put may still read them)', async () => {
      const { fs, chunks } = makeFs()
      const handed: Buffer[] = []
      const write = chunks.write.bind(chunks)
      chunks.write = async (data: Buffer) => {
        handed.push(data)
        return write(data)
      }
      const fh = await fs.create('/f', 0o644)
      await fs.write(fh, Buffer.alloc(1000, 1), 0)
      chunks.failWrites = dfsError('NO_NODES', 'no node answered', {})
      expect(await code(fs.flush(fh))).toBe('NO_NODES')
      const failed = Buffer.from(handed[0]!)
      chunks.failWrites = null
      await fs.write(fh, Buffer.alloc(500, 2), 0) // the next version of the chunk, kept for the retry
      expect(handed[0]!.equals(failed)).toBe(true)
      await fs.flush(fh)
      await fs.release(fh)
      const expected = Buffer.alloc(1000, 1).fill(2, 0, 500)
      expect((await readAll(fs, '/f')).equals(expected)).toBe(true)
    })

    it('a load that raced a whole-chunk write does not bring back the older bytes', async () => {
      const { fs, meta, chunks, fh, open } = await storedChunk()
      const stored = () => meta.state.inodes.get(2)!.chunks![0]!.id
      const before = stored()
      const whole = randomBytes(CHUNK)
      const small = randomBytes(100)
      const partial = fs.write(fh, small, 10) // waits for the stored bytes
      await new Promise(resolve => setImmediate(resolve))
      const filling = fs.write(fh, whole, 0) // needs none of them: fills the chunk, stored while the load waits
      for (let turn = 0; turn < 100 && stored() === before; turn++) await new Promise(resolve => setImmediate(resolve))
      expect(stored()).not.toBe(before)
      open()
      await Promise.all([partial, filling])
      await fs.flush(fh)
      await fs.release(fh)
      const expected = Buffer.from(whole)
      small.copy(expected, 10)
      expect(chunks.mismatches).toEqual([])
      expect((await readAll(fs, '/c')).equals(expected)).toBe(true)
    })
  })

  it('keeps an unlinked file readable until its last close, then frees it', async () => {
    const { fs, meta, chunks } = makeFs()
    await writeFile(fs, '/u', Buffer.from('still here'))
    const fh = await fs.open('/u')
    await fs.unlink('/u')
    expect(await code(fs.getattr('/u'))).toBe('ENOENT')
    const out = Buffer.alloc(10)
    expect(await fs.read(fh, out, 0)).toBe(10)
    expect(out.toString()).toBe('still here')
    await fs.release(fh)
    await meta.sync()
    expect(meta.state.inodes.size).toBe(1)
    expect(chunks.stored.size).toBe(0)
  })
})

describe('namespace', () => {
  it('follows the rename rules', async () => {
    const { fs } = makeFs()
    await fs.mkdir('/a', 0o755)
    await fs.mkdir('/a/b', 0o755)
    await fs.mkdir('/empty', 0o755)
    await writeFile(fs, '/file', Buffer.from('x'))
    expect(await code(fs.rename('/a', '/a/b/c'))).toBe('EINVAL')
    expect(await code(fs.rename('/a', '/a/b'))).toBe('EINVAL')
    expect(await code(fs.rename('/file', '/empty'))).toBe('EISDIR')
    expect(await code(fs.rename('/empty', '/file'))).toBe('ENOTDIR')
    expect(await code(fs.rename('/empty', '/a'))).toBe('ENOTEMPTY')
    expect(await code(fs.rename('/missing', '/x'))).toBe('ENOENT')
    await fs.rename('/a/b', '/empty') // over an empty directory
    expect((await fs.getattr('/a')).nlink).toBe(2)
    expect((await fs.getattr('/')).nlink).toBe(4) // ., a, empty (now b's inode)
    await writeFile(fs, '/other', Buffer.from('yy'))
    await fs.rename('/other', '/file') // over a file, atomically
    expect((await readAll(fs, '/file')).toString()).toBe('yy')
  })

  it('refuses what POSIX refuses', async () => {
    const { fs } = makeFs()
    await fs.mkdir('/d', 0o755)
    await writeFile(fs, '/d/f', Buffer.from('x'))
    expect(await code(fs.rmdir('/d'))).toBe('ENOTEMPTY')
    expect(await code(fs.unlink('/d'))).toBe('EISDIR')
    expect(await code(fs.rmdir('/d/f'))).toBe('ENOTDIR')
    expect(await code(fs.mkdir('/d', 0o755))).toBe('EEXIST')
    expect(await code(fs.mkdir('/d/f/x', 0o755))).toBe('ENOTDIR')
    expect(await code(fs.mkdir('/' + 'n'.repeat(256), 0o755))).toBe('ENAMETOOLONG')
    await fs.mkdir('/' + 'n'.repeat(255), 0o755)
    expect(await code(fs.link('/d', '/dlink'))).toBe('EPERM')
    expect(await code(fs.readlink('/d/f'))).toBe('EINVAL')
  })

  it('counts hard links on one inode', async () => {
    const { fs } = makeFs()
    await writeFile(fs, '/h1', Buffer.from('same'))
    await fs.link('/h1', '/h2')
    const [a, b] = [await fs.getattr('/h1'), await fs.getattr('/h2')]
    expect(a.ino).toBe(b.ino)
    expect(a.nlink).toBe(2)
    await fs.unlink('/h1')
    expect((await fs.getattr('/h2')).nlink).toBe(1)
    expect((await readAll(fs, '/h2')).toString()).toBe('same')
  })

  it('keeps symlinks, modes, owners, times and xattrs', async () => {
    const { fs } = makeFs()
    await fs.symlink('target/path', '/ln')
    expect(await fs.readlink('/ln')).toBe('target/path')
    await writeFile(fs, '/f', Buffer.from('x'))
    await fs.chmod('/f', 0o600)
    await fs.chown('/f', 1000, 0xffffffff)
    await fs.utimens('/f', 1_000_000, 2_000_000)
    const st = await fs.getattr('/f')
    expect(st.mode & 0o7777).toBe(0o600)
    expect(st.uid).toBe(1000)
    expect(st.gid).toBe(0)
    expect(st.mtime).toBe(2_000_000)
    await fs.setxattr('/f', 'user.k', Buffer.from('v'), 0)
    expect((await fs.getxattr('/f', 'user.k')).toString()).toBe('v')
    expect(await code(fs.setxattr('/f', 'user.k', Buffer.from('w'), 1))).toBe('EEXIST')
    expect(await code(fs.setxattr('/f', 'user.n', Buffer.from('w'), 2))).toBe('ENODATA')
    expect(await fs.listxattr('/f')).toEqual(['user.k'])
    await fs.removexattr('/f', 'user.k')
    expect(await code(fs.getxattr('/f', 'user.k'))).toBe('ENODATA')
  })

  it('lists directories with . and ..', async () => {
    const { fs } = makeFs()
    await fs.mkdir('/d', 0o755)
    await writeFile(fs, '/d/x', Buffer.from(''))
    const { names } = await fs.readdir('/d')
    expect(names).toEqual(['.', '..', 'x'])
    expect(await code(fs.readdir('/d/x'))).toBe('ENOTDIR')
  })
})

describe('fsync after a NameNode change that lost the file itself', () => {
  it('reports the loss (EIO, once), not that the inode is unknown (ENOENT)', async () => {
    const { fs, meta, session } = makeFs()
    const fh = await fs.create('/lost', 0o644)
    const ino = meta.state.children.get(1)!.get('lost')!
    await fs.write(fh, randomBytes(100), 0)
    // The new NameNode's history ends before this client's create: the file is not there, and the
    // session's next sync reports the loss, once (client/commitLedger.ts).
    meta.state.inodes.delete(ino)
    meta.state.children.get(1)!.delete('lost')
    let lossReported = false
    const sync = session.sync.bind(session)
    session.sync = async () => {
      if (!lossReported) {
        lossReported = true
        throw dfsError('EIO', 'the NameNode changed and the new one\'s history ends before this client\'s changes', {})
      }
      return sync()
    }
    await expect(fs.fsync(fh)).rejects.toMatchObject({ code: 'EIO', message: /history ends before this client's changes/ })
  })
})
