// DataNode servers over TCP (loopback) under faults, through a real mount: kill -9 of a server during a
// 64 MiB copy, a server frozen with SIGSTOP and thawed with SIGCONT. The copy succeeds, every byte
// reads back, reads and writes fail over instead of waiting on the frozen node, and the cluster
// returns to two copies of everything by itself. Deadlines here are generous "eventually"s; how fast
// detection and healing are is measured by `npm run bench` (its cluster figures).

import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DFS_BIN, startDfs, stopAllAfterAll } from '../helpers/mount.js'
import { statusOf, until } from '../helpers/cli.js'
import { sh } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'

stopAllAfterAll()

const root = makeTempDir('dfs-tcp-faults-').path
const secret = join(root, 'secret')
const mnt = join(root, 'mnt')
const meta = join(root, 'meta')
const servers = new Map<number, ChildProcess>()
const ports = [0, 1, 2].map(i => 17_500 + (process.pid % 400) * 3 + i)
const address = (i: number) => `tcp://127.0.0.1:${ports[i]}`

function startServer(i: number): Promise<ChildProcess> {
  const dir = join(root, `node_${i + 1}`)
  mkdirSync(dir, { recursive: true })
  const child = spawn(process.execPath, [DFS_BIN, 'datanode', '--dir', dir, '--listen', `127.0.0.1:${ports[i]}`, '--secret-file', secret], { stdio: ['ignore', 'pipe', 'pipe'] })
  servers.set(i, child)
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d
      if (out.includes('serving')) resolve(child)
    })
    child.stderr!.on('data', (d: Buffer) => (out += d))
    child.once('exit', code => reject(new Error(`datanode ${i + 1} exited (${code}): ${out}`)))
  })
}

const status = () => statusOf(mnt)
const health = async (i: number) => (await status()).nodes.find((n: any) => n.address === address(i)).health
const healthy = async () => {
  const s = await status()
  return s.healer.underReplicated === 0 && s.chunks.underReplicated === 0 && s.healer.queued === 0
}

beforeAll(async () => {
  mkdirSync(mnt)
  writeFileSync(secret, 'a shared cluster secret\n', { mode: 0o600 })
  await Promise.all([0, 1, 2].map(startServer))
  await startDfs({
    mountpoint: mnt, nodes: [0, 1, 2].map(address), meta,
    extraArgs: ['--secret-file', secret, '--cache', '1M', '--suspect-after', '2s', '--dead-after', '4s', '--heal-grace', '1s', '--scrub-rate', '0'],
  })
  expect((await sh(`head -c 67108864 /dev/urandom > ${root}/big && head -c 3000000 /dev/urandom > ${root}/small`)).code).toBe(0)
})

afterAll(async () => {
  for (const child of servers.values()) {
    child.kill('SIGCONT')
    child.kill('SIGTERM')
  }
})

describe('DataNode servers under faults', () => {
  it('a 64 MiB copy survives kill -9 of a server mid-way, reads back byte-perfect, and heals by itself', async () => {
    const victim = servers.get(1)!
    const copy = sh(`cp ${root}/big ${mnt}/big`)
    // Mid-way by what the mount shows, not by a timer a busy machine could outrun.
    await until(async () => (existsSync(`${mnt}/big`) ? statSync(`${mnt}/big`).size >= 8 << 20 : false), 120_000, 20)
    victim.kill('SIGKILL')
    const copied = await copy
    expect(copied.code, copied.stderr).toBe(0)
    await sh('sync; echo 3 > /proc/sys/vm/drop_caches')
    expect((await sh(`cmp ${root}/big ${mnt}/big`)).code).toBe(0)
    await until(async () => (await health(1)) === 'dead', 30_000)
    await until(healthy, 60_000)
    expect((await sh(`cmp ${root}/big ${mnt}/big`)).code).toBe(0)
  })

  it('a killed server that comes back is re-admitted and the extra copies are trimmed', async () => {
    await startServer(1)
    await until(async () => (await health(1)) === 'alive', 30_000)
    await until(async () => {
      const s = await status()
      return s.healer.overReplicated === 0 && s.nodes.reduce((n: number, x: any) => n + (x.chunks ?? 0), 0) === 2 * s.chunks.referenced
    }, 120_000)
  })

  it('a frozen server (SIGSTOP) is found suspect, reads and writes fail over meanwhile; SIGCONT re-admits it', async () => {
    await sh(`cp ${root}/small ${mnt}/small && sync`)
    const frozen = servers.get(2)!
    await sh('sync; echo 3 > /proc/sys/vm/drop_caches')
    frozen.kill('SIGSTOP')
    // Watch for detection while reads and writes run into the frozen node before anyone knows. The
    // deadline is a generous "eventually": how soon it is noticed is `npm run bench`'s figure
    // ("SIGSTOP of a DataNode server noticed after"), not a bound a busy machine could miss.
    const detection = until(async () => (await health(2)) !== 'alive', 45_000, 100)
    // Without failover these would wait out fuse-native's 60 s per-operation limit and fail (EIO):
    // succeeding is the proof they did not wait on the frozen node.
    const read = await sh(`cmp ${root}/small ${mnt}/small && head -c 8388608 ${mnt}/big | cmp - ${root}/big -n 8388608`)
    const write = await sh(`dd if=${root}/small of=${mnt}/during-stop bs=1M conv=fsync status=none && cmp ${root}/small ${mnt}/during-stop`)
    await detection
    expect(read.code, read.stderr).toBe(0)
    expect(write.code, write.stderr).toBe(0)
    // Untimed: the whole of the big file still reads back with the node frozen.
    expect((await sh(`cmp ${root}/big ${mnt}/big`)).code).toBe(0)
    frozen.kill('SIGCONT')
    await until(async () => (await health(2)) === 'alive', 45_000)
    await until(healthy, 60_000)
  })
})
