// O_DIRECT fallbacks of a DataNode's put (datanode/writeWhole.ts): a file system that refuses O_DIRECT
// at open (creating the file first, as some kernels do) or at the first write. The chunk is still
// stored whole, nothing is left behind, the totals are right, and the refusal is remembered: only the
// first put tries O_DIRECT.
import { constants, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomFillSync } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { writeCounts } from '../../src/datanode/writeWhole.js'
import { hashableBuffer } from '../../src/util/sha256.js'
import { sha256Of } from '../helpers/sha256.js'
import { diskFolder } from '../helpers/pageCache.js'

const MiB = 1024 * 1024
const mode = { refuse: 'none' as 'none' | 'open' | 'write' }
const directFds = new Set<number>()
let directOpens = 0

vi.mock('../../src/util/fdCalls.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/util/fdCalls.js')>()
  return {
    ...real,
    openFd: async (path: string, flags: string | number) => {
      const direct = typeof flags === 'number' && (flags & constants.O_DIRECT) !== 0
      if (direct) directOpens++
      if (direct && mode.refuse === 'open') {
        writeFileSync(path, '') // the kernel created it, then refused O_DIRECT
        throw Object.assign(new Error('EINVAL: invalid argument, open'), { code: 'EINVAL' })
      }
      const fd = await real.openFd(path, flags)
      if (direct) directFds.add(fd)
      return fd
    },
    writeAllFd: async (fd: number, data: Buffer) => {
      if (directFds.has(fd) && mode.refuse === 'write') {
        directFds.delete(fd)
        throw Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' })
      }
      return real.writeAllFd(fd, data)
    },
  }
})

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter(e => e.isFile()).map(e => join(e.parentPath, e.name))
}

describe('O_DIRECT refused', () => {
  for (const refuse of ['open', 'write'] as const) {
    it(`at ${refuse}: the chunk is stored buffered, whole, with nothing left behind`, async () => {
      mode.refuse = refuse
      const dir = diskFolder('dfs-direct-refused-')
      const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
      try {
        const before = { ...writeCounts }
        const opensBefore = directOpens
        const filesBefore = filesUnder(dir).length
        const ids: string[] = []
        for (let i = 0; i < 2; i++) {
          const data = randomFillSync(hashableBuffer(2 * MiB))
          const id = newChunkId()
          ids.push(id)
          await node.put(id, data, sha256Of(data), { fresh: true })
          await node.sync([id])
          expect((await node.get(id)).equals(data)).toBe(true)
        }
        expect(writeCounts.direct - before.direct).toBe(0)
        expect(writeCounts.buffered - before.buffered).toBe(2)
        expect(directOpens - opensBefore).toBe(1)
        expect(filesUnder(dir).length - filesBefore).toBe(2)
        expect(await node.usage()).toMatchObject({ used: 4 * MiB, chunks: 2 })
      } finally {
        await node.close()
        mode.refuse = 'none'
      }
    })
  }
})
