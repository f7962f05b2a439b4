// A NameNode with a standby, as real processes: three DataNodes, clients writing and fsyncing.
//  - the standby stopped (SIGSTOP) mid-writes is dropped after the bounded wait and the writers go
//    on; killed and restarted, it starts over and catches up;
//  - the primary killed -9 at a random moment, the standby promoted: every byte an fsync acknowledged
//    reads back through both clients, which were never remounted, and the old primary restarted on
//    its folder is refused.

import { readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type ChildProcess, spawn } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { Role, type Roles, startRoles, stopAllRoles, stopRolesAfterAll } from '../helpers/roles.js'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { until } from '../helpers/cli.js'

stopRolesAfterAll()
afterEach(async () => {
  for (const w of writers.splice(0)) w.child.kill('SIGKILL')
  await stopAllRoles()
}, 300_000)

// Generous on purpose: a busy 2-core machine is slow, not wrong.
const EVENTUALLY_MS = 240_000

/**
 * Writes files <dir>/<tag>-<n> of varied sizes (empty ones too), each fsync'd; after every fsync that
 * returned, appends "<name> <sha256>" to the acked log (on native disk), itself fsync'd. An error is
 * printed and the next file tried. Stops when the stop file appears.
 */
const PY_WRITER = String.raw`
import os, sys, hashlib, time, errno
dir, acked, stop, tag = sys.argv[1:5]
log = open(acked, 'a')
i = 0
while not os.path.exists(stop):
    name = '%s-%05d' % (tag, i)
    size = (i * 7919) % 300001 if i % 10 else 0
    data = os.urandom(size)
    try:
        os.makedirs(dir, exist_ok=True)
        fd = os.open(os.path.join(dir, name), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        try:
            at = 0
            while at < len(data):
                at += os.write(fd, data[at:])
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        print('error %s %s' % (name, errno.errorcode.get(e.errno, e.errno)), flush=True)
        time.sleep(0.2)
        i += 1
        continue
    log.write('%s %s\n' % (name, hashlib.sha256(data).hexdigest()))
    log.flush()
    os.fsync(log.fileno())
    i += 1
`

interface Writer { child: ChildProcess; acked: string; stop: string; output: () => string; exited: Promise<number | null> }
const writers: Writer[] = []

function startWriter(roles: Roles, mnt: string, tag: string): Writer {
  const acked = join(roles.root, `${tag}.acked`)
  const stop = join(roles.root, `${tag}.stop`)
  writeFileSync(acked, '')
  const child = spawn('python3', ['-c', PY_WRITER, join(mnt, 'w'), acked, stop, tag], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', d => { out += d })
  child.stderr!.on('data', d => { out += d })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const w = { child, acked, stop, output: () => out, exited }
  writers.push(w)
  return w
}

const ackedLines = (w: Writer) => readFileSync(w.acked, 'utf8').split('\n').filter(Boolean).map(l => l.split(' ') as [string, string])
const untilAcked = (w: Writer, n: number) => until(async () => ackedLines(w).length >= n, EVENTUALLY_MS, 100)

async function stopWriter(w: Writer): Promise<void> {
  writeFileSync(w.stop, '')
  const code = await w.exited
  expect(code, w.output()).toBe(0)
}

async function standbyStatus(roles: Roles, url: string) {
  const r = await run(process.execPath, [DFS_BIN, 'status', '--namenode', url, '--secret-file', roles.secretFile, '--json'], { cwd: REPO_ROOT, timeout: 60_000 })
  if (r.code !== 0) return undefined
  return JSON.parse(r.stdout).standby as { state: string; ackedSeq?: number; lastSeq: number; behind?: number }
}

const untilStandby = (roles: Roles, state: string) =>
  until(async () => (await standbyStatus(roles, roles.namenode.url))?.state === state, EVENTUALLY_MS, 200)

/** Every acked file reads back through the mount with the bytes its writer fsync'd. */
async function checkAcked(roles: Roles, mnt: string, w: Writer): Promise<void> {
  const lines = ackedLines(w)
  expect(lines.length).toBeGreaterThan(0)
  const r = await run('sha256sum', lines.map(([name]) => name), { cwd: join(mnt, 'w'), timeout: 300_000 })
  await roles.ok(r, `sha256sum through ${mnt}`)
  const got = new Map(r.stdout.trim().split('\n').map(l => { const [sum, name] = l.split(/\s+/); return [name!, sum!] }))
  for (const [name, sum] of lines) expect(got.get(name), `${name} through ${mnt}`).toBe(sum)
}

describe('a standby NameNode', () => {
  it('stopped mid-writes is dropped after the bounded wait; killed and restarted, it catches up', { timeout: 900_000 }, async () => {
    const roles = await startRoles({ datanodes: 3, clients: 1, chunkSize: '1M', standby: true, namenodeArgs: ['--standby-timeout', '2s'] })
    const [a] = roles.clients
    await untilStandby(roles, 'following')
    const w = startWriter(roles, a!.mnt, 'a')
    await untilAcked(w, 5)

    // Hung standby: the primary's fsyncs wait for it at most --standby-timeout, then go on without it.
    roles.standby!.signal('SIGSTOP')
    await untilStandby(roles, 'lost')
    const atLoss = ackedLines(w).length
    await untilAcked(w, atLoss + 5) // the writers carry on while the standby is still stopped
    roles.standby!.signal('SIGCONT')
    await untilStandby(roles, 'following')

    // Killed and restarted: it starts over from a snapshot and follows again.
    await roles.standby!.kill9()
    await untilStandby(roles, 'lost')
    await untilAcked(w, ackedLines(w).length + 5)
    await roles.standby!.restart()
    await untilStandby(roles, 'following')
    await untilAcked(w, ackedLines(w).length + 5)
    await stopWriter(w)
    // With the writer done, an fsync made everything durable on both: nothing behind.
    await roles.ok(await run('sync', [], { timeout: 120_000 }), 'sync')
    await until(async () => (await standbyStatus(roles, roles.namenode.url))?.behind === 0, EVENTUALLY_MS)
    await checkAcked(roles, a!.mnt, w)
  })

  it('a planned switch: the primary stopped cleanly hands over every record, and the promotion needs no --accept-loss', { timeout: 900_000 }, async () => {
    const roles = await startRoles({ datanodes: 3, clients: 1, chunkSize: '1M', standby: true, clientArgs: ['--namenode-timeout', '300s'] })
    const [a] = roles.clients
    await untilStandby(roles, 'following')
    const w = startWriter(roles, a!.mnt, 'a')
    await untilAcked(w, 10)
    await roles.namenode.stop() // SIGTERM mid-writes
    expect(roles.namenode.exitStatus()?.code).toBe(0)
    await roles.standby!.promote() // refused without --accept-loss if a record had not reached the standby
    await untilAcked(w, ackedLines(w).length + 5)
    await stopWriter(w)
    await checkAcked(roles, a!.mnt, w)
  })

  it('takes over when the primary is killed: every acknowledged byte reads back through both clients, no remount; the old primary is refused', { timeout: 900_000 }, async () => {
    const roles = await startRoles({ datanodes: 3, clients: 2, chunkSize: '1M', standby: true, clientArgs: ['--namenode-timeout', '300s'] })
    const [a, b] = roles.clients
    await untilStandby(roles, 'following')
    const wa = startWriter(roles, a!.mnt, 'a')
    const wb = startWriter(roles, b!.mnt, 'b')
    await untilAcked(wa, 10)
    await untilAcked(wb, 10)
    const delayMs = Math.floor(Math.random() * 2000)
    console.log(`killing the primary ${delayMs} ms into the writes`)
    await new Promise(r => setTimeout(r, delayMs))
    await roles.namenode.kill9()
    const before = [ackedLines(wa).length, ackedLines(wb).length]

    await roles.standby!.promote()
    // The writers find the new primary by themselves and carry on.
    await untilAcked(wa, before[0]! + 5)
    await untilAcked(wb, before[1]! + 5)
    await stopWriter(wa)
    await stopWriter(wb)
    for (const mnt of [a!.mnt, b!.mnt]) for (const w of [wa, wb]) await checkAcked(roles, mnt, w)
    expect(a!.starts).toBe(1)
    expect(b!.starts).toBe(1)

    // The old primary, restarted on its folder, is refused: a newer NameNode took over.
    await expect(roles.namenode.restart()).rejects.toThrow(/took over/)
    expect(roles.namenode.exitStatus()?.code).not.toBe(0)
    expect(existsSync(join(roles.standby!.meta, 'standby.json'))).toBe(false)

    // The pair restored: the old primary's folder follows the new primary as its standby (its
    // unreplicated tail is set aside, not deleted).
    const newPrimary = roles.standby!.url
    const follower = new Role('namenode', 'old primary, now standby', () => [
      'namenode', '--standby-of', newPrimary, '--meta', roles.namenode.meta, '--secret-file', roles.secretFile,
    ], /^dfs namenode: standby of /)
    await follower.start()
    try {
      await until(async () => (await standbyStatus(roles, newPrimary))?.state === 'following', EVENTUALLY_MS, 200)
      expect(readdirSync(roles.namenode.meta).some(name => name.startsWith('superseded-'))).toBe(true)
    } finally {
      await follower.stop()
    }
  })
})
