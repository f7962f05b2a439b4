// A file one client holds open while another client removes or renames its name: the holder's
// kernel still asks for it by the old name (libfuse 2 names files by path; fstat comes as a getattr
// of the path), so the holder answers for its own open file. A name the holder removed itself is
// gone for it at once, as POSIX says.

import { describe, expect, it } from 'vitest'
import { makeClients, writeFile } from './fakes.js'

describe('a held file whose name another client removed', () => {
  it('still stats by its old name on the client holding it, until that client closes it', async () => {
    const { clients: [a, b] } = makeClients(2)
    await writeFile(a.fs, '/f', Buffer.from('hello'))
    const fh = await b.fs.open('/f')
    await a.fs.unlink('/f')
    expect((await b.fs.getattr('/f')).size).toBe(5)
    await expect(a.fs.getattr('/f')).rejects.toMatchObject({ code: 'ENOENT' })
    await b.fs.release(fh)
    await expect(b.fs.getattr('/f')).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('a new file under the name wins, and a name the holder removed itself is gone for it', async () => {
    const { clients: [a, b] } = makeClients(2)
    await writeFile(a.fs, '/f', Buffer.from('old'))
    const fh = await b.fs.open('/f')
    await a.fs.rename('/f', '/g')
    await writeFile(a.fs, '/f', Buffer.from('newer'))
    expect((await b.fs.getattr('/f')).size).toBe(5)
    await a.fs.unlink('/f')
    expect((await b.fs.getattr('/f')).size).toBe(3) // back to b's own open file
    await b.fs.rename('/g', '/h')
    const fh2 = await b.fs.open('/h')
    await b.fs.unlink('/h')
    await expect(b.fs.getattr('/h')).rejects.toMatchObject({ code: 'ENOENT' })
    await b.fs.release(fh)
    await b.fs.release(fh2)
  })

  it('a file in a folder the holder moved or renamed itself is gone under the folder\'s old path', async () => {
    // The holder's kernel saw the move (libfuse renames its node, so the open file is asked for by
    // its new path): a new folder under the old name must not show the open file inside it.
    const { clients: [a] } = makeClients(1)
    await a.fs.mkdir('/d1', 0o755)
    await a.fs.mkdir('/d1/sub', 0o755)
    await writeFile(a.fs, '/d1/f', Buffer.from('hello'))
    await writeFile(a.fs, '/d1/sub/g', Buffer.from('hi'))
    const fh = await a.fs.open('/d1/f')
    const fh2 = await a.fs.open('/d1/sub/g')
    await a.fs.rename('/d1', '/d2')
    await a.fs.mkdir('/d1', 0o755)
    await a.fs.mkdir('/d1/sub', 0o755)
    await expect(a.fs.getattr('/d1/f')).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(a.fs.getattr('/d1/sub/g')).rejects.toMatchObject({ code: 'ENOENT' })
    expect((await a.fs.getattr('/d2/f')).size).toBe(5)
    expect((await a.fs.getattr('/d2/sub/g')).size).toBe(2)
    await a.fs.release(fh)
    await a.fs.release(fh2)
  })
})
