// Fencing, the node's half: which NameNode may delete here. Every NameNode that opens the cluster for
// writing claims each node with the next epoch and a fresh random token, compare-and-swap from the
// claim its metadata folder last made (the basis). The node keeps the current claim in
// <dir>/dfs-claim.json, beside dfs-node.json (the file's layout: claimFile.ts).
//
// seqWatermark is the highest durable journal seq a holder of the claim reported. A metadata folder
// whose basis is older than the node's claim, or whose journal ends before the watermark, is a copy or
// a restored backup: it is refused (EPOCH_BEHIND) and can read, but never delete. Deletes are taken
// only from the holder of the current claim (FENCED otherwise); puts and gets need no claim.

import { randomBytes } from 'node:crypto'
import { dfsError, type DfsError } from '../errors.js'

export interface EpochClaim {
  epoch: number
  token: string
}

export interface NodeClaim extends EpochClaim {
  /** The highest durable journal seq a holder of this claim has reported. */
  seqWatermark: number
}

export interface ClaimRequest {
  /** The claim to take (or, when the node already holds it, to refresh). */
  claim: EpochClaim
  /** The claim the claimant's metadata folder made before this one; undefined: it never made one. */
  basis?: EpochClaim
  /** The claimant's last durable journal seq. */
  seq: number
  /** The metadata folder was repaired (its journal cut): the node's watermark may be above seq. */
  afterRepair?: boolean
  /** Decide only: refuse as a claim would, write nothing. */
  check?: boolean
}

export const sameClaim = (a: EpochClaim | undefined, b: EpochClaim | undefined): boolean =>
  a !== undefined && b !== undefined && a.epoch === b.epoch && a.token === b.token

/** A fresh token: 128 random bits as hex. */
export function newClaimToken(): string {
  return randomBytes(16).toString('hex')
}

/**
 * Whether the node (now holding `record`) takes the claim, as the one rule every transport applies.
 * `heldBy` names a live session holding the record's claim, if one does (TCP servers only).
 * Returns the error to refuse with, or undefined to accept.
 */
export function refuseClaim(record: NodeClaim | undefined, request: ClaimRequest, node: string, heldBy?: string): DfsError | undefined {
  if (record === undefined || sameClaim(record, request.claim)) return undefined
  const basis = request.basis
  // Journal seqs only in a refusal about them: a promotion reads seqWatermark above seq as records it would lose.
  const context = { node, epoch: record.epoch, basis: basis?.epoch ?? 0 }
  const ahead = basis === undefined || record.epoch > basis.epoch || (record.epoch === basis.epoch && record.token !== basis.token)
  if (ahead) {
    const from = basis !== undefined && record.epoch === basis.epoch ? ` from another metadata folder` : ''
    return dfsError('EPOCH_BEHIND',
      `a newer NameNode (epoch ${record.epoch}) took over: this metadata folder is behind the cluster (a former primary, a copy or a restored backup): node ${node} was claimed by epoch ${record.epoch}${from}, and this folder's last claim is epoch ${basis?.epoch ?? 0}; it can read but never delete`,
      context)
  }
  if (heldBy !== undefined) {
    return dfsError('EPOCH_HELD',
      `node ${node} is held by a running NameNode of epoch ${record.epoch} (connected from ${heldBy}): this metadata folder is a copy of the one in use; use that NameNode or stop it first (a copy can read but never delete)`,
      { ...context, heldBy })
  }
  // Journal lengths compare within one claim's history only: a node behind basis (it missed claims
  // while down) holds a watermark of an older claim, which a restored folder's seqs do not continue.
  if (sameClaim(record, basis) && record.seqWatermark > request.seq && !request.afterRepair) {
    return dfsError('EPOCH_BEHIND',
      `this metadata folder is behind the cluster (a copy or a restored backup): node ${node} was claimed by epoch ${record.epoch} whose journal reached seq ${record.seqWatermark}, and this folder's journal ends at seq ${request.seq}; it can read but never delete`,
      { ...context, seqWatermark: record.seqWatermark, seq: request.seq })
  }
  return undefined
}

/**
 * The record after an accepted claim; undefined when it would not change (nothing to write). A
 * watermark belongs to the claim whose holder reported it: a new claim starts at its claimant's seq.
 * That is above the old watermark anyway, except for a repaired or restored folder let in below it
 * (afterRepair), whose journal goes on from its own seq: carrying the old watermark over would refuse
 * that folder's very next start (EPOCH_BEHIND) until it had written past a history it no longer has.
 */
export function claimedRecord(record: NodeClaim | undefined, request: ClaimRequest): NodeClaim | undefined {
  const watermark = record && sameClaim(record, request.claim) ? Math.max(request.seq, record.seqWatermark) : request.seq
  if (record && sameClaim(record, request.claim) && record.seqWatermark === watermark) return undefined
  return { epoch: request.claim.epoch, token: request.claim.token, seqWatermark: watermark }
}

export function isEpochClaim(value: unknown): value is EpochClaim {
  const v = value as Partial<EpochClaim> | null | undefined
  return Number.isSafeInteger(v?.epoch) && v!.epoch! >= 0 && typeof v?.token === 'string' && /^[0-9a-f]{1,64}$/.test(v.token)
}

/** A claim request from the wire; undefined when malformed. */
export function parseClaimRequest(value: unknown): ClaimRequest | undefined {
  const v = value as Partial<ClaimRequest> | null | undefined
  if (!v || !isEpochClaim(v.claim) || (v.basis !== undefined && !isEpochClaim(v.basis))) return undefined
  if (!Number.isSafeInteger(v.seq) || v.seq! < 0) return undefined
  return {
    claim: { epoch: v.claim.epoch, token: v.claim.token },
    ...(v.basis ? { basis: { epoch: v.basis.epoch, token: v.basis.token } } : {}),
    seq: v.seq!,
    ...(v.afterRepair === true ? { afterRepair: true } : {}),
    ...(v.check === true ? { check: true } : {}),
  }
}

/**
 * What a claim refusal (refuseClaim, or a delete's FENCED) says in numbers: the node's epoch, its
 * watermark and the claimant's seq. From the error's context in this process; from its message when
 * it came over the wire (a DataNode server sends only the message), which these texts write.
 */
export function claimRefusal(err: DfsError): { epoch?: number; seqWatermark?: number; seq?: number } {
  const c = err.context
  const num = (v: unknown) => (Number.isSafeInteger(v) ? (v as number) : undefined)
  const parsed = (re: RegExp) => { const m = re.exec(err.message); return m ? Number(m[1]) : undefined }
  return {
    epoch: num(c.epoch) ?? parsed(/claimed by epoch (\d+)/) ?? parsed(/epoch (\d+) (?:claimed it after|holds it)/),
    seqWatermark: num(c.seqWatermark) ?? parsed(/journal reached seq (\d+)/),
    seq: num(c.seq) ?? parsed(/this folder's journal ends at seq (\d+)/),
  }
}

export function fencedError(node: string, why: string, id?: string): DfsError {
  return dfsError('FENCED',
    `node ${node} refuses to delete${id ? ` chunk ${id}` : ''}: ${why}; only the NameNode of the node's current epoch deletes chunks`,
    id ? { node, chunk: id } : { node })
}
