// A standby NameNode in one process with its primary, without FUSE: it takes a snapshot, follows the
// journal record by record into its own folder, and an fsync at the primary returns only once the
// standby has the records too. A standby that stops answering is dropped after the bounded wait and
// the primary carries on alone; one that comes back starts over and catches up.

import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RemoteNameNode } from '../../src/client/RemoteNameNode.js'
import { Standby } from '../../src/namenode/standby.js'
import { readNodeClaim } from '../../src/datanode/claimFile.js'
import { MetaStore } from '../../src/meta/MetaStore.js'
import { namespaceMachine } from '../../src/meta/namespace/machine.js'
import { S_IFDIR, type NamespaceState } from '../../src/meta/namespace/types.js'
import { MessageReader, NAMENODE_PROTOCOL_VERSION, clientProof, newNonce, send } from '../../src/protocol/wire.js'
import { makeTempDir } from '../helpers/tmp.js'
import { TEST_SECRET, startTestNameNode } from './fixtures.js'
import { until } from '../helpers/cli.js'

const secret = TEST_SECRET
const quiet = () => {}
const cleanups: Array<() => Promise<unknown> | unknown> = []

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function primary(dir: string, standbyTimeoutMs = 60_000) {
  const { host, server } = await startTestNameNode(dir, { standbyTimeoutMs })
  cleanups.push(async () => { await server.close(); await host.close() })
  const client = await RemoteNameNode.connect({ addresses: [`tcp://127.0.0.1:${server.port}`], secret, log: quiet, timeoutMs: 60_000 }, 2_000)
  cleanups.push(() => client.close())
  return { host, server, client, address: `tcp://127.0.0.1:${server.port}` }
}

async function standby(meta: string, address: string, log: (m: string) => void = quiet) {
  const s = await Standby.start({ meta, primary: address, secret, log, retryMs: 50 })
  cleanups.push(() => s.close())
  return s
}

const mkdir = (name: string) => ({ op: 'mknod' as const, parent: 1, name, mode: S_IFDIR | 0o755, uid: 0, gid: 0, time: 1 })

async function readFolder(dir: string): Promise<NamespaceState> {
  const store = await MetaStore.open(dir, namespaceMachine({ uid: 0, gid: 0, createdAt: 0 }), { readOnly: true })
  await store.close()
  return store.state
}

/** Poll a condition until it holds (a generous deadline: a busy machine is slow, not wrong). */
const waitFor = (what: () => boolean, _what: string) => until(async () => what(), 60_000, 20)

/** The last seq a folder holds on disk, as a promotion would open it. */
async function readFolderSeq(dir: string): Promise<number> {
  const store = await MetaStore.open(dir, namespaceMachine({ uid: 0, gid: 0, createdAt: 0 }), { readOnly: true })
  await store.close()
  return store.lastSeq
}

const names = (state: NamespaceState) => [...state.children.get(1)!.keys()].sort()

describe('standby NameNode', () => {
  it('takes a snapshot, follows every record, and an fsync at the primary waits for it', async () => {
    const dir = makeTempDir('dfs-standby-').path
    const p = await primary(dir)
    await p.client.commit(mkdir('before'))
    const s = await standby(join(dir, 'standby'), p.address)
    await waitFor(() => p.server.standbyStatus().state === 'following', 'the standby to catch up')
    for (const name of ['a', 'b', 'c']) await p.client.commit(mkdir(name))
    const seq = p.host.cluster.meta.lastSeq
    await p.client.sync()
    // The fsync returned: the standby has every record, durably.
    expect(s.status.lastSeq).toBeGreaterThanOrEqual(seq)
    expect(p.server.standbyStatus()).toMatchObject({ state: 'following', behind: 0 })
    await s.close()
    expect(names(await readFolder(join(dir, 'standby')))).toEqual(['a', 'b', 'before', 'c'])
    expect(existsSync(join(dir, 'standby', 'standby.json'))).toBe(true)
    const epoch = (f: string) => { const { epoch, token } = JSON.parse(readFileSync(join(f, 'epoch.json'), 'utf8')); return { epoch, token } }
    expect(epoch(join(dir, 'standby'))).toEqual(epoch(join(dir, 'meta')))
  })

  it('gets every record before a primary that stops cleanly lets it go, fsync\'d or not', async () => {
    const dir = makeTempDir('dfs-standby-').path
    const p = await primary(dir)
    const s = await standby(join(dir, 'standby'), p.address)
    await waitFor(() => p.server.standbyStatus().state === 'following', 'the standby to catch up')
    for (const name of ['u', 'v', 'w']) await p.client.commit(mkdir(name)) // no sync
    await p.server.close()
    expect(s.status.lastSeq).toBe(p.host.cluster.meta.lastSeq)
  })

  it('keeps format.json in step when the settings change', async () => {
    const dir = makeTempDir('dfs-standby-').path
    const p = await primary(dir)
    await standby(join(dir, 'standby'), p.address)
    await waitFor(() => p.server.standbyStatus().state === 'following', 'the standby to catch up')
    const meta = p.host.cluster.meta
    await meta.updateSettings({ ...meta.settings, marker: 'changed' })
    await waitFor(() => JSON.parse(readFileSync(join(dir, 'standby', 'format.json'), 'utf8')).settings.marker === 'changed', 'the settings to reach the standby')
  })

  it('drops a standby that stops acking after the bounded wait; the primary carries on alone and says so', async () => {
    const dir = makeTempDir('dfs-standby-').path
    const p = await primary(dir, 200)
    const mute = await muteStandby(p.server.port)
    await waitFor(() => p.server.standbyStatus().state === 'following', 'the mute standby to ack its snapshot')
    await p.client.commit(mkdir('alone'))
    await p.client.sync() // returns: the wait is bounded
    expect(p.server.standbyStatus()).toMatchObject({ state: 'lost', why: expect.stringMatching(/did not confirm record/), behind: expect.any(Number) })
    expect(p.server.standbyStatus().behind).toBeGreaterThan(0)
    // The dashboard's Events panel: attached, caught up, lost (newest last here).
    expect(p.host.events.recent().reverse().filter(e => e.kind === 'standby').map(e => [e.level, e.message])).toEqual([
      ['info', expect.stringMatching(/^standby .* attached; sending it a snapshot at seq \d+$/)],
      ['info', expect.stringMatching(/^standby .* caught up at seq \d+; fsyncs now wait for it too$/)],
      ['warn', expect.stringMatching(/^standby .* lost: it did not confirm record \d+ within 200 ms; it had confirmed seq \d+; this NameNode carries on alone until it returns$/)],
    ])
    // Alone, an fsync is acknowledged only once the DataNodes know how far this NameNode got: a
    // promotion of the standby that missed it is refused instead of losing it.
    await p.client.commit(mkdir('noted'))
    const seq = p.host.cluster.meta.lastSeq
    await p.client.sync()
    for (const n of ['n1', 'n2']) {
      expect((await readNodeClaim(join(dir, n)))!.seqWatermark).toBeGreaterThanOrEqual(seq)
    }
    mute.destroy()
  })

  it('a primary restarted on a folder that had a standby tells the DataNodes how far its fsyncs got until one is back', async () => {
    const dir = makeTempDir('dfs-standby-').path
    const first = await primary(dir)
    const s = await standby(join(dir, 'standby'), first.address)
    await waitFor(() => first.server.standbyStatus().state === 'following', 'the standby to catch up')
    await s.close()
    await first.client.close()
    await first.server.close()
    await first.host.close()
    cleanups.splice(0)
    // The standby's folder can still be promoted; the restarted primary has no standby attached yet.
    const p = await primary(dir)
    await waitFor(() => p.server.standbyStatus().state === 'lost', 'the restarted primary to say its standby is away')
    expect(p.server.standbyStatus().why).toMatch(/no standby has connected since this NameNode started/)
    await p.client.commit(mkdir('after-the-restart'))
    const seq = p.host.cluster.meta.lastSeq
    await p.client.sync()
    for (const n of ['n1', 'n2']) {
      expect((await readNodeClaim(join(dir, n)))!.seqWatermark).toBeGreaterThanOrEqual(seq)
    }
  })

  it('a standby starting over is covered by the DataNodes\' watermark first: its folder, cut short while it starts over, cannot be promoted past what it acked', async () => {
    const dir = makeTempDir('dfs-standby-').path
    const p = await primary(dir)
    const lines: string[] = []
    const s = await standby(join(dir, 'standby'), p.address, m => lines.push(m))
    await waitFor(() => p.server.standbyStatus().state === 'following', 'the standby to catch up')
    for (const name of ['a', 'b', 'c']) await p.client.commit(mkdir(name))
    const acked = p.host.cluster.meta.lastSeq
    await p.client.sync() // acknowledged: the standby has it, in its journal
    // The connection breaks; the standby starts over, and its new checkpoint cannot be written (a
    // crash there is the same): its folder is left at its older checkpoint, behind what it acked.
    mkdirSync(join(dir, 'standby', 'checkpoint.json.tmp'))
    ;(s as unknown as { socket: Socket }).socket.destroy()
    await waitFor(() => lines.some(m => /following stopped/.test(m)), 'the new snapshot to fail')
    expect(await readFolderSeq(join(dir, 'standby'))).toBeLessThan(acked)
    const watermarks = await Promise.all(['n1', 'n2'].map(async n => (await readNodeClaim(join(dir, n)))!.seqWatermark))
    for (const w of watermarks) expect(w).toBeGreaterThanOrEqual(acked)
    // Stopped in that state, it stops cleanly; started again, it opens the folder from its disk and follows.
    await s.close()
    rmSync(join(dir, 'standby', 'checkpoint.json.tmp'), { recursive: true })
    const again = await standby(join(dir, 'standby'), p.address)
    await waitFor(() => p.server.standbyStatus().state === 'following', 'the standby to follow again')
    await p.client.commit(mkdir('d'))
    await p.client.sync()
    await again.close()
    expect(names(await readFolder(join(dir, 'standby')))).toEqual(['a', 'b', 'c', 'd'])
  })

  it('a standby that was away starts over from a snapshot and catches up', async () => {
    const dir = makeTempDir('dfs-standby-').path
    const p = await primary(dir)
    const lines: string[] = []
    const first = await standby(join(dir, 'standby'), p.address)
    await waitFor(() => p.server.standbyStatus().state === 'following', 'the standby to catch up')
    await first.close()
    await waitFor(() => p.server.standbyStatus().state === 'lost', 'the primary to notice')
    for (const name of ['x', 'y']) await p.client.commit(mkdir(name))
    await p.client.sync() // alone: nothing waits for a standby that is gone
    const again = await standby(join(dir, 'standby'), p.address, m => lines.push(m))
    await waitFor(() => p.server.standbyStatus().state === 'following', 'the standby to catch up again')
    await p.client.sync()
    expect(again.status.lastSeq).toBe(p.host.cluster.meta.lastSeq)
    await again.close()
    expect(names(await readFolder(join(dir, 'standby')))).toEqual(['x', 'y'])
    expect(lines.join('\n')).toMatch(/took a snapshot at seq \d+ \(this folder was at seq \d+\)/)
  })

  it('a superseded primary\'s folder whose conversion into a standby failed half way is taken on by the next try', async () => {
    const dir = makeTempDir('dfs-standby-').path
    const first = await primary(dir)
    await first.client.commit(mkdir('old'))
    await first.client.sync()
    await first.client.close()
    await first.server.close()
    await first.host.close()
    cleanups.splice(0)
    cpSync(join(dir, 'meta'), join(dir, 'old'), { recursive: true }) // a primary's folder at epoch 1…
    const p = await primary(dir) // …superseded by the claim of epoch 2
    // The conversion fails after its journal went aside, before the folder is marked a standby's.
    mkdirSync(join(dir, 'old', 'standby.json.tmp'))
    const lines: string[] = []
    let fatal: Error | undefined
    const s = await Standby.start({ meta: join(dir, 'old'), primary: p.address, secret, log: m => lines.push(m), retryMs: 50, onFatal: err => { fatal = err } })
    cleanups.push(() => s.close())
    await waitFor(() => lines.some(m => /following stopped/.test(m)), 'the conversion to fail')
    rmSync(join(dir, 'old', 'standby.json.tmp'), { recursive: true })
    await waitFor(() => p.server.standbyStatus().state === 'following' || fatal !== undefined, 'the next try')
    expect(fatal?.message).toBeUndefined()
    expect(s.status.state).toBe('following')
  })

  it('refuses a second standby while one follows', async () => {
    const dir = makeTempDir('dfs-standby-').path
    const p = await primary(dir)
    await standby(join(dir, 'standby'), p.address)
    await waitFor(() => p.server.standbyStatus().state === 'following', 'the standby to catch up')
    const refused = await new Promise<{ code: string; message: string }>(resolve => {
      const socket = handshake(p.server.port, 'another', m => { if (m.t === 'error') resolve(m as never) })
      cleanups.push(() => socket.destroy())
    })
    expect(refused).toMatchObject({ code: 'STANDBY_TAKEN', message: /another standby follows/ })
  })
})

/** A raw standby connection; onMessage hears what the primary sends after the handshake. */
function handshake(port: number, id: string, onMessage: (m: { t: string; [k: string]: unknown }) => void): Socket {
  const socket = connect({ host: '127.0.0.1', port })
  const reader = new MessageReader(() => 1 << 30)
  const nonce = newNonce()
  socket.on('error', () => {})
  socket.on('data', data => {
    for (const m of reader.push(data)) {
      if (m.t === 'hello') send(socket, { t: 'auth', version: NAMENODE_PROTOCOL_VERSION, nonce, proof: clientProof(secret, m.challenge, nonce), client: id, standby: { lastSeq: 0 } })
      else onMessage(m as never)
    }
  })
  return socket
}

/** A standby that acks its snapshot and then nothing more (hung, or its disk stalled). */
function muteStandby(port: number): Promise<Socket> {
  return new Promise(resolve => {
    let seq = 0
    const socket = handshake(port, 'mute', m => {
      if (m.t === 'follow') seq = m.seq as number
      if (m.t === 'snap' && m.done) send(socket, { t: 'ack', seq })
    })
    cleanups.push(() => socket.destroy())
    resolve(socket)
  })
}
