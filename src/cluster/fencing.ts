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

import type { ClaimRequest, EpochClaim } from '../datanode/claim.js'
import { newClaimToken } from '../datanode/claim.js'
import type { DataNode } from '../datanode/DataNode.js'
import { TcpDataNode } from '../datanode/tcp/TcpDataNode.js'
import { dfsError, isDfsError } from '../errors.js'
import { levelled } from '../log/Log.js'
import { readMetaEpoch, writeMetaEpoch } from '../meta/epochClaim.js'
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
}

const DEFAULT_REFRESH_MS = 5000

/** Claim the nodes for this metadata folder (steps 1-3) and keep the claim fresh (step 4). */
export async function claimCluster(meta: ClaimingMeta, nodes: readonly DataNode[], options: FenceOptions): Promise<Fence> {
  const log = levelled(options.log)
  const previous = await readMetaEpoch(meta.dir)
  const basis = previous ? { epoch: previous.epoch, token: previous.token } : undefined
  const claim = { epoch: (basis?.epoch ?? 0) + 1, token: newClaimToken() }
  let request: ClaimRequest = { claim, ...(basis ? { basis } : {}), seq: meta.lastSeq, ...(previous?.afterRepair ? { afterRepair: true } : {}) }
  const fenced = nodes.filter((node): node is DataNode & Required<Pick<DataNode, 'claim'>> => node.claim !== undefined)

  // A server that does not answer now takes the claim when it does (TcpDataNode claims first thing).
  const down = new Set<DataNode>()
  const each = (req: ClaimRequest) => Promise.all(fenced.map(async (node) => {
    if (down.has(node) && node instanceof TcpDataNode) return node.holdClaim(req)
    try {
      await node.claim(req)
    } catch (err) {
      if (isServerAddress(node.address) && isDfsError(err, 'NODE_UNAVAILABLE')) {
        down.add(node)
        return
      }
      throw explained(err, meta.dir)
    }
  }))
  await each({ ...request, check: true })
  await writeMetaEpoch(meta.dir, { ...claim, ...(basis ? { previous: basis } : {}) })
  await each(request)

  const reported = new Map<string, string>()
  const report = (address: string, err: unknown) => {
    const message = (err as Error).message
    if (reported.get(address) === message) return
    reported.set(address, message)
    log.warn(`node ${address}: this NameNode (epoch ${claim.epoch}) cannot hold its claim there any more, so it cannot delete there: ${message}`)
  }
  for (const node of fenced) if (node instanceof TcpDataNode) node.on('fenced', (err) => report(node.address, err))

  let refreshing: Promise<void> | undefined
  let lastFailure: string | undefined
  let closed = false
  // Sent every time, changed or not: a server counts its claim as held by a connection it hears from.
  const raise = async (durable: boolean) => {
    const seq = meta.lastSeq
    if (seq > request.seq) {
      if (durable) await meta.sync()
      request = { ...request, seq }
    }
    await Promise.all(fenced.map((node) => node.claim(request).then(
      () => reported.delete(node.address),
      (err: unknown) => { if (!isDfsError(err, 'NODE_UNAVAILABLE')) report(node.address, err) },
    )))
  }
  const refresh = () => {
    // A failed journal fails every try the same way: said once.
    refreshing ??= raise(true).then(() => { lastFailure = undefined }, (err: unknown) => {
      const message = (err as Error).message
      if (message !== lastFailure) log.warn(`raising the nodes' seq watermark failed: ${message}`)
      lastFailure = message
    }).finally(() => { refreshing = undefined })
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
    refresh,
    raiseTo,
    async close() {
      if (closed) return
      closed = true
      clearInterval(timer)
      await refreshing
      await raise(false).catch((err: unknown) => log.warn(`raising the nodes' seq watermark at close failed: ${(err as Error).message}`))
    },
  }
}

/**
 * A node's refusal, said about the metadata folder by name. A server's message keeps the address the
 * client gave it in front (the server names itself by its folder).
 */
function explained(err: unknown, dir: string): unknown {
  if (!isDfsError(err) || (err.code !== 'EPOCH_BEHIND' && err.code !== 'EPOCH_HELD')) return err
  return dfsError(err.code, err.message.replace('this metadata folder', `metadata folder ${dir}`), { ...err.context, meta: dir }, err)
}
