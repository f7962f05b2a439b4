// `rm -rf` of a node folder under an EC directory while a reader loops over its files: not one read
// fails (stripes missing a shard are rebuilt within the read), and the healer rebuilds every lost
// shard onto the node that holds none of that stripe, by itself, until `dfs status` and then
// `dfs fsck` find every stripe whole. ec:2+1 on 4 node folders (so a node without a shard of each
// stripe exists); short liveness thresholds keep it quick; "eventually" is a generous deadline.

import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dfs, statusOf, until } from '../helpers/cli.js'
import { stopAllAfterAll } from '../helpers/mount.js'
import { expectOk } from '../mount/fixtures.js'
import { CHUNK, type EcMount, TAIL, expectSameFiles, mountWithPolicy, putFile } from './fixtures.js'

stopAllAfterAll()

const FILES: [string, number][] = [['small', 1000], ['one', CHUNK], ['a', 3 * CHUNK + TAIL], ['b', 5 * CHUNK + 7], ['c', 2 * CHUNK + TAIL]]

/**
 * Reads every file whole, round after round, each time with its pages dropped from the kernel's
 * cache first (posix_fadvise DONTNEED), so every read reaches the daemon; checks the SHA-256. After
 * each round it writes {rounds, reads, errors, firstError} to the progress file (native disk); it
 * stops when the stop file exists. argv: stopfile progressfile (path sha256)...
 */
const PY_READER = String.raw`
import os, sys, json, hashlib
stop, progress = sys.argv[1], sys.argv[2]
files = list(zip(sys.argv[3::2], sys.argv[4::2]))
state = {'rounds': 0, 'reads': 0, 'errors': 0, 'firstError': None}
def note():
    tmp = progress + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(state, f)
    os.rename(tmp, progress)
while not os.path.exists(stop):
    for path, want in files:
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                h = hashlib.sha256()
                while True:
                    b = os.read(fd, 1 << 20)
                    if not b:
                        break
                    h.update(b)
            finally:
                os.close(fd)
            got = h.hexdigest()
            if got != want:
                raise Exception('%s: sha256 %s, want %s' % (path, got[:16], want[:16]))
        except Exception as e:
            state['errors'] += 1
            if state['firstError'] is None:
                state['firstError'] = 'round %d: %s' % (state['rounds'], e)
        state['reads'] += 1
    state['rounds'] += 1
    note()
print(json.dumps(state))
`

describe('rm -rf of a node folder under an EC directory, while reading', () => {
  let ec: EcMount
  beforeAll(async () => {
    ec = await mountWithPolicy(4, 'ec:2+1', { extraArgs: ['--suspect-after', '1s', '--dead-after', '2s', '--heal-grace', '1s'] })
    for (const [name, size] of FILES) await putFile(ec, name, size)
  })
  afterAll(async () => ec?.cluster.cleanup())

  it('reads without one error, and every stripe is healed by itself', async () => {
    const stopFile = join(ec.cluster.root, 'stop-reading')
    const progressFile = join(ec.cluster.root, 'reader.json')
    const args: string[] = []
    for (const [name] of FILES) {
      args.push(join(ec.dir, name), createHash('sha256').update(await readFile(join(ec.src, name))).digest('hex'))
    }
    const reader = spawn('python3', ['-c', PY_READER, stopFile, progressFile, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    reader.stdout.on('data', d => (out += d))
    reader.stderr.on('data', d => (out += d))
    const finished = new Promise<number | null>(resolve => reader.once('exit', code => resolve(code)))
    const progress = async () => JSON.parse(await readFile(progressFile, 'utf8').catch(() => '{"rounds":0}')) as { rounds: number; errors: number; firstError: string | null }
    try {
      await until(async () => (await progress()).rounds >= 1, 120_000)

      // The folder goes while being read (run again until it is gone: the node may still be writing in it).
      const roundsBefore = (await progress()).rounds
      const gone = ec.cluster.nodes[0]!
      await until(async () => {
        await rm(gone, { recursive: true, force: true }).catch(() => {})
        return !(await stat(gone).catch(() => null))
      }, 60_000)

      // Eventually: the node is dead, and every stripe has all k + m shards live again.
      await until(async () => {
        const s = await statusOf(ec.cluster.mnt)
        const node = s.nodes.find((n: { address: string }) => n.address === gone)
        return node?.health === 'dead' && s.chunks.underReplicated === 0 && s.chunks.unavailable === 0 &&
          s.healer.underReplicated === 0 && s.healer.unavailable === 0 && s.healer.queued === 0
      }, 240_000)
      const s = await statusOf(ec.cluster.mnt)
      expect(s.healer.lost).toBe(0)
      expect(s.chunks.referenced).toBe(FILES.reduce((n, [, size]) => n + Math.ceil(size / CHUNK), 0))

      // Two more whole rounds of reads after the heal, then stop.
      const healedAt = (await progress()).rounds
      console.log(`EC heal while reading: ${healedAt - roundsBefore} rounds of reads between rm -rf and every stripe healed`)
      await until(async () => (await progress()).rounds >= healedAt + 2, 120_000)
    } finally {
      await writeFile(stopFile, '')
      await finished
    }
    const result = JSON.parse(out.trim().split('\n').pop() ?? '{}')
    expect(result.errors, `reader: ${out}\ndaemon (tail): ${ec.dfs.output().slice(-3000)}`).toBe(0)
    expect(result.rounds).toBeGreaterThanOrEqual(3)

    await expectSameFiles(ec, 'after healing')
  })

  it('leaves a cluster that dfs fsck finds whole: no stripe lost or missing a shard', async () => {
    expectOk(await dfs('unmount', ec.cluster.mnt), 'dfs unmount', ec.dfs)
    const r = await dfs('fsck', '--meta', ec.cluster.meta, '--json')
    const report = JSON.parse(r.stdout)
    expect({ lost: report.lost, underReplicated: report.underReplicated, badReplicas: report.badReplicas }, r.stdout).toEqual({
      lost: [], underReplicated: [], badReplicas: [],
    })
    expect(report.nodes.filter((n: { reachable: boolean }) => !n.reachable).map((n: { address: string }) => n.address)).toEqual([ec.cluster.nodes[0]])
  })
})
