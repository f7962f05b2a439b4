// Close-to-open between two clients of one NameNode when the opener's copy of the namespace still
// names an inode another client has since replaced (rename over it): the open must give the new
// file, whether the old inode is gone at the NameNode (`opened` fails: ENOENT) or kept alive by
// the opener's own open handle (`opened` succeeds; the name leads elsewhere once fresh).

import { afterEach, describe, expect, it } from 'vitest'
import type { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import type { FileSystem } from '../../src/fs/FileSystem.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { startTestNameNode, type RunningNameNode } from '../namenode/fixtures.js'
import { closeAll, tcpClient } from './tcpClients.js'

let running: RunningNameNode | undefined
const remotes: RemoteNameNode[] = []
afterEach(async () => {
  await closeAll(remotes, running)
  running = undefined
})

async function client(): Promise<FileSystem> {
  return (await tcpClient(running!, remotes)).fs
}

async function writeFile(fs: FileSystem, path: string, text: string): Promise<void> {
  const fh = await fs.create(path, 0o644)
  await fs.write(fh, Buffer.from(text), 0)
  await fs.flush(fh)
  await fs.release(fh)
}

async function readFile(fs: FileSystem, fh: number): Promise<string> {
  const out = Buffer.alloc(64)
  return out.subarray(0, await fs.read(fh, out, 0)).toString()
}

describe('open of a name another client replaced', () => {
  for (const holdOld of [false, true]) {
    it(`gives the new file${holdOld ? ', the old one held open by the opener' : ''}`, async () => {
      running = await startTestNameNode(tempDirForTest('dfs-stale-open-').path, {})
      const a = await client()
      const b = await client()
      for (let round = 0; round < 20; round++) {
        const f = `/f${round}`
        await writeFile(a, f, `old ${round}`)
        const held = holdOld ? await a.open(f) : undefined
        if (held !== undefined) expect(await readFile(a, held)).toBe(`old ${round}`)
        // A's copy stays behind while B works: its socket is read only once A opens (the records
        // then arrive after the open's first look at its copy).
        const socket = (remotes[0] as unknown as { socket: { pause(): void; resume(): void } }).socket
        socket.pause()
        await b.getattr(f).catch(() => {})
        await writeFile(b, `/g${round}`, `new ${round}`)
        await b.rename(`/g${round}`, f)
        socket.resume()
        const fh = await a.open(f)
        expect(await readFile(a, fh)).toBe(`new ${round}`)
        await a.release(fh)
        if (held !== undefined) await a.release(held)
      }
    })
  }

  it('gives the bytes another client wrote in place and closed, to an opener whose copy is behind', async () => {
    running = await startTestNameNode(tempDirForTest('dfs-stale-open-').path, {})
    const a = await client()
    const b = await client()
    for (let round = 0; round < 20; round++) {
      const f = `/w${round}`
      await writeFile(a, f, `old ${round}`)
      const first = await a.open(f)
      expect(await readFile(a, first)).toBe(`old ${round}`)
      await a.release(first)
      const socket = (remotes[0] as unknown as { socket: { pause(): void; resume(): void } }).socket
      socket.pause()
      await b.getattr(f)
      const fh = await b.open(f, 1)
      await b.write(fh, Buffer.from(`NEW ${round}`), 0)
      await b.flush(fh)
      await b.release(fh)
      socket.resume()
      const again = await a.open(f)
      expect(await readFile(a, again)).toBe(`NEW ${round}`)
      await a.release(again)
    }
  })
})
