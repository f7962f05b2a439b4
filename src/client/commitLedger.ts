// What a client must know to tell, after its NameNode changed (a restart, a standby promoted),
// whether the new NameNode's history holds the changes it committed at the old one.
//
// Every commit's answer carries the journal seq of its record, every sync's answer the seq it made
// durable. Every welcome carries the NameNode's `instance` (random per process), `startSeq` (the seq
// its history was durable up to when it started: after a restart its replayed journal, after a
// promotion the standby's, a prefix of the old primary's) and `history` (src/namenode/history.ts):
// an id that a clean restart keeps and any other start replaces by a fork of it (`parent`, at
// `forkSeq`). The client counts, per instance, the highest seq its commits got and the highest seq a
// sync there covered. When the instance changes:
//
// - same history id: the NameNode before stopped cleanly with every record on disk: nothing lost;
// - a fork of the client's history: its records up to `forkSeq` are in it, the ones above are lost;
// - a history with no parent (a folder that had no history.json, e.g. a standby not sent one):
//   the same rule with `startSeq`. This has a hole: two changes while the client was away (X
//   answers seq 101 and dies before writing it; Y starts at 100, journals its own 101, 102 and
//   stops; Z starts at 102: 101 <= 102 says "kept", but Z's 101 is Y's). History ids close it
//   wherever the folders have them;
// - a fork of a history this client never saw (the NameNode changed more than once, not all of
//   them clean, while the client could not reach any): it cannot tell; what no sync covered counts
//   as lost (what a sync covered is taken as kept: it was on the old primary's disk).
//
// A loss makes the next sync fail (EIO), once, saying what was lost. An fsync that had returned for
// records now lost (a standby promoted while it was behind, which happens only when it had fallen
// away from the primary) is reported the same way: the loss is this client's, and nothing else
// would tell it.

export interface HistoryInfo {
  id: string
  parent?: string
  forkSeq?: number
}

export class CommitLedger {
  private instance = ''
  private history: HistoryInfo | undefined
  /** Highest seq a commit of this client got from `instance` (0: none). */
  private highest = 0
  /** Highest seq a sync answered by `instance` made durable. */
  private durable = 0
  /** Why the next sync fails, until one takes it. */
  private loss: string | undefined
  /** The latest loss, taken or not: what a stopping mount says again (RemoteNameNode.sync). */
  lostBefore: string | undefined

  /** A commit was answered by the current instance; `seq` is its record's (absent: a NameNode that sends none, so it is never vouched for). */
  committed(seq: number | undefined): void {
    this.highest = Math.max(this.highest, seq ?? Number.POSITIVE_INFINITY)
  }

  /** A sync was answered by the current instance: everything journaled up to `seq` is durable there. */
  synced(seq: number | undefined): void {
    if (seq !== undefined) this.durable = Math.max(this.durable, seq)
  }

  /**
   * A welcome: the same NameNode again (nothing to check), the first one, or a new one. Returns a
   * line for the log when the change lost (or may have lost) this client's changes.
   */
  welcome(instance: string, startSeq: number | undefined, history?: HistoryInfo): { changed: boolean; lost?: string } {
    if (instance === this.instance) return { changed: false }
    const first = this.instance === ''
    let lost: string | undefined
    if (!first && this.highest > 0) {
      const change = `the NameNode changed (instance ${short(this.instance)} → ${short(instance)})`
      const range = (from: number) => (Number.isFinite(this.highest) ? `records ${from + 1}–${this.highest}` : 'records')
      const { kept, unsure } = this.keptThrough(startSeq, history)
      if (this.highest > kept && !unsure) {
        lost = `${change} and the new one's history ends at record ${kept}, before this client's changes the old one journaled (${range(kept)})`
        if (this.durable > kept) lost += `, some of which an fsync had reported durable (up to record ${this.durable}): the new NameNode was behind`
      } else if (this.highest > kept) {
        lost = `${change} ${unsure}, so this client's changes since its last fsync (${range(kept)}) may be lost`
      }
      if (lost) {
        this.loss ??= lost
        this.lostBefore = lost
      }
    }
    this.instance = instance
    this.history = history
    this.highest = 0
    this.durable = 0
    return { changed: !first, ...(lost ? { lost } : {}) }
  }

  /** Whether a sync of the current NameNode already covers every record this client committed there (nothing to ask it). */
  allSynced(): boolean {
    return this.highest <= this.durable
  }

  /** A loss this client found itself (a create it answered ahead that the NameNode did not take): the next sync reports it. */
  lose(reason: string): void {
    this.loss ??= reason
    this.lostBefore = reason
  }

  /** The loss the next sync reports, once. */
  takeLoss(): string | undefined {
    const loss = this.loss
    this.loss = undefined
    return loss
  }

  /** Up to which seq the old instance's records are in the new history; `unsure` says why that is a guess. */
  private keptThrough(startSeq: number | undefined, now: HistoryInfo | undefined): { kept: number; unsure?: string } {
    const before = this.history
    if (before && now) {
      if (now.id === before.id) return { kept: Number.POSITIVE_INFINITY }
      if (now.parent === before.id && now.forkSeq !== undefined) return { kept: now.forkSeq }
      if (now.parent !== undefined) return { kept: this.durable, unsure: 'more than once while this client could not reach it, not all of them cleanly' }
    }
    // A NameNode that does not say where its history starts vouches for what was synced, no more.
    if (startSeq === undefined) return { kept: this.durable, unsure: 'and the new one does not say where its history starts' }
    return { kept: startSeq }
  }
}

const short = (instance: string) => instance.slice(0, 8)
