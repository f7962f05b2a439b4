// Fencing, the NameNode's half: opening a cluster for writing claims every reachable DataNode with
// the next epoch, so a copy of the metadata folder (or a restored backup) can never delete live data.
// The rule each node applies is datanode/claim.ts; the folder's record is meta/epochClaim.ts.
//
//   1. check every reachable node (nothing written): any refusal refuses the open, changing nothing;
//   2. write the new claim to the metadata folder, durably (a crash after this is recovered by the
//      next open: the nodes are still at the basis, which is behind the folder's claim, not ahead);
//   3. claim the nodes (a server that is down takes the claim when it connects);
//   4. while open, every few seconds, and at close: raise the nodes' seq watermark to the durable
//      journal seq, so a copy taken while this one ran is behind once this one wrote more (and a
//      server hears from its holder: it counts the claim as held only by a connection it hears from).
//   5. a node that refuses a refresh of the claim it took (EPOCH_BEHIND) was claimed by a newer
//      NameNode (a promoted standby): this one is superseded (`superseded` resolves) and must stop
//      serving changes. A NameNode that was stopped (SIGSTOP, a frozen VM) or cut off longer than a
//      node's hold may have been superseded without hearing of it yet: before it acknowledges a sync
//      it asks the nodes again when its last word with them is older than `leaseMs` (confirm()).
//
// A promotion (`takeover`) claims from the primary's claim its standby copied: while the old primary
// still holds the nodes (EPOCH_HELD: its connection was heard from lately) it waits, bounded, for
// that hold to lapse; a watermark above the standby's journal is refused unless losing those records
// is accepted. The claim is such a round too, since the old primary may speak to a node between the
// check and the claim; a promotion stopped there has written, and says what (stoppedPartWay).

import type { ClaimRequest, EpochClaim } from '../datanode/claim.js'
import { claimRefusal, newClaimToken } from '../datanode/claim.js'
import type { DataNode } from '../datanode/DataNode.js'
import { TcpDataNode } from '../datanode/tcp/TcpDataNode.js'
import { type DfsError, dfsError, isDfsError } from '../errors.js'
import { type Log, levelled } from '../log/Log.js'
import { readMetaEpoch, writeMetaEpoch } from '../meta/epochClaim.js'
import { formatDuration } from '../util/size.js'
import { isServerAddress } from './nodes.js'

/** What fencing needs of the metadata store. */
export interface ClaimingMeta {
  readonly dir: string
  /** The seq of the last record committed (after replay at open: all of them durable). */
  readonly lastSeq: number
  /** Resolves once every record committed so far is durable. */
  sync(): Promise<void>
}

export interface FenceOptions {
  log: (message: string) => void
  /** How often the seq watermark is raised while open (ms). Default 5000. */
  refreshMs?: number
  /**
   * How long after its last word with the nodes this NameNode trusts it still holds them (ms): less
   * than a DataNode server's hold (15 s), more than refreshMs. Default 10000.
   */
  leaseMs?: number
  /** A standby's promotion (dfs namenode --promote): how it may claim from the primary's claim. */
  takeover?: Takeover
}

export interface Takeover {
  /** How long to wait for the old primary's hold on a node to lapse (ms). */
  waitMs: number
  /** Claim although the nodes' watermark is above this journal (records the standby never got are lost). */
  acceptLoss?: boolean
  /** How often to ask again while a node is held (ms). Default 1000. */
  pollMs?: number
  /**
   * When the wait ends (Date.now() time), shared by every round of one promotion: the check before the
   * store opens, the check after, and the claim. Default: waitMs from the first ask.
   */
  deadline?: number
}

export interface Fence {
  /** The epoch this process holds. */
  readonly claim: EpochClaim
  /** Raise the watermark to the durable journal seq now (the timer does it by itself). */
  refresh(): Promise<void>
  /**
   * Raise the watermark to seq, which the caller knows is durable, before resolving (concurrent
   * callers share one round of claims). A primary whose standby fell behind acknowledges an fsync
   * only once the nodes know how far it got, so that standby cannot be promoted without saying what
   * it would lose.
   */
  raiseTo(seq: number): Promise<void>
  /** Stop the timer; with the store closed (its journal durable), raise the watermark a last time. */
  close(): Promise<void>
  /**
   * Resolves (never rejects) with a SUPERSEDED error once a node refuses this claim because a newer
   * NameNode claimed it: from then on this process must not acknowledge any change.
   */
  readonly superseded: Promise<DfsError>
  /**
   * Resolves when this NameNode may acknowledge: its last word with the nodes is recent enough that no
   * newer one can have claimed them since (else it asks them now). Rejects with SUPERSEDED when one has,
   * and with NODE_UNAVAILABLE while no node answers (cut off, it cannot know).
   */
  confirm(): Promise<void>
}

const DEFAULT_REFRESH_MS = 5000
const DEFAULT_LEASE_MS = 10_000

/**
 * Step 1 alone, before the metadata store is opened (which writes: its lock, a new journal segment):
 * refuse, writing nothing anywhere, what claiming would refuse. `lastSeq` is the folder's last
 * durable record as read from disk. claimCluster checks again once the store is open.
 */
export async function checkClaims(meta: Pick<ClaimingMeta, 'dir' | 'lastSeq'>, nodes: readonly ClaimTarget[], options: Pick<FenceOptions, 'log' | 'takeover'>): Promise<void> {
  const { request, earlier } = await claimPlan(meta, options)
  const nodeRequests = claimer(meta.dir, nodes)
  if (!options.takeover) return void await nodeRequests.each({ ...request, check: true })
  // What --accept-loss gives up is said once, by the claim that follows (claimCluster), not by this look before it.
  await takeoverRound(nodeRequests, request, earlier, meta, { ...options.takeover, deadline: deadlineOf(options.takeover) }, levelled(options.log), { check: true })
}

/** Claim the nodes for this metadata folder (steps 1-3) and keep the claim fresh (step 4). */
export async function claimCluster(meta: ClaimingMeta, nodes: readonly DataNode[], options: FenceOptions): Promise<Fence> {
  const log = levelled(options.log)
  const { basis, claim, request: first, earlier, promotingFrom } = await claimPlan(meta, options)
  let request = first
  const nodeRequests = claimer(meta.dir, nodes)
  const { fenced, each, taken } = nodeRequests
  const takeover = options.takeover && { ...options.takeover, deadline: deadlineOf(options.takeover) }
  const said: LossSaid = { lost: -1 }
  if (!takeover) await each({ ...request, check: true })
  else await takeoverRound(nodeRequests, request, earlier, meta, takeover, log, { check: true, said })
  const record = { ...claim, ...(basis ? { previous: basis } : {}) }
  await writeMetaEpoch(meta.dir, { ...record, ...(promotingFrom ? { promotingFrom } : {}) })
  if (!takeover) await each(request)
  else {
    // The old primary may speak to a node between the check and the claim (renew its hold, journal
    // more): the claim is a round of its own, as the check was. Claiming again is harmless where it took.
    await takeoverRound(nodeRequests, request, earlier, meta, takeover, log, { check: false, said })
      .catch((err: unknown) => { throw stoppedPartWay(err, claim, [...taken], meta) })
    if (promotingFrom) await writeMetaEpoch(meta.dir, record) // every node took it: nothing left to compare with
  }

  let supersede!: (err: DfsError) => void
  const superseded = new Promise<DfsError>((resolve) => { supersede = resolve })
  let supersededBy: DfsError | undefined
  const reported = new Map<string, string>()
  const report = (address: string, err: unknown) => {
    // A node that took this claim refuses it only once a newer one replaced it there.
    if (!supersededBy && isDfsError(err, 'EPOCH_BEHIND')) {
      clearInterval(timer)
      const newer = claimRefusal(err).epoch
      supersededBy = dfsError('SUPERSEDED',
        `a newer NameNode (epoch ${newer ?? `${claim.epoch + 1} or later`}) took over the cluster: node ${address} refuses this NameNode's claim (epoch ${claim.epoch}), ` +
        `so metadata folder ${meta.dir} is no longer the cluster's; this one stops serving (use the NameNode that took over; this folder can read but never delete)`,
        { node: address, epoch: newer, claimed: claim.epoch, meta: meta.dir }, err)
      supersede(supersededBy)
    }
    // The node's own words about a refused refresh name the folder's claim before this one (the
    // basis), not the one this NameNode holds: said here in this NameNode's terms instead.
    const message = supersededBy && isDfsError(err, 'EPOCH_BEHIND')
      ? `a newer NameNode (epoch ${claimRefusal(err).epoch ?? `${claim.epoch + 1} or later`}) claimed it since`
      : (err as Error).message
    if (reported.get(address) === message) return
    reported.set(address, message)
    log.warn(`node ${address}: this NameNode (epoch ${claim.epoch}) cannot hold its claim there any more, so it cannot delete there: ${message}`)
  }
  for (const node of fenced) if (node instanceof TcpDataNode) node.on('fenced', (err) => report(node.address, err))

  let refreshing: Promise<void> | undefined
  let lastFailure: string | undefined
  let closed = false
  // Sent every time, changed or not: a server counts its claim as held by a connection it hears from.
  // Resolves with whether a node took it (or no node takes claims): a round no node answered is no word with them.
  const raise = async (durable: boolean): Promise<boolean> => {
    const seq = meta.lastSeq
    if (seq > request.seq) {
      if (durable) await meta.sync()
      request = { ...request, seq }
    }
    let heard = fenced.length === 0
    await Promise.all(fenced.map((node) => node.claim(request).then(
      () => { heard = true; reported.delete(node.address) },
      (err: unknown) => { if (!isDfsError(err, 'NODE_UNAVAILABLE')) report(node.address, err) },
    )))
    return heard
  }
  // When the last round of claims that reached the nodes was sent (the claim itself was just taken).
  let confirmedAt = Date.now()
  const round = () => {
    const sentAt = Date.now()
    return raise(true).then((heard) => {
      lastFailure = undefined
      if (heard) confirmedAt = Math.max(confirmedAt, sentAt)
    }, (err: unknown) => {
      // A failed journal fails every try the same way: said once.
      const message = (err as Error).message
      if (message !== lastFailure) log.warn(`raising the nodes' seq watermark failed: ${message}`)
      lastFailure = message
    })
  }
  const refresh = () => {
    refreshing ??= round().finally(() => { refreshing = undefined })
    return refreshing
  }
  let wanted = 0
  let pumping: Promise<void> | undefined
  const raiseTo = (seq: number): Promise<void> => {
    wanted = Math.max(wanted, seq)
    pumping ??= (async () => {
      while (request.seq < wanted && !closed) {
        request = { ...request, seq: wanted }
        await Promise.all(fenced.map((node) => node.claim(request).then(
          () => reported.delete(node.address),
          (err: unknown) => { if (!isDfsError(err, 'NODE_UNAVAILABLE')) report(node.address, err) },
        )))
      }
    })().finally(() => { pumping = undefined })
    return pumping
  }
  const timer = setInterval(() => { if (!closed) void refresh() }, options.refreshMs ?? DEFAULT_REFRESH_MS)
  timer.unref()
  return {
    claim,
    superseded,
    refresh,
    raiseTo,
    async confirm() {
      const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS
      if (!supersededBy && Date.now() - confirmedAt >= leaseMs) await refresh()
      if (supersededBy) throw supersededBy
      // Cut off from every node (a network partition): a newer NameNode may hold them by now.
      if (Date.now() - confirmedAt >= leaseMs) {
        throw dfsError('NODE_UNAVAILABLE',
          `no DataNode has answered this NameNode (epoch ${claim.epoch}) for ${Math.round((Date.now() - confirmedAt) / 1000)} s, so it cannot tell whether a newer NameNode took over: ` +
          'it acknowledges no sync until one answers; restore its network to the DataNodes (or start them)',
          { epoch: claim.epoch, meta: meta.dir })
      }
    },
    async close() {
      if (closed) return
      closed = true
      clearInterval(timer)
      await refreshing
      await raise(false).catch((err: unknown) => log.warn(`raising the nodes' seq watermark at close failed: ${(err as Error).message}`))
    },
  }
}

/** The claim this folder makes next: the epoch after its last claim, from that claim (the basis). */
async function claimPlan(meta: Pick<ClaimingMeta, 'dir' | 'lastSeq'>, options: Pick<FenceOptions, 'takeover'>) {
  const previous = await readMetaEpoch(meta.dir)
  const basis = previous ? { epoch: previous.epoch, token: previous.token } : undefined
  const claim = { epoch: (basis?.epoch ?? 0) + 1, token: newClaimToken() }
  const afterRepair = previous?.afterRepair || options.takeover?.acceptLoss
  const request: ClaimRequest = { claim, ...(basis ? { basis } : {}), seq: meta.lastSeq, ...(afterRepair ? { afterRepair: true } : {}) }
  // A promotion run again after one that stopped part way (epochClaim.ts): where it started from.
  const earlier = options.takeover ? previous?.promotingFrom : undefined
  const promotingFrom = options.takeover ? earlier ?? basis : undefined
  return { basis, claim, request, earlier, promotingFrom }
}

/** What claiming needs of a node: a DataNode, or for a check only, anything that answers as one would. */
export type ClaimTarget = Pick<DataNode, 'address' | 'claim'>
type FencedNode<N extends ClaimTarget> = N & Required<Pick<DataNode, 'claim'>>

type NodeRequests = Pick<ReturnType<typeof claimer>, 'each' | 'refusals'>

/** Send one claim request to every node that takes claims. */
function claimer<N extends ClaimTarget>(dir: string, nodes: readonly N[]) {
  const fenced = nodes.filter((node): node is FencedNode<N> => node.claim !== undefined)
  // A server that does not answer now takes the claim when it does (TcpDataNode claims first thing).
  const down = new Set<ClaimTarget>()
  /** The nodes that took a claim sent (not a check): what a promotion stopped part way has changed. */
  const taken = new Set<string>()
  // Every node is heard out before a refusal is thrown: `taken` is then complete, and the refusal
  // thrown is the one that matters most (worstOf).
  const each = async (req: ClaimRequest): Promise<void> => {
    const refused = (await Promise.allSettled(fenced.map(async (node) => {
      if (down.has(node) && node instanceof TcpDataNode) {
        if (!req.check) node.holdClaim(req) // a check holds nothing
        return
      }
      try {
        await node.claim(req)
        if (!req.check) taken.add(node.address)
      } catch (err) {
        if (isServerAddress(node.address) && isDfsError(err, 'NODE_UNAVAILABLE')) {
          down.add(node)
          return
        }
        throw explained(err, dir)
      }
    }))).flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
    if (refused.length > 0) throw worstOf(refused)
  }
  /** Ask (check only) every node that answers; the refusals, each node's own. */
  const refusals = async (req: ClaimRequest): Promise<unknown[]> => {
    const asked = await Promise.allSettled(fenced.filter((node) => !down.has(node)).map((node) => node.claim({ ...req, check: true })))
    return asked.flatMap((r) => (r.status === 'rejected' ? [explained(r.reason, dir)] : []))
  }
  return { fenced, each, taken, refusals }
}

/** Of several nodes' refusals, the largest loss (records the old primary journaled beyond this journal), else the first. */
function worstOf(refusals: unknown[]): unknown {
  let worst: { err: unknown; seqWatermark: number } | undefined
  for (const err of refusals) {
    const loss = lossOf(err)
    if (loss && (!worst || loss.seqWatermark > worst.seqWatermark)) worst = { err, seqWatermark: loss.seqWatermark }
  }
  return worst?.err ?? refusals[0]
}

/** What a promotion's --accept-loss has said it gives up so far: -1 nothing said yet. */
interface LossSaid {
  lost: number
}

/** When a promotion's wait for the old primary's hold ends: the deadline set for it, else waitMs from now. */
export const deadlineOf = (takeover: Takeover): number => takeover.deadline ?? Date.now() + takeover.waitMs

/**
 * One round of a promotion's requests to the nodes: the check (nothing written), or the claim itself.
 * Each round waits (bounded) while the old primary still holds a node, and each says what
 * --accept-loss gives up, because the old primary may speak to a node between the rounds: renew its
 * hold, or journal records this standby never got. `said` absent: a look that says nothing of a loss
 * (checkClaims, before the store opens).
 */
async function takeoverRound(nodes: NodeRequests, request: ClaimRequest, earlier: EpochClaim | undefined, meta: Pick<ClaimingMeta, 'dir'>,
  takeover: Takeover & { deadline: number }, log: Log, round: { check: boolean; said?: LossSaid }): Promise<void> {
  const send = (req: ClaimRequest) => async () => {
    // A promotion that stopped part way before left the folder's claim ahead of the nodes it did not
    // take: those still hold the old primary's claim (`earlier`, epoch.json's promotingFrom) and its
    // watermark, which a node compares only for a request from that claim. So they are asked as from
    // it too (check only), and a watermark refusal counts as one at the basis would; the other
    // refusals (the nodes that took a claim of this folder: "a newer NameNode") are the request's own business.
    if (earlier && !req.afterRepair) {
      const losses = (await nodes.refusals({ ...req, basis: earlier })).filter((err) => lossOf(err))
      if (losses.length > 0) throw worstOf(losses)
    }
    await nodes.each(round.check ? { ...req, check: true } : req)
  }
  try {
    if (takeover.acceptLoss && round.said) {
      // Asked first as if the loss were not accepted, so that what it costs is said, not passed over.
      const loss = await waitWhileHeld(send({ ...request, afterRepair: undefined }), takeover, meta, log, round.check).then(() => undefined, (err: unknown) => {
        const loss = lossOf(err)
        if (!loss) throw err
        return loss
      })
      if (loss && loss.lost > round.said.lost) {
        log.warn(`--accept-loss: promoting metadata folder ${meta.dir} loses ${records(loss.lost)} (seq ${loss.seq + 1}–${loss.seqWatermark}) the old primary journaled and this standby never got; ` +
          `the changes in them are gone (clients that made them are told at their next fsync), and the chunks they wrote become orphans`)
      } else if (!loss && round.said.lost < 0) {
        log.info(`--accept-loss: nothing to accept; this standby holds every record the DataNodes saw the old primary journal`)
      }
      round.said.lost = Math.max(round.said.lost, loss?.lost ?? 0)
      // Every node would take the request as it is, nothing accepted. A claim is sent again all the
      // same, as accepting: a server that is down holds the last claim sent for when it comes back.
      if (!loss && round.check) return
    }
    await waitWhileHeld(send(request), takeover, meta, log, round.check)
  } catch (err) {
    // A refused check changed nothing: a watermark above this journal is said as what it is for a standby.
    throw round.check ? standbyBehind(err, earlier, meta) : err
  }
}

/** Send until no node is held by the old primary any more, or the promotion's wait is over. */
async function waitWhileHeld(send: () => Promise<unknown>, takeover: Takeover & { deadline: number }, meta: Pick<ClaimingMeta, 'dir'>, log: Log, check: boolean): Promise<void> {
  let waiting = false
  for (;;) {
    try {
      await send()
      if (waiting) log.info(check ? 'the old primary\'s claim has lapsed on every node: claiming them' : 'the old primary\'s claim has lapsed: the nodes are claimed')
      return
    } catch (err) {
      if (!isDfsError(err, 'EPOCH_HELD')) throw err
      const left = takeover.deadline - Date.now()
      if (left <= 0) {
        const node = String(err.context.node ?? 'a node')
        throw dfsError('EPOCH_HELD',
          `node ${node} is still held by the old primary after waiting ${formatDuration(takeover.waitMs)} for its claim to lapse (${err.message}): ` +
          `it still runs and talks to its DataNodes; stop it (or cut it off from them) first, or wait longer with --promote-wait <duration>`,
          { ...err.context, meta: meta.dir }, err)
      }
      if (!waiting) {
        const upTo = formatDuration(left >= 1000 ? Math.ceil(left / 1000) * 1000 : left)
        log.warn(check
          ? `waiting up to ${upTo} for the old primary's claim to lapse (a node holds it while it hears from that NameNode): ${err.message}`
          : `the old primary spoke to a node again between the check and the claim: waiting up to ${upTo} more for its claim to lapse: ${err.message}`)
      }
      waiting = true
      await new Promise((resolve) => setTimeout(resolve, Math.min(takeover.pollMs ?? 1000, left)))
    }
  }
}

const records = (n: number) => `${n} record${n === 1 ? '' : 's'}`

/** The records a watermark refusal says the old primary journaled beyond this journal; undefined for any other refusal. */
function lossOf(err: unknown): { node: string; seq: number; seqWatermark: number; lost: number } | undefined {
  if (!isDfsError(err, 'EPOCH_BEHIND')) return undefined
  const { seqWatermark, seq } = claimRefusal(err)
  if (seqWatermark === undefined || seq === undefined || seqWatermark <= seq) return undefined
  return { node: String(err.context.node), seq, seqWatermark, lost: seqWatermark - seq }
}

function standbyBehind(err: unknown, earlier: EpochClaim | undefined, meta: Pick<ClaimingMeta, 'dir'>): unknown {
  const loss = lossOf(err)
  if (!loss) return err // said about the folder by name already (claimer)
  const would = `promoting metadata folder ${meta.dir} would lose ${records(loss.lost)}: node ${loss.node} holds the primary's journal up to seq ${loss.seqWatermark}, ` +
    `and this standby's ends at seq ${loss.seq} (the primary carried on without it); nothing was changed`
  // After a run that stopped part way, nodes that took its claim refuse the old primary: it cannot come back.
  const wayOn = earlier
    ? `. An earlier run of this promotion stopped part way, and the nodes that took its claim refuse the old primary: finish the promotion with --accept-loss, which gives them up`
    : `. Start the old primary again if you can, or promote anyway and lose them with --accept-loss`
  return dfsError('EPOCH_BEHIND', would + wayOn, { ...(err as DfsError).context, meta: meta.dir, ...loss }, err)
}

/**
 * A promotion stopped at its claim, unlike one refused at its check, has written by then: the folder's
 * new claim, and on the nodes that took it, which refuse the old primary from now on. It says so, and
 * the way on, which is the promotion again (the old primary cannot go back to nodes that refuse it).
 */
function stoppedPartWay(err: unknown, claim: EpochClaim, taken: string[], meta: Pick<ClaimingMeta, 'dir'>): unknown {
  if (!isDfsError(err)) return err
  const done = `the promotion of metadata folder ${meta.dir} stopped part way: its claim (epoch ${claim.epoch}) is in the folder` +
    (taken.length === 0 ? ', and no node took it yet'
      : taken.length === 1 ? `, and node ${taken[0]} took it and refuses the old primary from now on`
        : `, and nodes ${taken.join(', ')} took it and refuse the old primary from now on`)
  const context = { ...err.context, meta: meta.dir, claimed: claim.epoch, taken }
  const loss = lossOf(err)
  if (loss) {
    // The way on is the promotion with --accept-loss: run without it, the promotion is refused for the
    // same records (the nodes still at the old primary's claim are asked as from it: takeoverRound).
    return dfsError('EPOCH_BEHIND',
      `${done}. Then node ${loss.node} showed the old primary journaled ${records(loss.lost)} after the check (up to seq ${loss.seqWatermark}; this standby's journal ends at seq ${loss.seq}): ` +
      `finish the promotion with --accept-loss, which gives them up`, { ...context, ...loss }, err)
  }
  const said = `${done}. ${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}`
  // Another NameNode claimed a node meanwhile: this folder is not the cluster's line any more, and running again will not change that.
  if (err.code === 'EPOCH_BEHIND') return dfsError(err.code, said, context, err)
  return dfsError(err.code, `${said}; then run the promotion again`, context, err)
}

/**
 * A node's refusal, said about the metadata folder by name.
 */
function explained(err: unknown, dir: string): unknown {
  if (!isDfsError(err) || (err.code !== 'EPOCH_BEHIND' && err.code !== 'EPOCH_HELD')) return err
  let message = err.message
  const address = err.context.node
  if (err.context.remote && typeof address === 'string' && message.startsWith(`${address}: `)) {
    // The news first, and the node by the address the cluster knows it by, then by the folder it serves.
    message = message.slice(address.length + 2).replace(/\bnode (\S+) (was claimed|is held)/, `node ${address} ($1) $2`)
  }
  return dfsError(err.code, message.replace('this metadata folder', `metadata folder ${dir}`), { ...err.context, meta: dir }, err)
}
