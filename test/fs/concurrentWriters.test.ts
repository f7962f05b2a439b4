// Several clients writing one file (issue 8, "Concurrent writers"): each client is its own
// FileSystem with its own open files and buffers, all over one NameNode and one set of chunks. A
// chunk commit names the version it started from; a refused one rebases this client's own ranges.

import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { isDfsError, posixCodeOf } from '../../src/errors.js'
import type { FileSystem } from '../../src/fs/FileSystem.js'
import { namespaceMachine } from '../../src/meta/namespace/machine.js'
import type { NamespaceRecord } from '../../src/meta/namespace/records.js'
import type { ChunkRef } from '../../src/meta/namespace/types.js'
import { CHUNK, type MemoryStore, makeClients, readAll, writeFile } from './fakes.js'

let stores: MemoryStore[] = []
afterEach(() => {
  // Whatever a test did, the journal replays to exactly the live namespace.
  for (const meta of stores) expect(meta.replayed()).toEqual(meta.state)
  stores = []
})

function cluster(count = 2) {
  const made = makeClients(count)
  stores.push(made.meta)
  return { ...made, fs: made.clients.map(c => c.fs) }
}

async function writeAt(fs: FileSystem, fh: number, at: number, data: Buffer): Promise<void> {
  expect(await fs.write(fh, data, at)).toBe(data.length)
}

/** The file as a model: `base` with each [at, data] written over it (growing it as needed). */
function model(base: Buffer, ...writes: [number, Buffer][]): Buffer {
  let out = Buffer.from(base)
  for (const [at, data] of writes) {
    if (out.length < at + data.length) out = Buffer.concat([out, Buffer.alloc(at + data.length - out.length)])
    data.copy(out, at)
  }
  return out
}

describe('disjoint writers', () => {
  it('keep both ranges within one chunk', async () => {
    const { fs: [a, b] } = cluster()
    const base = randomBytes(2 * CHUNK)
    await writeFile(a, '/f', base)
    const fa = await a.open('/f')
    const fb = await b.open('/f')
    const x = randomBytes(100)
    const y = randomBytes(300)
    await writeAt(a, fa, 100, x)
    await writeAt(b, fb, 5000, y)
    await a.release(fa)
    await b.release(fb) // its chunk 0 started from the version A just replaced: rebased, not lost
    const want = model(base, [100, x], [5000, y])
    expect((await readAll(a, '/f')).equals(want)).toBe(true)
    expect((await readAll(b, '/f')).equals(want)).toBe(true)
  })

  it('keep both ranges across chunks, and in a chunk both add to the end of the file', async () => {
    const { fs: [a, b] } = cluster()
    const base = randomBytes(CHUNK + 10)
    await writeFile(a, '/f', base)
    const fa = await a.open('/f')
    const fb = await b.open('/f')
    const x = randomBytes(CHUNK) // chunks 0 and 1
    const y = randomBytes(50) // chunk 2, a new one
    const z = randomBytes(70) // chunk 2 too, after y
    await writeAt(a, fa, CHUNK / 2, x)
    await writeAt(a, fa, 2 * CHUNK + 10, y)
    await writeAt(b, fb, 2 * CHUNK + 500, z)
    await writeAt(b, fb, 3, Buffer.from('b'))
    await b.fsync(fb)
    await a.release(fa)
    await b.release(fb)
    const want = model(base, [3, Buffer.from('b')], [CHUNK / 2, x], [2 * CHUNK + 10, y], [2 * CHUNK + 500, z])
    expect((await readAll(b, '/f')).equals(want)).toBe(true)
    expect((await b.getattr('/f')).size).toBe(2 * CHUNK + 570)
  })

  it('many clients writing their own stripes of one chunk each keep theirs', async () => {
    const { fs } = cluster(5)
    await writeFile(fs[0], '/f', Buffer.alloc(0))
    const handles = await Promise.all(fs.map(f => f.open('/f')))
    const stripes = fs.map(() => randomBytes(777))
    // Interleaved: every client writes, then all close at once (their commits race at the NameNode).
    for (const [i, f] of fs.entries()) await writeAt(f, handles[i], i * 1000, stripes[i])
    await Promise.all(fs.map((f, i) => f.release(handles[i])))
    const want = model(Buffer.alloc(0), ...stripes.map((s, i) => [i * 1000, s] as [number, Buffer]))
    expect((await readAll(fs[2], '/f')).equals(want)).toBe(true)
  })
})

describe('disjoint writers, randomized', () => {
  it('clients writing their own stripes at random, flushing at random, leave every stripe intact', async () => {
    const seed0 = 11
    let seed = seed0
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n)
    const { fs, clients } = cluster(3)
    let conflicts = 0
    for (const { session } of clients) {
      const commit = session.commit.bind(session)
      session.commit = (record, options) => commit(record, options).catch(err => {
        if (isDfsError(err, 'CHUNK_CONFLICT')) conflicts++
        throw err
      })
    }
    const STRIPE = 3000 // client k owns the stripes i with i % 3 === k
    await writeFile(fs[0], '/f', Buffer.alloc(0))
    const handles = await Promise.all(fs.map(f => f.open('/f')))
    let want: Buffer = Buffer.alloc(0)
    for (let step = 0; step < 150; step++) {
      // Every client does one thing at once, so seals, rebases and commits overlap.
      await Promise.all(fs.map(async (f, k) => {
        const kind = rand(10)
        if (kind < 7) {
          const stripe = rand(Math.floor(4 * CHUNK / STRIPE)) * 3 + k
          const from = stripe * STRIPE + rand(STRIPE)
          const data = randomBytes(1 + rand(stripe * STRIPE + STRIPE - from))
          want = model(want, [from, data])
          await writeAt(f, handles[k], from, data)
        } else if (kind < 9) {
          await f.flush(handles[k])
        } else {
          await f.fsync(handles[k])
        }
      }))
    }
    await Promise.all(fs.map((f, k) => f.release(handles[k])))
    expect((await readAll(fs[1], '/f')).equals(want), `seed ${seed0}`).toBe(true)
    expect(conflicts).toBeGreaterThan(0) // the rebase path ran
  })
})

describe('overlapping writers', () => {
  it('the last close wins for the overlap, either way round', async () => {
    for (const aLast of [true, false]) {
      const { fs: [a, b] } = cluster()
      const base = randomBytes(CHUNK)
      await writeFile(a, '/f', base)
      const fa = await a.open('/f')
      const fb = await b.open('/f')
      const x = Buffer.alloc(200, 0xa)
      const y = Buffer.alloc(200, 0xb)
      await writeAt(a, fa, 100, x)
      await writeAt(b, fb, 200, y)
      const [first, second] = aLast ? [[b, fb], [a, fa]] as const : [[a, fa], [b, fb]] as const
      await first[0].release(first[1])
      await second[0].release(second[1])
      const want = aLast ? model(base, [200, y], [100, x]) : model(base, [100, x], [200, y])
      expect((await readAll(a, '/f')).equals(want)).toBe(true)
    }
  })
})

describe('the size with several writers', () => {
  it('a writer that closes last does not shrink what another grew', async () => {
    const { fs: [a, b] } = cluster()
    const base = randomBytes(1000)
    await writeFile(a, '/f', base)
    const fa = await a.open('/f')
    const fb = await b.open('/f')
    const tail = randomBytes(3 * CHUNK)
    await writeAt(a, fa, 1000, tail)
    await a.release(fa)
    await writeAt(b, fb, 10, Buffer.from('early'))
    await b.release(fb)
    expect((await b.getattr('/f')).size).toBe(1000 + 3 * CHUNK)
    expect((await readAll(b, '/f')).equals(model(base, [1000, tail], [10, Buffer.from('early')]))).toBe(true)
  })

  it('a reader that had the file open before another grew it sees the new size and bytes', async () => {
    const { fs: [a, b] } = cluster()
    await writeFile(a, '/f', Buffer.from('short'))
    const fb = await b.open('/f')
    const more = randomBytes(CHUNK)
    const fa = await a.open('/f')
    await writeAt(a, fa, 5, more)
    await a.release(fa)
    expect((await b.getattr('/f')).size).toBe(5 + CHUNK)
    const out = Buffer.alloc(CHUNK + 5)
    expect(await b.read(fb, out, 0)).toBe(CHUNK + 5)
    expect(out.equals(Buffer.concat([Buffer.from('short'), more]))).toBe(true)
    await b.release(fb)
  })

  it('a client with the file open sees the modification time another client\'s close recorded', async () => {
    const { fs: [a, b] } = cluster()
    await writeFile(a, '/f', Buffer.from('x'))
    const fb = await b.open('/f')
    const fa = await a.open('/f')
    await writeAt(a, fa, 0, Buffer.from('y'))
    await a.utimens('/f', undefined, 1_000_000_000_000) // a time B's own view never had
    await a.release(fa)
    expect((await b.getattr('/f')).mtime).toBe(1_000_000_000_000)
    await b.release(fb)
    expect((await a.getattr('/f')).mtime).toBe(1_000_000_000_000)
  })

  it('an explicit truncate still shrinks the file, and a client that had it open does not grow it back', async () => {
    const { fs: [a, b] } = cluster()
    const base = randomBytes(2 * CHUNK)
    await writeFile(a, '/f', base)
    const fa = await a.open('/f')
    await a.read(fa, Buffer.alloc(10), 0)
    await b.truncate('/f', 10)
    expect((await a.getattr('/f')).size).toBe(10)
    await a.flush(fa)
    await a.release(fa)
    expect((await b.getattr('/f')).size).toBe(10)
    expect((await readAll(b, '/f')).equals(base.subarray(0, 10))).toBe(true)
  })

  it('a truncate that meant to grow the file, raced by another client growing it further, cuts it exactly', async () => {
    const { clients: [ca, cb], meta, chunks } = cluster()
    const [a, b] = [ca.fs, cb.fs]
    await writeFile(a, '/f', Buffer.alloc(100, 1))
    const ino = (await a.getattr('/f')).ino
    const grown = randomBytes(10_000)
    // B's growth reaches the NameNode just before A's truncate (over TCP, before A's state has it).
    const commit = ca.session.commit.bind(ca.session)
    let raced = false
    ca.session.commit = async (record, options) => {
      if (!raced && record.op === 'truncate') {
        raced = true
        const ref = await chunks.write(grown)
        const current = meta.state.inodes.get(ino)!.chunks![0]!
        await cb.session.commit({ op: 'chunk', ino, index: 0, ref, base: current.id, size: grown.length, grow: true, mtime: 1, ctime: 1 })
      }
      return commit(record, options)
    }
    await a.truncate('/f', 5000) // A saw 100 bytes: a grow, keeping chunk 0 as it was
    expect(raced).toBe(true)
    expect((await b.getattr('/f')).size).toBe(5000)
    // Chunk 0 holds nothing past the new end, so growing the file again shows zeros, not B's old bytes.
    const stored = meta.state.inodes.get(ino)!.chunks!
    expect(stored.every(ref => !ref || ref.len <= 5000)).toBe(true)
    await b.truncate('/f', 10_000)
    expect((await readAll(b, '/f')).equals(Buffer.concat([grown.subarray(0, 5000), Buffer.alloc(5000)]))).toBe(true)
  })

  it('writes committed after another client truncated land after the truncate', async () => {
    const { fs: [a, b] } = cluster()
    const base = randomBytes(2 * CHUNK)
    await writeFile(a, '/f', base)
    const fa = await a.open('/f')
    const x = randomBytes(100)
    await writeAt(a, fa, CHUNK + 100, x) // chunk 1, loaded from the version the truncate drops
    await b.truncate('/f', CHUNK + 50) // keeps 50 bytes of chunk 1
    await a.release(fa)
    const want = model(base.subarray(0, CHUNK + 50), [CHUNK + 100, x])
    expect((await readAll(b, '/f')).equals(want)).toBe(true)
  })

  it('the truncating client keeps the bytes below the cut even when another stored the chunk first', async () => {
    const { fs: [a, b] } = cluster()
    const base = randomBytes(CHUNK)
    await writeFile(a, '/f', base)
    const fb = await b.open('/f')
    await b.ftruncate(fb, 500) // chunk 0 dropped; its first 500 bytes wait in B's buffer
    const fa = await a.open('/f')
    const x = randomBytes(100)
    await writeAt(a, fa, 1000, x)
    await a.release(fa) // A's chunk 0: zeros below 1000 (a hole in the namespace now), then x
    await b.release(fb) // B rebases its 500 bytes onto A's version
    expect((await readAll(a, '/f')).equals(model(base.subarray(0, 500), [1000, x]))).toBe(true)
  })
})

describe('reading a chunk another client replaces meanwhile', () => {
  it('a write that had to read the chunk reads the new version when the old one is deleted under it', async () => {
    const { fs: [a, b], chunks, meta } = cluster()
    await writeFile(a, '/f', Buffer.alloc(CHUNK, 1))
    const fa = await a.open('/f')
    let arrive!: () => void
    chunks.readGate = new Promise<void>(resolve => { arrive = resolve })
    const writing = a.write(fa, Buffer.from('mine'), 10) // reads chunk 0 first: held at the gate
    const fb = await b.open('/f')
    const theirs = Buffer.alloc(CHUNK, 2)
    await writeAt(b, fb, 0, theirs) // a whole chunk: no read
    await b.release(fb)
    await meta.sync() // durable: the NameNode deletes the version A is reading
    chunks.readGate = null
    arrive()
    expect(await writing).toBe(4)
    await a.release(fa)
    expect((await readAll(b, '/f')).equals(model(theirs, [10, Buffer.from('mine')]))).toBe(true)
  })
})

describe('rebasing', () => {
  it('a seal that starts from another seal in flight needs no rebase once that one commits', async () => {
    const { fs: [a], chunks } = cluster(1)
    const fa = await a.create('/f', 0o644)
    await writeAt(a, fa, 0, Buffer.alloc(100, 1))
    const first = a.flush(fa) // chunk 0 being stored
    await writeAt(a, fa, 100, Buffer.alloc(100, 2)) // the next version, made from the one in flight
    await first
    await a.release(fa)
    expect(chunks.writes).toBe(2) // a rebase would have stored a third
    expect((await readAll(a, '/f')).equals(Buffer.concat([Buffer.alloc(100, 1), Buffer.alloc(100, 2)]))).toBe(true)
  })

  it('gives up after bounded retries while others keep replacing the chunk, keeps the bytes, and stores them later', async () => {
    const { clients: [ca, cb], meta, chunks } = cluster()
    const [a, b] = [ca.fs, cb.fs]
    await writeFile(a, '/f', Buffer.alloc(1000, 7))
    const ino = (await a.getattr('/f')).ino
    // Before each of A's chunk commits, B's client replaces chunk 0 with a version of its own.
    let interfere = true
    let replaced = 0
    const commit = ca.session.commit.bind(ca.session)
    ca.session.commit = async (record, options) => {
      if (interfere && record.op === 'chunk') {
        const ref = await chunks.write(Buffer.alloc(1000, 9))
        const current = meta.state.inodes.get(ino)!.chunks![0]!
        await cb.session.commit({ op: 'chunk', ino, index: 0, ref, base: current.id, size: 1000, grow: true, mtime: 1, ctime: 1 })
        replaced++
      }
      return commit(record, options)
    }
    const fa = await a.open('/f')
    await writeAt(a, fa, 10, Buffer.from('mine'))
    const failed = await a.flush(fa).then(() => null, err => err)
    expect(isDfsError(failed, 'CHUNK_CONFLICT')).toBe(true)
    expect(posixCodeOf(failed)).toBe('EIO')
    expect(replaced).toBe(8)
    interfere = false
    await a.release(fa)
    const want = model(Buffer.alloc(1000, 9), [10, Buffer.from('mine')])
    expect((await readAll(b, '/f')).equals(want)).toBe(true)
    // Every refused version was abandoned: only the chunk the file names is left once durable.
    await meta.sync()
    expect([...chunks.stored.keys()]).toEqual([meta.state.inodes.get(ino)!.chunks![0]!.id])
  })
})

describe('records', () => {
  const machine = namespaceMachine({ uid: 0, gid: 0, createdAt: 0 })
  const ref = (id: string, len: number): ChunkRef => ({ id, len, sha256: '0'.repeat(64), nodes: ['n1'] })
  const file = (): NamespaceRecord[] => [
    { op: 'mknod', parent: 1, name: 'f', mode: 0o100644, uid: 0, gid: 0, time: 1 },
    { op: 'chunk', ino: 2, index: 0, ref: ref('a'.repeat(32), 100), size: 5000, mtime: 2, ctime: 2 },
  ]

  it('old-format chunk and truncate records (no base, no grow) replay with their exact sizes', () => {
    const state = machine.empty()
    for (const rec of [
      ...file(),
      { op: 'chunk', ino: 2, index: 1, ref: null, size: 300, mtime: 3, ctime: 3 },
      { op: 'truncate', ino: 2, size: 40, keep: 1, mtime: 4, ctime: 4 },
      { op: 'truncate', ino: 2, size: 4000, keep: 1, mtime: 5, ctime: 5 },
    ] as NamespaceRecord[]) machine.apply(state, rec)
    const inode = state.inodes.get(2)!
    expect(inode.size).toBe(4000)
    expect(inode.chunks!.map(r => r?.id ?? null)).toEqual(['a'.repeat(32)])
    const shrunk = machine.empty()
    for (const rec of [...file(), { op: 'chunk', ino: 2, index: 0, ref: ref('b'.repeat(32), 10), size: 10, mtime: 3, ctime: 3 }] as NamespaceRecord[]) {
      machine.apply(shrunk, rec)
    }
    expect(shrunk.inodes.get(2)!.size).toBe(10)
  })

  it('a writer\'s records only grow the size; a chunk record whose base is gone is refused and changes nothing', () => {
    const state = machine.empty()
    for (const rec of file()) machine.apply(state, rec)
    machine.apply(state, { op: 'chunk', ino: 2, index: 0, ref: ref('b'.repeat(32), 10), base: 'a'.repeat(32), size: 10, grow: true, mtime: 3, ctime: 3 })
    expect(state.inodes.get(2)!.size).toBe(5000)
    machine.apply(state, { op: 'truncate', ino: 2, size: 20, keep: 0, grow: true, mtime: 4, ctime: 4 })
    expect(state.inodes.get(2)!.size).toBe(5000)
    expect(state.inodes.get(2)!.chunks!.length).toBe(1) // a size record drops nothing
    const before = state.inodes.get(2)
    let refused: unknown
    try {
      machine.apply(state, { op: 'chunk', ino: 2, index: 0, ref: ref('c'.repeat(32), 10), base: 'a'.repeat(32), size: 9000, grow: true, mtime: 5, ctime: 5 })
    } catch (err) {
      refused = err
    }
    expect(isDfsError(refused, 'CHUNK_CONFLICT')).toBe(true)
    expect(state.inodes.get(2)).toBe(before)
    // A hole is a base too: a new chunk that another client made first is a conflict.
    expect(() => machine.apply(state, { op: 'chunk', ino: 2, index: 3, ref: null, base: 'b'.repeat(32), size: 0, grow: true, mtime: 6, ctime: 6 }))
      .toThrow(/no longer/)
    machine.apply(state, { op: 'chunk', ino: 2, index: 3, ref: ref('d'.repeat(32), 1), base: null, size: 0, grow: true, mtime: 6, ctime: 6 })
    expect(state.inodes.get(2)!.chunks!.map(r => r?.id ?? null)).toEqual(['b'.repeat(32), null, null, 'd'.repeat(32)])
    // An explicit truncate that keeps the chunk its new end falls in names it too.
    expect(() => machine.apply(state, { op: 'truncate', ino: 2, size: 30, keep: 1, base: 'a'.repeat(32), mtime: 7, ctime: 7 }))
      .toThrow(/no longer/)
    machine.apply(state, { op: 'truncate', ino: 2, size: 30, keep: 1, base: 'b'.repeat(32), mtime: 7, ctime: 7 })
    expect(state.inodes.get(2)!.size).toBe(30)
  })
})
