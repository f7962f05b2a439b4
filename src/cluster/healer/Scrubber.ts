// The scrubber: re-reads every stored copy of every chunk in the background, slowly, and verifies its
// SHA-256 (for an erasure-coded chunk, every shard of its stripe, each against its own SHA-256), so a copy that rotted on disk is found before a read needs it (and before the other copies
// have rotted too). One pass walks the namespace (chunkWalk.ts) and reads each copy on an alive node
// the ref lists, at most `bytesPerSec`; then it rests and starts again.
//
// Quarantine. A copy that fails its check is read a second time (a bad read can be a transient fault
// on the way, not the disk); if it fails again it is handed to the healer (onBadCopy), which takes it
// out of the replica list at once, puts a verified copy on a node that lacks one, and deletes the bad
// copy once the list without it is durable. Deleted, not renamed aside: the DataNode interface has no
// rename (and a TCP server would need one), a copy that fails SHA-256 has no use we would trust, and
// a renamed file would hold space that no list or usage report shows. The scrubber itself deletes
// nothing: the healer repairs one chunk at a time, so the deletion can never race with a repair that
// just put a fresh copy on that node, and a chunk with no intact copy anywhere keeps its bad ones
// (the healer deletes a corrupt copy only after a good one exists elsewhere).
//
// Stale lists. A pass reads copies from a batch of refs taken a while ago; meanwhile a balance, a
// drain or the healer may have moved a copy (copy, commit the new list, then delete the old copy).
// So a copy found missing or corrupt is reported only if, once nobody holds the chunk's lock, the
// chunk map still lists it there and a second look still fails: a copy moved away is not missing.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import { isBadCopy, readCopy } from '../../chunks/checkCopy.js'
import type { NodeRegistry } from '../../chunks/NodeRegistry.js'
import type { DfsError } from '../../errors.js'
import type { ChunkLocks } from '../chunkLocks.js'
import type { NamespaceMetaStore } from '../openCluster.js'
import { stillReferenced } from '../stillReferenced.js'
import { listsPiece, pieceName, pieceOf, piecesOf } from '../../chunks/layout.js'
import { chunkBatches } from './chunkWalk.js'
import { TokenBucket, sleep } from './TokenBucket.js'
import { type EmitEvent, EventBurst } from '../EventBurst.js'
import { VerifiedCopies } from './VerifiedCopies.js'
import { levelled } from '../../log/Log.js'

export interface ScrubberOptions {
  /** Bytes per second to read and verify; 0 turns the scrubber off. Default 8 MiB/s. */
  bytesPerSec?: number
  /** Pause between the end of one pass and the start of the next (ms). Default 60 s. */
  restMs?: number
}

export const DEFAULT_SCRUBBER_OPTIONS: Required<ScrubberOptions> = {
  bytesPerSec: 8 * 1024 * 1024,
  restMs: 60_000,
}

export interface ScrubberDeps {
  meta: Pick<NamespaceMetaStore, 'state'>
  registry: Pick<NodeRegistry, 'get' | 'health'>
  log: (message: string) => void
  /** Told of every copy found corrupt (twice) or missing: the healer's reportBadCopy. */
  onBadCopy?: (ref: ChunkRef, nodeId: string, reason: DfsError) => void
  /** The per-chunk locks of the healer and the rebalancer: a failed check waits for a move under way. */
  locks?: Pick<ChunkLocks, 'whenFree'>
  /** Copies reported bad and not repaired yet (the healer's isBadCopy): not read or reported again meanwhile. */
  isReported?: (nodeId: string, chunkId: string) => boolean
  options?: ScrubberOptions
  /** The NameNode's event feed: each bad copy found (a burst of them summed up, ../EventBurst.ts). */
  onEvent?: EmitEvent
}

export interface ScrubberStatus {
  state: 'off' | 'scrubbing' | 'resting' | 'stopped'
  /** Chunks and bytes verified since start (every copy counts its bytes). */
  scannedChunks: number
  scannedBytes: number
  /** Copies that failed their check twice, and copies the ref lists that were not there. */
  corruptFound: number
  missingFound: number
  /** Passes completed, and when the last one ended (ms since epoch). */
  passes: number
  lastPassAt?: number
  bytesPerSec: number
}

/** Chunks taken from the namespace at a time (the reads between them yield anyway). */
const BATCH = 256

/**
 * What one copy's check costs against the bandwidth limit: its bytes, but at least 64 KiB. A check
 * is an open, a stat, a read, a close on the node and a hash on the daemon's thread whatever the
 * size, so a namespace of small files must not get 2,048 of them a second at 8 MiB/s (a million
 * 4 KiB files: the daemon's one thread busy with the scrubber while `ls -lR` waits). At least 64 KiB
 * caps that at 128 a second; a pass over such a namespace takes longer, which a scrub may.
 */
export const scrubCharge = (len: number): number => Math.max(len, 64 * 1024)

export class Scrubber {
  readonly #deps: ScrubberDeps
  readonly #options: Required<ScrubberOptions>
  readonly #bucket: TokenBucket
  readonly #abort = new AbortController()
  readonly #counts = { scannedChunks: 0, scannedBytes: 0, corruptFound: 0, missingFound: 0, passes: 0 }
  #lastPassAt: number | undefined
  #state: ScrubberStatus['state']
  #running: Promise<void> | undefined
  readonly #finds: EventBurst | undefined
  /** When each copy last verified intact (`dfs info`, the dashboard's file view). */
  readonly verified = new VerifiedCopies()

  constructor(deps: ScrubberDeps) {
    this.#deps = deps
    const given = Object.fromEntries(Object.entries(deps.options ?? {}).filter(([, v]) => v !== undefined))
    this.#options = { ...DEFAULT_SCRUBBER_OPTIONS, ...given }
    this.#bucket = new TokenBucket(this.#options.bytesPerSec)
    this.#state = this.#options.bytesPerSec > 0 ? 'resting' : 'off'
    this.#finds = deps.onEvent && new EventBurst(deps.onEvent, (count, windowMs) => ({
      kind: 'corruption', level: 'warn', count,
      message: `the scrubber found ${count} more bad cop${count === 1 ? 'y' : 'ies'} in the last ${windowMs / 1000} s; handed to the healer`,
    }))
  }

  start(): void {
    if (this.#options.bytesPerSec <= 0 || this.#running || this.#abort.signal.aborted) return
    this.#running = this.#loop()
  }

  /** Stop after the read under way. */
  async stop(): Promise<void> {
    this.#abort.abort()
    await this.#running
    this.#state = 'stopped'
    this.#finds?.flush()
  }

  status(): ScrubberStatus {
    return {
      state: this.#state,
      ...this.#counts,
      ...(this.#lastPassAt !== undefined ? { lastPassAt: this.#lastPassAt } : {}),
      bytesPerSec: this.#options.bytesPerSec,
    }
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal
    while (!signal.aborted) {
      this.#state = 'scrubbing'
      try {
        await this.#pass(signal)
        if (signal.aborted) break
        this.verified.prune() // a whole pass walked every referenced chunk: the rest are gone
        this.#counts.passes++
        this.#lastPassAt = Date.now()
      } catch (err) {
        levelled(this.#deps.log).error(`scrubber: pass failed: ${(err as Error).message}`)
      }
      this.#state = 'resting'
      await sleep(this.#options.restMs, signal)
    }
  }

  async #pass(signal: AbortSignal): Promise<void> {
    const { meta, registry } = this.#deps
    for await (const batch of chunkBatches(meta.state, BATCH)) {
      chunks: for (const { ino, index, ref } of batch) {
        // A replicated chunk is one piece (its copies on several nodes); a stripe is k + m shards,
        // each verified against its own SHA-256 like a copy (chunks/layout.ts).
        for (const { ref: piece, shard } of piecesOf(ref)) {
          this.verified.touch(piece.id)
          for (const nodeId of new Set(piece.nodes)) {
            // Only alive nodes: a struggling node gets no extra reads from us.
            if (registry.health(nodeId) !== 'alive') continue
            await this.#bucket.take(scrubCharge(piece.len), signal)
            if (signal.aborted) return
            // The file may have moved on while we waited (and the chunk been deleted with it).
            const at = { ino, index, id: ref.id }
            if (!stillReferenced(meta.state, at)) break chunks
            const listed = () => {
              const now = stillReferenced(meta.state, at)
              return now !== undefined && listsPiece(now, shard, piece.id, nodeId)
            }
            if (!listed()) continue // moved off this node meanwhile
            // The healer keys what it was told on the chunk and the node (no two shards of a stripe share one).
            if (this.#deps.isReported?.(nodeId, ref.id)) continue // the healer has it already
            await this.#check(ref, shard, nodeId, listed)
          }
        }
        this.#counts.scannedChunks++
      }
    }
  }

  /**
   * Check the piece `shard` of ref (the chunk itself when undefined) on nodeId. `stillListed`: the
   * chunk map still names this piece there (the file kept the chunk, no move took the piece away).
   */
  async #check(ref: ChunkRef, shard: number | undefined, nodeId: string, stillListed: () => boolean): Promise<void> {
    const node = this.#deps.registry.get(nodeId)
    const piece = pieceOf(ref, shard)
    if (!node || !piece) return
    const verify = async (): Promise<DfsError | undefined> => {
      const copy = await readCopy(node, nodeId, piece)
      return copy.check === 'good' ? undefined : copy.error
    }
    let error = await verify()
    this.#counts.scannedBytes += piece.len
    if (!error) this.verified.record(piece.id, nodeId)
    else if (isBadCopy(error)) this.verified.forgetCopy(piece.id, nodeId)
    if (!error || !isBadCopy(error)) return // a node that does not answer is the heartbeat monitor's business
    // A move or repair of this chunk under way may have just taken the piece away: let it finish, then
    // look again only if the map still names the piece. (Also a transient fault on the way reads right
    // the second time.)
    await this.#deps.locks?.whenFree(ref.id)
    if (!stillListed()) return
    error = await verify()
    if (!error || !isBadCopy(error) || !stillListed()) return
    const what = shard === undefined ? `the copy of chunk ${ref.id}` : pieceName(ref, shard)
    const how = error.code === 'CHUNK_CORRUPT' ? 'corrupt' : 'missing'
    if (error.code === 'CHUNK_CORRUPT') this.#counts.corruptFound++
    else this.#counts.missingFound++
    levelled(this.#deps.log).warn(`scrubber: ${what} on node ${node.address} is ${how}${how === 'corrupt' ? ` (${error.message})` : ''}; handing it to the healer`)
    this.#finds?.add({
      kind: 'corruption', level: 'warn', nodeId, count: 1,
      message: `the scrubber found ${what} on node ${node.address} ${how}; handed to the healer`,
    })
    try {
      // A shard is reported as its stripe's ref and the node holding it: the healer repairs the stripe.
      this.#deps.onBadCopy?.(ref, nodeId, error)
    } catch (err) {
      levelled(this.#deps.log).warn(`scrubber: reporting a bad copy failed: ${(err as Error).message}`)
    }
  }
}
