// Drop behind writes: once a large chunk put is durable, its pages leave the kernel's page cache
// (util/pageCache.ts says why). Checked against the kernel itself with fincore(1), which reports how
// many bytes of a file are in the page cache; a memory file system (tmpfs) cannot drop its pages, so
// the node folder lives on a disk-backed file system.

import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { LocalFolderNode } from '../../src/datanode/LocalFolderNode.js'
import { canDropCachedPages } from '../../src/util/pageCache.js'
import { sha256Of } from '../helpers/sha256.js'
import { cleanupTempDirsAfterAll, makeTempDir } from '../helpers/tmp.js'

cleanupTempDirsAfterAll()

/** A node folder on a disk-backed file system: the system temp dir, or the project's when that is tmpfs. */
function diskFolder(): string {
  const dir = makeTempDir('dfs-drop-').path
  const fstype = execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim()
  if (fstype !== 'tmpfs' && fstype !== 'ramfs') return dir
  const fallback = join(process.cwd(), '.bench')
  execFileSync('mkdir', ['-p', fallback])
  return execFileSync('mktemp', ['-d', join(fallback, 'drop-XXXXXX')], { encoding: 'utf8' }).trim()
}

/** Bytes of the file in the page cache, as the kernel reports them. */
function cachedBytes(path: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim())
}

const chunkPath = (dir: string, id: string) => join(dir, 'chunks', id.slice(0, 2), id)

describe('drop behind writes', () => {
  it('has the fadvise addon built and loaded here (setup builds it)', () => {
    expect(canDropCachedPages).toBe(true)
  })

  it('leaves none of a large chunk in the page cache once it is synced, and it still reads back whole', async () => {
    const dir = diskFolder()
    const node = await LocalFolderNode.open(dir, { clusterId: 'c', create: true })
    try {
      const data = Buffer.alloc(4 * 1024 * 1024)
      for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i)
      const id = newChunkId()
      await node.put(id, data, sha256Of(data), { fresh: true })
      await node.sync([id])
      expect(cachedBytes(chunkPath(dir, id))).toBe(0)
      expect((await node.get(id)).equals(data)).toBe(true)
    } finally {
      await node.close()
      if (dir.includes(`${join(process.cwd(), '.bench')}/`)) execFileSync('rm', ['-rf', dir])
    }
  })
})
