// Promotion of a standby's metadata folder (openCluster with `promote`, src/cluster/fencing.ts
// takeover), without FUSE: DataNode servers on 127.0.0.1 and openCluster directly. A standby's folder
// is made by hand as the standby contract has it: a copy of the primary's folder, the standby mark,
// and the primary's current epoch.json (what replication keeps current).
//
// A standby's folder opens for writing only by promotion; a promotion claims the nodes from the
// primary's claim, waits (bounded) while the old primary still holds them, refuses to lose records
// unless told, and supersedes a primary that still runs. Every refusal changes nothing.

import { cp, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type Cluster, type ClusterFlags, type OpenOptions, openCluster } from '../../src/cluster/openCluster.js'
import { acquireLock } from '../../src/meta/lock.js'
import { readNodeClaim } from '../../src/datanode/claimFile.js'
import { NameNodeHost } from '../../src/namenode/openNameNode.js'
import { NameNodeServer } from '../../src/namenode/server.js'
import { MessageReader, NAMENODE_PROTOCOL_VERSION, clientProof, newNonce, send } from '../../src/protocol/wire.js'
import { connect } from 'node:net'
import { readStandbyMark, writeStandbyMark } from '../../src/meta/standbyMark.js'
import { SECRET, TestServers } from '../datanode/tcpHelpers.js'
import { treeListing } from '../helpers/tree.js'
import { until } from '../helpers/cli.js'

const servers = new TestServers()
const open: Cluster[] = []
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()))
  await servers.cleanup()
})

const PRIMARY = 'tcp://127.0.0.1:7000'
const EVENTUALLY_MS = 60_000

const flags = (meta: string, nodes: string[] | undefined, more: Partial<ClusterFlags> = {}): ClusterFlags =>
  ({ meta, ...(nodes ? { nodes } : {}), cacheBytes: 0, log: () => {}, ...more })

async function openKept(f: ClusterFlags, options: OpenOptions): Promise<Cluster> {
  const cluster = await openCluster(f, options)
  open.push(cluster)
  return cluster
}

async function refusal(f: ClusterFlags, options: OpenOptions): Promise<Error & { code?: string; context?: Record<string, unknown> }> {
  const result = await openCluster(f, options).then((c) => c.close().then(() => undefined), (e: Error) => e)
  if (!result) expect.fail('the open was not refused')
  return result
}

async function nodeEpochs(dirs: string[]): Promise<number[]> {
  return Promise.all(dirs.map(async (dir) => (await readNodeClaim(dir))!.epoch))
}

/** Make `dir` a standby of the primary's folder: a copy, the mark, and the primary's current claim. */
async function makeStandby(primaryMeta: string, dir: string): Promise<void> {
  await cp(primaryMeta, dir, { recursive: true })
  await writeStandbyMark(dir, PRIMARY)
}

/** Three DataNode servers, a cluster made on them, and a standby folder copied from its stopped primary. */
async function pair(serverOptions: { claimHoldMs?: number } = {}) {
  const started = await Promise.all([1, 2, 3].map(() => servers.start({ clusterId: undefined, ...serverOptions })))
  const root = await servers.temp.make('dfs-promote-')
  const secretFile = join(root, 'secret')
  await writeFile(secretFile, SECRET, { mode: 0o600 })
  const primary = flags(join(root, 'meta'), started.map((s) => s.url), { secretFile, replicas: 2 })
  await (await openCluster(primary, { create: true })).close()
  const standbyDir = join(root, 'standby')
  await makeStandby(primary.meta, standbyDir)
  return { root, started, dirs: started.map((s) => s.dir), primary, standbyDir, standby: flags(standbyDir, undefined, { secretFile }) }
}

/** The primary runs again (a new epoch); the standby gets its claim, as replication would give it. */
async function primaryRuns(p: Awaited<ReturnType<typeof pair>>): Promise<Cluster> {
  const cluster = await openKept(p.primary, { create: true })
  await cp(join(p.primary.meta, 'epoch.json'), join(p.standbyDir, 'epoch.json'))
  return cluster
}

const mknod = (name: string) => ({ op: 'mknod' as const, parent: 1, name, mode: 0o100644, uid: 0, gid: 0, time: Date.now() })

describe("a standby's metadata folder", () => {
  it('is refused by every open for writing but a promotion, naming the primary and both fixes, changing nothing; looking works', async () => {
    const root = await servers.temp.make('dfs-standby-')
    const dirs = ['n1', 'n2', 'n3'].map((n) => join(root, n))
    for (const dir of dirs) await mkdir(dir)
    const meta = join(root, 'meta')
    await (await openCluster(flags(meta, dirs), { create: true })).close()
    const standby = join(root, 'standby')
    await makeStandby(meta, standby)
    const before = await treeListing([root])
    // a mount or a NameNode (create), fsck --repair (skipUnavailable)
    for (const options of [{ create: true }, { skipUnavailable: true }]) {
      const err = await refusal(flags(standby, dirs), options)
      expect(err.code).toBe('STANDBY_FOLDER')
      expect(err.message).toBe(
        `metadata folder ${standby} is a standby of ${PRIMARY}: it follows that NameNode and must not be opened as a primary; ` +
        `to keep following, dfs namenode --meta ${standby} --standby-of ${PRIMARY} --secret-file <f>; ` +
        `to take over from it, dfs namenode --meta ${standby} --promote --listen <host:port> --secret-file <f>`)
    }
    expect(await treeListing([root])).toEqual(before)
    const look = await openCluster(flags(standby, dirs), { readOnly: true, skipUnavailable: true })
    expect(look.meta.state.inodes.size).toBeGreaterThan(0)
    await look.close()
  })
})

describe('dfs namenode --promote', () => {
  it('refuses a folder that is no standby, and a standby folder its standby process still holds', async () => {
    const p = await pair()
    const before = await treeListing([p.root])
    const notStandby = await refusal({ ...p.standby, meta: p.primary.meta }, { create: true, promote: { waitMs: 0 } })
    expect(notStandby.code).toBe('BAD_ARGUMENT')
    expect(notStandby.message).toMatch(/is not a standby's \(no standby\.json\): --promote takes over from a standby.*without --promote/)
    const lock = await acquireLock(p.standbyDir)
    try {
      const held = await refusal(p.standby, { create: true, promote: { waitMs: 0 } })
      expect(held.code).toBe('META_LOCKED')
      expect(held.message).toMatch(new RegExp(`in use by process ${process.pid}; it is the standby of ${PRIMARY}: stop it first`))
    } finally {
      await lock.release()
    }
    expect(await treeListing([p.root])).toEqual(before)
  })

  it('claims the nodes with the next epoch, clears the mark, and supersedes the primary that still runs; restarted, the old primary is refused', { timeout: 120_000 }, async () => {
    // The servers count a claim as held only briefly: the primary (which renews every 5 s) lets go between renewals.
    const p = await pair({ claimHoldMs: 300 })
    const old = await primaryRuns(p)
    const logged: string[] = []
    const promoted = await openKept({ ...p.standby, log: (m) => logged.push(m) }, { create: true, promote: { waitMs: EVENTUALLY_MS, pollMs: 50 } })
    expect(await nodeEpochs(p.dirs)).toEqual([3, 3, 3])
    expect(await readStandbyMark(p.standbyDir)).toBeUndefined()
    expect(logged.join('\n')).toMatch(/promoted: metadata folder .* until now a standby of tcp:\/\/127\.0\.0\.1:7000, holds the cluster at epoch 3/)

    // The old primary hears it at its next renewal.
    const superseded = await Promise.race([old.superseded, new Promise<undefined>((r) => setTimeout(r, EVENTUALLY_MS))])
    expect(superseded?.code).toBe('SUPERSEDED')
    expect(superseded?.message).toMatch(/^a newer NameNode \(epoch 3\) took over the cluster: node \S+ refuses this NameNode's claim \(epoch 2\)/)
    await old.close()
    await promoted.close()
    open.splice(0)

    const before = await treeListing([p.root])
    const restarted = await refusal(p.primary, { create: true })
    expect(restarted.code).toBe('EPOCH_BEHIND')
    expect(restarted.message).toMatch(/^a newer NameNode \(epoch 3\) took over: metadata folder \S+ is behind the cluster .*: node tcp:\/\/127\.0\.0\.1:\d+ \(\S+\) was claimed by epoch 3, and this folder.s last claim is epoch 2; it can read but never delete$/)
    expect(await treeListing([p.root])).toEqual(before)
  })

  it('waits while the old primary holds a node; refuses, changing nothing, when it still does after the wait', { timeout: 120_000 }, async () => {
    const p = await pair()
    const old = await primaryRuns(p)
    const before = await treeListing([p.root])
    const held = await refusal(p.standby, { create: true, promote: { waitMs: 200, pollMs: 50 } })
    expect(held.code).toBe('EPOCH_HELD')
    expect(held.message).toMatch(/^node \S+ is still held by the old primary after waiting 200ms for its claim to lapse .*stop it \(or cut it off from them\) first, or wait longer with --promote-wait <duration>$/)
    expect(await treeListing([p.root])).toEqual(before)

    // Waiting: once the old primary lets go (here it stops), the promotion goes through.
    const logged: string[] = []
    const promoting = openCluster({ ...p.standby, log: (m) => logged.push(m) }, { create: true, promote: { waitMs: EVENTUALLY_MS, pollMs: 50 } })
    const deadline = Date.now() + EVENTUALLY_MS
    while (!logged.some((m) => /waiting up to 1m for the old primary's claim to lapse/.test(m)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(logged.join('\n')).toMatch(/waiting up to 1m for the old primary's claim to lapse/)
    await old.close()
    open.splice(0)
    open.push(await promoting)
    expect(await nodeEpochs(p.dirs)).toEqual([3, 3, 3])
  })

  it('refuses to lose records the primary wrote without the standby, saying how many, unless told to', { timeout: 120_000 }, async () => {
    const p = await pair()
    const old = await primaryRuns(p)
    for (const name of ['a', 'b', 'c']) old.meta.commit(mknod(name))
    await old.meta.sync()
    await old.close() // raises the nodes' watermark to its journal's end
    open.splice(0)
    const before = await treeListing([p.root])
    const behind = await refusal(p.standby, { create: true, promote: { waitMs: 0 } })
    expect(behind.code).toBe('EPOCH_BEHIND')
    expect(behind.message).toMatch(/^promoting metadata folder \S+ would lose 3 records: node \S+ holds the primary's journal up to seq \d+, and this standby's ends at seq \d+ .*--accept-loss$/)
    expect(await treeListing([p.root])).toEqual(before)

    const logged: string[] = []
    const promoted = await openKept({ ...p.standby, log: (m) => logged.push(m) }, { create: true, promote: { waitMs: 0, acceptLoss: true } })
    expect(promoted.meta.state.inodes.size).toBe(1) // the root only: a, b and c are lost, as accepted
    // The log of the promotion says what was given up, not only that it went through.
    const seqs = /would lose 3 records: node \S+ holds the primary's journal up to seq (\d+), and this standby's ends at seq (\d+)/.exec(behind.message)!
    expect(logged.join('\n')).toContain(`--accept-loss: promoting metadata folder ${p.standbyDir} loses 3 records (seq ${Number(seqs[2]) + 1}–${seqs[1]}) the old primary journaled and this standby never got`)
    expect(await nodeEpochs(p.dirs)).toEqual([3, 3, 3])

    // From then on the promoted folder is the cluster's line: it restarts as any primary does,
    // although its journal still ends below where the old primary's got.
    promoted.meta.commit(mknod('new'))
    await promoted.meta.sync()
    await promoted.close()
    open.splice(0)
    const restarted = await openKept(p.standby, { create: true })
    expect([...restarted.meta.state.inodes.values()]).toHaveLength(2) // the root and 'new'
  })
})

describe('--accept-loss over a standby that lost nothing', () => {
  it('says there was nothing to accept', { timeout: 120_000 }, async () => {
    const p = await pair()
    const logged: string[] = []
    await openKept({ ...p.standby, log: (m) => logged.push(m) }, { create: true, promote: { waitMs: 0, acceptLoss: true } })
    expect(logged.join('\n')).toMatch(/--accept-loss: nothing to accept; this standby holds every record/)
    expect(logged.join('\n')).not.toMatch(/loses \d+ record/)
  })
})

describe('a primary that was stopped longer than the nodes hold its claim (SIGSTOP, a frozen VM)', () => {
  it('asks the nodes before it acknowledges again, and learns there that it was superseded', { timeout: 120_000 }, async () => {
    const p = await pair()
    const old = await primaryRuns(p)
    await old.confirmClaim() // its word with the nodes is fresh
    // 20 s pass for everyone (the servers' clocks too) while the old primary runs nothing.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 20_000 })
    try {
      await openKept(p.standby, { create: true, promote: { waitMs: 0 } })
      // Before its 5-second renewal would have told it: its next acknowledgement asks first.
      await expect(old.confirmClaim()).rejects.toMatchObject({ code: 'SUPERSEDED', message: expect.stringMatching(/^a newer NameNode \(epoch 3\) took over the cluster/) })
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('a primary cut off from every DataNode', () => {
  it('acknowledges no sync once its lease ran out: it cannot tell whether a newer NameNode took over', { timeout: 120_000 }, async () => {
    const p = await pair()
    const old = await primaryRuns(p)
    await old.confirmClaim()
    await Promise.all(p.started.map((s) => s.server.close())) // a partition: no node answers it
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 20_000 })
    try {
      await expect(old.confirmClaim()).rejects.toMatchObject({ code: 'NODE_UNAVAILABLE', message: expect.stringMatching(/^no DataNode has answered this NameNode \(epoch 2\) for \d+ s, so it cannot tell whether a newer NameNode took over/) })
    } finally {
      vi.useRealTimers()
    }
  })
})

describe("a NameNode host (the embedded mount's NameNode) whose nodes a promoted standby claimed", () => {
  it('logs why, refuses every change and sync (SUPERSEDED, EROFS at the mount), and still reads', { timeout: 120_000 }, async () => {
    const p = await pair({ claimHoldMs: 300 })
    const logged: string[] = []
    const host = await NameNodeHost.open({
      ...p.primary, nodes: undefined, log: (m) => logged.push(m), reopenGraceMs: 0,
      liveness: { intervalMs: 500, suspectAfterMs: 2000, deadAfterMs: 10_000 },
      healing: { graceMs: 10_000, bandwidthBytesPerSec: 0, orphanGraceMs: 60_000 },
      scrub: { bytesPerSec: 0 },
    })
    try {
      const session = host.inProcessSession()
      await session.commit(mknod('before'))
      await session.sync()
      // A standby copied now (everything synced, the host's claim with it) takes over while the host runs.
      const standbyNow = join(p.root, 'standby-now')
      await makeStandby(p.primary.meta, standbyNow)
      await openKept({ ...p.standby, meta: standbyNow }, { create: true, promote: { waitMs: EVENTUALLY_MS, pollMs: 50 } })

      const superseded = await Promise.race([host.superseded, new Promise<undefined>((r) => setTimeout(r, EVENTUALLY_MS))])
      expect(superseded?.code).toBe('SUPERSEDED')
      expect(logged.join('\n')).toContain(superseded!.message)
      // Each node's refusal is said with this NameNode's epoch and the newer one, not the claim its folder made before.
      await until(async () => logged.filter((m) => /cannot hold its claim there any more/.test(m)).length === 3, EVENTUALLY_MS, 50)
      for (const m of logged.filter((l) => /cannot hold its claim there any more/.test(l))) {
        expect(m).toMatch(/^node \S+: this NameNode \(epoch 2\) cannot hold its claim there any more, so it cannot delete there: a newer NameNode \(epoch 3\) claimed it since$/)
      }
      await expect(session.commit(mknod('after'))).rejects.toMatchObject({ code: 'SUPERSEDED' })
      await expect(session.sync()).rejects.toMatchObject({ code: 'SUPERSEDED' })
      expect([...host.nameNode.state.inodes.values()].map((i) => i.ino)).toHaveLength(2) // the root and 'before'
      // Served over TCP on its way out, it sends a client on to the NameNode that took over.
      const server = await NameNodeServer.start({ host, listen: '127.0.0.1:0', secret: Buffer.from(SECRET), log: () => {}, sessionGraceMs: 0 })
      try {
        expect(await clientHandshake(server.port)).toMatchObject({ t: 'error', code: 'NOT_PRIMARY', message: expect.stringMatching(/not the primary any more: a newer NameNode/) })
      } finally {
        await server.close()
      }
    } finally {
      await host.close()
    }
  })
})


/** A client's handshake with the NameNode on port: the first message after its hello. */
function clientHandshake(port: number): Promise<{ t: string; [k: string]: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    const reader = new MessageReader(() => 1 << 30)
    const nonce = newNonce()
    socket.on('error', reject)
    socket.on('data', (data) => {
      for (const m of reader.push(data)) {
        if (m.t === 'hello') {
          send(socket, { t: 'auth', version: NAMENODE_PROTOCOL_VERSION, nonce, proof: clientProof(Buffer.from(SECRET), m.challenge, nonce), client: 'a-client' })
        } else {
          resolve(m as never)
          socket.destroy()
        }
      }
    })
  })
}
