// A promotion's rounds (src/cluster/fencing.ts takeoverRound): the check, then the claim itself, with
// the old primary speaking to a node in between. Stand-in nodes apply the nodes' own rule
// (datanode/claim.ts refuseClaim and claimedRecord); the old primary's doings are events at a node's
// n-th request, never timers, so nothing here depends on how fast the machine is.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { checkClaims, claimCluster, type Takeover } from '../../src/cluster/fencing.js'
import { type ClaimRequest, claimedRecord, type NodeClaim, refuseClaim } from '../../src/datanode/claim.js'
import type { DataNode } from '../../src/datanode/DataNode.js'
import { readMetaEpoch, writeMetaEpoch } from '../../src/meta/epochClaim.js'

/** The old primary's claim, which the standby's folder copied. */
const OLD = { epoch: 1, token: 'aa'.repeat(16) }
/** Where the standby's journal ends, and the nodes' watermark when it stopped following. */
const STANDBY_SEQ = 10

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

/**
 * A node the old primary claimed. `afterCheck(n)` runs after its n-th check was answered: the old
 * primary may then hold it (`heldFor` more requests are refused with EPOCH_HELD) or journal more.
 */
interface NodeState {
  record: NodeClaim
  heldFor: number
  /** Requests answered, checks and claims. */
  asked: number
  checks: number
  afterCheck(n: number): void
  /** Runs before the node answers a claim (not a check): lets a test order two nodes' answers. */
  beforeClaim(): Promise<void>
  /** The old primary renews its claim here: held for `requests` more, its watermark raised to seq. */
  renew(requests: number, seq?: number): void
}

function oldPrimarysNode(address: string) {
  const state: NodeState = {
    record: { ...OLD, seqWatermark: STANDBY_SEQ },
    heldFor: 0,
    asked: 0,
    checks: 0,
    afterCheck: () => {},
    beforeClaim: async () => {},
    renew(requests, seq = state.record.seqWatermark) {
      state.heldFor = requests
      state.record = { ...state.record, seqWatermark: seq }
    },
  }
  const node = {
    address,
    async claim(request: ClaimRequest) {
      state.asked++
      if (!request.check) await state.beforeClaim()
      const held = state.record.token === OLD.token && state.heldFor > 0 ? '127.0.0.1:5' : undefined
      if (held) state.heldFor--
      const refusal = refuseClaim(state.record, request, address, held)
      if (refusal) throw refusal
      if (request.check) return state.afterCheck(++state.checks)
      state.record = claimedRecord(state.record, request) ?? state.record
    },
  }
  return { state, node: node as unknown as DataNode }
}

async function standbyFolder() {
  const dir = await mkdtemp(join(tmpdir(), 'dfs-takeover-'))
  dirs.push(dir)
  await writeMetaEpoch(dir, OLD)
  return { dir, lastSeq: STANDBY_SEQ, sync: async () => {} }
}

async function promote(meta: Awaited<ReturnType<typeof standbyFolder>>, nodes: DataNode[], takeover: Takeover) {
  const logged: string[] = []
  const result = await claimCluster(meta, nodes, { log: (m) => logged.push(m), refreshMs: 3_600_000, takeover }).then(
    async (fence) => { await fence.close(); return undefined },
    (err: Error & { code?: string }) => err,
  )
  return { err: result, log: logged.join('\n') }
}

describe("a promotion whose old primary speaks to a node between the check and the claim", () => {
  it('renewed its hold: the claim waits for it as the check does, then every node is claimed', async () => {
    const meta = await standbyFolder()
    const a = oldPrimarysNode('tcp://a:1')
    const b = oldPrimarysNode('tcp://b:1')
    b.state.afterCheck = () => b.state.renew(2)
    const { err, log } = await promote(meta, [a.node, b.node], { waitMs: 60_000, pollMs: 1 })
    expect(err).toBeUndefined()
    expect([a.state.record.epoch, b.state.record.epoch]).toEqual([2, 2])
    expect(log).toMatch(/the old primary spoke to a node again between the check and the claim: waiting up to 1m more for its claim to lapse: node tcp:\/\/b:1 is held by a running NameNode of epoch 1/)
    expect(log).toMatch(/the old primary's claim has lapsed: the nodes are claimed/)
  })

  it('held it past the wait: refused, saying what the promotion changed already and the way on', async () => {
    const meta = await standbyFolder()
    const a = oldPrimarysNode('tcp://a:1')
    const b = oldPrimarysNode('tcp://b:1')
    b.state.afterCheck = () => b.state.renew(Infinity)
    const { err } = await promote(meta, [a.node, b.node], { waitMs: 0 })
    expect(err?.code).toBe('EPOCH_HELD')
    expect(err?.message).toMatch(new RegExp(
      `^the promotion of metadata folder ${meta.dir} stopped part way: its claim \\(epoch 2\\) is in the folder, and node tcp://a:1 took it and refuses the old primary from now on\\. ` +
      'Node tcp://b:1 is still held by the old primary after waiting 0s for its claim to lapse .*; then run the promotion again$'))
    expect((await readMetaEpoch(meta.dir))?.epoch).toBe(2)
    expect([a.state.record.epoch, b.state.record.epoch]).toEqual([2, 1])
  })

  it('journaled more: refused without --accept-loss, naming the records and the way on, never "nothing was changed"', async () => {
    const meta = await standbyFolder()
    const a = oldPrimarysNode('tcp://a:1')
    const b = oldPrimarysNode('tcp://b:1')
    b.state.afterCheck = () => b.state.renew(0, STANDBY_SEQ + 5)
    const { err } = await promote(meta, [a.node, b.node], { waitMs: 0 })
    expect(err?.code).toBe('EPOCH_BEHIND')
    expect(err?.message).toBe(
      `the promotion of metadata folder ${meta.dir} stopped part way: its claim (epoch 2) is in the folder, and node tcp://a:1 took it and refuses the old primary from now on. ` +
      `Then node tcp://b:1 showed the old primary journaled 5 records after the check (up to seq ${STANDBY_SEQ + 5}; this standby's journal ends at seq ${STANDBY_SEQ}): ` +
      'finish the promotion with --accept-loss, which gives them up')

    // Run again without --accept-loss, it still sees those records, although the folder's claim moved
    // on past the one node b holds; with it, it gives them up, and says so.
    const again = await promote(meta, [a.node, b.node], { waitMs: 0 })
    expect(again.err?.code).toBe('EPOCH_BEHIND')
    expect(again.err?.message).toMatch(/^promoting metadata folder \S+ would lose 5 records: node tcp:\/\/b:1 holds the primary's journal up to seq 15, and this standby's ends at seq 10 .*nothing was changed\. An earlier run of this promotion stopped part way, and the nodes that took its claim refuse the old primary: finish the promotion with --accept-loss, which gives them up$/)
    expect([a.state.record.epoch, b.state.record.epoch]).toEqual([2, 1])
    const accepted = await promote(meta, [a.node, b.node], { waitMs: 0, acceptLoss: true })
    expect(accepted.err).toBeUndefined()
    expect(accepted.log).toMatch(/--accept-loss: promoting metadata folder \S+ loses 5 records \(seq 11–15\)/)
    expect([a.state.record.epoch, b.state.record.epoch]).toEqual([3, 3])
    expect((await readMetaEpoch(meta.dir))?.promotingFrom, 'forgotten once every node took the claim').toBeUndefined()
  })

  it('stopped part way twice, then journaled more: run again, the promotion still sees those records', async () => {
    const meta = await standbyFolder()
    const b = oldPrimarysNode('tcp://b:1')
    for (const run of [1, 2]) {
      // Held again after the run's last check (a run after one that stopped part way checks twice: as
      // from its own claim and as from the old primary's).
      const last = b.state.checks + run
      b.state.afterCheck = (n) => { if (n === last) b.state.renew(Infinity) }
      const { err } = await promote(meta, [b.node], { waitMs: 0 })
      expect(err?.message, `run ${run}`).toMatch(/stopped part way: .* and no node took it yet\. Node tcp:\/\/b:1 is still held/)
      b.state.renew(0)
    }
    expect(await readMetaEpoch(meta.dir)).toMatchObject({ epoch: 3, promotingFrom: OLD })
    b.state.afterCheck = () => {}
    b.state.renew(0, STANDBY_SEQ + 5)
    const { err } = await promote(meta, [b.node], { waitMs: 0 })
    expect(err?.message).toMatch(/^promoting metadata folder \S+ would lose 5 records: node tcp:\/\/b:1 holds the primary's journal up to seq 15/)
    expect(b.state.record.epoch).toBe(1)
  })

  it('says the largest loss any node shows, and names every node that took the claim', async () => {
    const meta = await standbyFolder()
    const a = oldPrimarysNode('tcp://a:1')
    const b = oldPrimarysNode('tcp://b:1')
    const c = oldPrimarysNode('tcp://c:1')
    b.state.afterCheck = () => b.state.renew(0, STANDBY_SEQ + 5)
    c.state.afterCheck = () => c.state.renew(0, STANDBY_SEQ + 10)
    // a answers its claim only after b and c refused theirs.
    let refused!: () => void
    const bothRefused = new Promise<void>((resolve) => { refused = resolve })
    let answered = 0
    for (const n of [b, c]) n.state.beforeClaim = async () => { if (++answered === 2) setImmediate(refused) }
    a.state.beforeClaim = () => bothRefused
    const { err } = await promote(meta, [a.node, b.node, c.node], { waitMs: 0 })
    expect(err?.message).toMatch(/node tcp:\/\/a:1 took it and refuses the old primary from now on\. Then node tcp:\/\/c:1 showed the old primary journaled 10 records after the check \(up to seq 20;/)
    expect(a.state.record.epoch).toBe(2)

    const accepted = await promote(meta, [a.node, b.node, c.node], { waitMs: 0, acceptLoss: true })
    expect(accepted.err).toBeUndefined()
    expect(accepted.log).toMatch(/loses 10 records \(seq 11–20\)/)
  })

  it('journaled more, with --accept-loss: the records given up are said, although the check found none', async () => {
    const meta = await standbyFolder()
    const a = oldPrimarysNode('tcp://a:1')
    const b = oldPrimarysNode('tcp://b:1')
    b.state.afterCheck = () => b.state.renew(0, STANDBY_SEQ + 5)
    const { err, log } = await promote(meta, [a.node, b.node], { waitMs: 0, acceptLoss: true })
    expect(err).toBeUndefined()
    expect(log).toMatch(/--accept-loss: nothing to accept/)
    expect(log).toContain(`--accept-loss: promoting metadata folder ${meta.dir} loses 5 records (seq ${STANDBY_SEQ + 1}–${STANDBY_SEQ + 5}) the old primary journaled and this standby never got`)
    expect([a.state.record.epoch, b.state.record.epoch]).toEqual([2, 2])
  })

  it('waits once in all: a round after the look before the store opened waits only for what is left of --promote-wait', async () => {
    const meta = await standbyFolder()
    const b = oldPrimarysNode('tcp://b:1')
    const takeover = { waitMs: 60_000, pollMs: 1, deadline: Date.now() + 60_000 }
    await checkClaims(meta, [b.node], { log: () => {}, takeover })
    // The wait is spent (as if the look had waited it out); the old primary holds the node again.
    takeover.deadline = Date.now() - 1
    b.state.renew(Infinity)
    const asked = b.state.asked
    const { err } = await promote(meta, [b.node], takeover)
    expect(b.state.asked - asked, 'asked once, not again every pollMs for another minute').toBe(1)
    expect(err?.code).toBe('EPOCH_HELD')
    expect(err?.message).toMatch(/^node tcp:\/\/b:1 is still held by the old primary after waiting 1m for its claim to lapse/)
    expect((await readMetaEpoch(meta.dir))?.epoch, 'a refused check writes nothing').toBe(1)
  })
})
