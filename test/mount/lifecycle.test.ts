// The mount's lifecycle as a user meets it, through real mounts and processes: stopping the daemon in
// the middle of a copy, unmounting while files are open, an unmount from outside dfs, mounting over a
// daemon that does not answer.

import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { until } from '../helpers/cli.js'
import { type Cluster, makeCluster, stopAllAfterAll } from '../helpers/mount.js'
import { run, sh } from '../helpers/run.js'

stopAllAfterAll()

const clusters: Cluster[] = []
afterAll(async () => { for (const c of clusters) await c.cleanup() })
function cluster(prefix: string): Cluster {
  const c = makeCluster(2, prefix)
  clusters.push(c)
  return c
}

/** The size of a file on the mount, from a child process (never this one). */
async function sizeOf(path: string): Promise<number> {
  const r = await run('stat', ['-c', '%s', path], { timeout: 30_000 })
  return r.code === 0 ? Number(r.stdout.trim()) : -1
}

describe('SIGTERM during a cp', () => {
  it('leaves a file whose every byte up to its size is what cp wrote, and at least what was acknowledged', async () => {
    const c = cluster('dfs-sigterm-')
    const source = join(c.root, 'source')
    expect((await sh(`head -c 96M /dev/urandom > ${source}`)).code).toBe(0)
    const daemon = await c.start({ chunkSize: '1M' })
    const target = join(c.mnt, 'copy')
    const copying = run('dd', [`if=${source}`, `of=${target}`, 'bs=128k', 'status=none'], { timeout: 120_000 })
    await until(async () => (await sizeOf(target)) >= 8 << 20, 60_000, 50)
    const seen = await sizeOf(target)
    await daemon.stop() // SIGTERM, as `kill` or a service manager would
    expect(daemon.exitStatus()).toEqual({ code: 0, signal: null })
    await copying

    await c.start({ chunkSize: '1M' })
    const size = await sizeOf(target)
    expect(size).toBeGreaterThanOrEqual(seen)
    const same = await run('cmp', ['-n', String(size), source, target])
    expect(same.code, `the first ${size} bytes differ: ${same.stdout}${same.stderr}`).toBe(0)
  })
})
