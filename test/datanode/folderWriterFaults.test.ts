// The folder writer thread (folderWriter.ts) under a failing disk: a close() that fails releases the
// descriptor anyway (close(2)), so it must never be closed a second time (another thread of the
// process may own that number by then: a sync-behind descriptor would then fdatasync the wrong
// file); a sync goes on past a path that fails; and a node's close fails the puts its thread holds
// even while a hung disk blocks the thread.

import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { WORKER_SOURCE } from '../../src/datanode/folderWriter.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { sha256Of } from '../helpers/sha256.js'

/** Run the thread's code with a stand-in fs and port; returns what it replied and the calls it made. */
function runWorkerSource(fs: Record<string, (...args: unknown[]) => unknown>, message: unknown) {
  const replies: unknown[] = []
  let onMessage: ((m: unknown) => void) | undefined
  const parentPort = { on: (_: string, f: (m: unknown) => void) => (onMessage = f), postMessage: (m: unknown) => replies.push(m) }
  const fakeRequire = (name: string) => (name === 'node:worker_threads' ? { parentPort } : name === 'node:fs' ? fs : undefined)
  new Function('require', WORKER_SOURCE)(fakeRequire)
  onMessage!(message)
  return replies
}

describe('the folder writer thread on a failing disk', () => {
  const cleanups: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f()
  })

  it('closes a descriptor once, even when its close fails (EIO from NFS or FUSE)', () => {
    const closed: unknown[] = []
    const unlinked: unknown[] = []
    const fs = {
      openSync: () => 42,
      writeSync: (_fd: unknown, data: unknown, off: unknown, len: unknown) => len as number,
      closeSync: (fd: unknown) => {
        closed.push(fd)
        if (closed.length === 1) throw Object.assign(new Error('EIO: i/o error, close'), { code: 'EIO', syscall: 'close' })
      },
      unlinkSync: (p: unknown) => unlinked.push(p),
    }
    const replies = runWorkerSource(fs, { id: 1, path: '/n/c/ab/x', data: new Uint8Array(10) })
    expect(closed).toEqual([42])
    // A file whose close failed is not trusted: it goes.
    expect(unlinked).toEqual(['/n/c/ab/x'])
    expect(replies).toEqual([{ id: 1, error: expect.objectContaining({ code: 'EIO', syscall: 'close' }) }])
  })

  it('syncs every path of a group, past one that fails, and says which failed', () => {
    const fds = new Map<unknown, number>()
    const synced: unknown[] = []
    const closed: unknown[] = []
    const fs = {
      openSync: (path: unknown) => {
        if (path === '/n/gone') throw Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT', syscall: 'open', path })
        fds.set(path, fds.size + 10)
        return fds.get(path)!
      },
      fsyncSync: (fd: unknown) => {
        synced.push(fd)
      },
      closeSync: (fd: unknown) => {
        closed.push(fd)
      },
    }
    const replies = runWorkerSource(fs, { id: 7, syncPaths: ['/n/a', '/n/gone', '/n/b', '/n'] })
    expect(synced).toEqual([fds.get('/n/a'), fds.get('/n/b'), fds.get('/n')])
    expect(closed).toEqual(synced)
    expect(replies).toEqual([{ id: 7, result: { failures: [{ index: 1, error: expect.objectContaining({ code: 'ENOENT', syscall: 'open', path: '/n/gone' }) }] } }])
  })

  it('never removes a file it did not make: a name that exists already is refused (EEXIST) and left as it was', () => {
    const unlinked: unknown[] = []
    const fs = {
      openSync: () => {
        throw Object.assign(new Error('EEXIST: file already exists, open'), { code: 'EEXIST', syscall: 'open' })
      },
      unlinkSync: (p: unknown) => unlinked.push(p),
    }
    const replies = runWorkerSource(fs, { id: 1, path: '/n/c/ab/x', data: new Uint8Array(10) })
    expect(unlinked).toEqual([])
    expect(replies).toEqual([{ id: 1, error: expect.objectContaining({ code: 'EEXIST', syscall: 'open' }) }])
  })

  it('fails a put in flight when the node closes, though a hung (frozen) disk blocks its thread', async () => {
    const base = await mkdtemp(join(tmpdir(), 'dfs-frozen-'))
    cleanups.push(() => rm(base, { recursive: true, force: true }))
    const image = join(base, 'disk.img')
    const mnt = join(base, 'mnt')
    await mkdir(mnt)
    await writeFile(image, '')
    await truncate(image, 32 << 20)
    execFileSync('mkfs.ext4', ['-q', '-F', image])
    execFileSync('mount', ['-o', 'loop', image, mnt])
    // Lazy: the thread the thaw lets go may still be in the folder for a moment.
    cleanups.push(() => { execFileSync('umount', ['-l', mnt]) })
    const dir = join(mnt, 'node')
    await mkdir(dir)
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    execFileSync('fsfreeze', ['-f', mnt])
    // Thawed before the unmount, whatever happens: the blocked thread then finishes and exits.
    cleanups.push(() => { execFileSync('fsfreeze', ['-u', mnt]) })
    const data = Buffer.from('blocked')
    const put = node.put(newChunkId(), data, sha256Of(data), { fresh: true })
    const settled = put.then(() => 'resolved', (err: { code?: string }) => err.code)
    // The put is with the thread (its hash checked, its message sent) before the node closes.
    await new Promise((resolve) => setTimeout(resolve, 200))
    await node.close()
    expect(await settled).toBe('NODE_UNAVAILABLE')
  })
})
