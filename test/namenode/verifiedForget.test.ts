// The verified-at record (`dfs info`'s "verified when") holds only chunks that still exist: a chunk
// the NameNode deletes leaves it at once, also with the scrubber off, when no scrub pass would
// ever prune it (the healer records there too, so it would otherwise grow with every deleted file).

import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { FileSystem } from '../../src/fs/FileSystem.js'
import { NameNodeHost } from '../../src/namenode/openNameNode.js'
import { until } from '../helpers/cli.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { writeFile } from '../fs/fakes.js'

const CHUNK = 64 * 1024
const quiet = () => {}

let stop: (() => Promise<void>) | undefined
afterEach(async () => {
  await stop?.()
  stop = undefined
})

it('a deleted file\'s chunks leave the verified-at record, with the scrubber off', async () => {
  const dir = tempDirForTest('dfs-verified-').path
  const folders = ['n1', 'n2'].map(n => join(dir, n))
  for (const folder of folders) mkdirSync(folder, { recursive: true })
  const host = await NameNodeHost.open({
    meta: join(dir, 'meta'), nodes: folders, replicas: 2, chunkSize: CHUNK, cacheBytes: 0, log: quiet, reopenGraceMs: 0,
    liveness: { intervalMs: 200, suspectAfterMs: 10_000, deadAfterMs: 20_000 },
    healing: { graceMs: 600_000, bandwidthBytesPerSec: 0, orphanGraceMs: 600_000 },
    scrub: { bytesPerSec: 0 },
  })
  const session = host.inProcessSession()
  stop = async () => {
    await session.close()
    await host.close()
  }
  const fs = new FileSystem({ meta: session, chunks: host.cluster.chunks, chunkSize: CHUNK, dirtyLimit: 16 * CHUNK, owner: { uid: 0, gid: 0 }, log: quiet })
  await writeFile(fs, '/keep', randomBytes(CHUNK))
  await writeFile(fs, '/gone', randomBytes(2 * CHUNK))
  const verified = host.services.scrubber.verified
  // As a repair of the healer records the copies it read and wrote.
  for (const path of ['/keep', '/gone']) {
    for (const chunk of host.placementAt(path).chunks) for (const copy of chunk.copies) verified.record(chunk.id, copy.nodeId)
  }
  expect(verified.size).toBe(3)

  await fs.unlink('/gone')
  await until(async () => verified.size === 1, 30_000)
  const [kept] = host.placementAt('/keep').chunks
  expect(kept!.copies.every(copy => copy.verifiedAt !== undefined)).toBe(true)
})
