// What a client must know to tell, after its NameNode changed (a restart, a standby promoted),
// whether the new NameNode's history holds the changes it committed at the old one.
//
// Every commit's answer carries the journal seq of its record; every welcome carries the NameNode's
// `instance` (random per process) and `startSeq`, the seq its history was durable up to when it
// started serving: after a restart its replayed journal, after a promotion the standby's journal,
// which is a prefix of the old primary's. Everything it journals itself comes after startSeq. So a
// record the old instance gave seq s is in the new history when s <= startSeq, and is lost when
// s > startSeq (that seq, if it exists at all, is another record now). The client counts, per
// instance, the highest seq its commits got and the highest seq a sync there covered; when the
// instance changes and its highest seq is above the new startSeq, the next sync fails (EIO), once,
// saying what was lost. An fsync that returned before the change but whose records are lost (a
// standby promoted while it was behind, which only happens when it had fallen away from the
// primary) is reported the same way: the loss is this client's, and nothing else would tell it.
//
// The hole: two changes while the client was away (it never met the NameNode in between). Old
// instance X answers seq 101 and dies before writing it; Y starts at startSeq 100, journals its
// own 101, 102 and stops cleanly; Z starts at startSeq 102. The client meets Z only: 101 <= 102
// says "kept", but Z's 101 is Y's record. Closing it needs the history's lineage (which instance
// wrote which range of seqs, kept in the metadata folder and shipped to the standby) in the welcome;
// until then a client that was disconnected through two NameNode changes may miss a loss. A client
// is away through two changes only when both happen within its reconnect backoff (2 s) or while it
// cannot reach any NameNode at all.

export class CommitLedger {
  private instance = ''
  /** Highest seq a commit of this client got from `instance` (0: none). */
  private highest = 0
  /** Highest seq a sync answered by `instance` made durable. */
  private durable = 0
  /** Why the next sync fails, until one takes it. */
  private loss: string | undefined

  /** A commit was answered by the current instance; `seq` is its record's (absent: a NameNode that sends none, so it is never vouched for). */
  committed(seq: number | undefined): void {
    this.highest = Math.max(this.highest, seq ?? Number.POSITIVE_INFINITY)
  }

  /** A sync was answered by the current instance: everything journaled up to `seq` is durable there. */
  synced(seq: number | undefined): void {
    if (seq !== undefined) this.durable = Math.max(this.durable, seq)
  }

  /**
   * A welcome from `instance`: the same NameNode again (nothing to check), the first one, or a new
   * one. Returns a line for the log when the change lost this client's changes.
   */
  welcome(instance: string, startSeq: number | undefined): { changed: boolean; lost?: string } {
    if (instance === this.instance) return { changed: false }
    const first = this.instance === ''
    // A NameNode that does not say where its history starts vouches for what was synced, no more.
    const kept = startSeq ?? this.durable
    let lost: string | undefined
    if (!first && this.highest > kept) {
      const what = Number.isFinite(this.highest) ? `records ${kept + 1}–${this.highest}` : 'records'
      lost = `the NameNode changed (instance ${short(this.instance)} → ${short(instance)}) and the new one's history ends at record ${kept}, before this client's changes the old one journaled (${what})`
      if (this.durable > kept) lost += `, some of which an fsync had reported durable (up to record ${this.durable}): the new NameNode was behind`
      this.loss ??= lost
    }
    this.instance = instance
    this.highest = 0
    this.durable = 0
    return { changed: !first, ...(lost ? { lost } : {}) }
  }

  /** The loss the next sync reports, once. */
  takeLoss(): string | undefined {
    const loss = this.loss
    this.loss = undefined
    return loss
  }
}

const short = (instance: string) => instance.slice(0, 8)
