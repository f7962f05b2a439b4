// The lease that lets a client skip its `refresh` round trips while it is the only one changing the
// namespace (docs/protocol.md, "The sole writer's lease"). A refresh exists to wait for records other
// clients committed that are still on their way; while no other session commits, there are none.
//
// The NameNode grants the lease on its answers to one session at a time, for `ms` from when it read
// the request answered (the client counts from when it sent it, earlier, so its lease ends first).
// Another session's commit is held until the holder has given the lease up (`revoked`, after it
// stopped trusting it) or until the lease ran out here, whichever is first: so no record from
// another client is ever applied while the holder answers from its copy alone. Another session's
// refresh is held the same way, because the holder answers creates ahead of this NameNode: once it
// gave the lease up, every create it answered has reached here (its `revoked` comes after them).
// A refresh does not count as a commit: the holder gets the lease back at its next answer.
//
// A session whose commits a holder had to give way to gets no lease for `ms` after its last commit,
// and neither does anyone else, so two writers do not pass the lease back and forth.

export class SoleLease<C> {
  private holder: C | undefined
  /** When the holder's lease ends here (performance.now() ms). */
  private until = 0
  private revoking: { done: Promise<void>; release: () => void; timer: NodeJS.Timeout } | undefined
  /** Each session's last commit (performance.now() ms). */
  private readonly lastCommit = new Map<C, number>()

  constructor(
    readonly ms: number,
    /** Ask the holder to give the lease up (it answers with `revoked`). */
    private readonly revoke: (holder: C) => void,
  ) {}

  /**
   * `client` is about to commit: undefined when it may at once, else a promise that resolves once
   * the holder gave the lease up or it ran out (ask again then: it may have been granted meanwhile).
   */
  beforeCommit(client: C, now: number): Promise<void> | undefined {
    this.lastCommit.set(client, now)
    return this.beforeRefresh(client, now)
  }

  /** `client` is about to answer a refresh: as beforeCommit, but it keeps nobody from the lease later. */
  beforeRefresh(client: C, now: number): Promise<void> | undefined {
    if (this.holder === undefined || this.holder === client) return undefined
    if (now >= this.until) {
      this.holder = undefined
      return undefined
    }
    if (!this.revoking) {
      let release!: () => void
      const done = new Promise<void>(resolve => { release = resolve })
      // +1 ms: the timer may fire a fraction of a millisecond early.
      const timer = setTimeout(() => this.release(), this.until - now + 1)
      timer.unref()
      this.revoking = { done, release, timer }
      this.revoke(this.holder)
    }
    return this.revoking.done
  }

  /**
   * A NameNode that takes over a history another one served (a restart, a promotion): a client cut
   * off from that one may not have noticed yet and still trust a lease it granted, for up to `ms`
   * from now. `stranger` (no one's session) holds it until then: nobody commits, nobody is granted.
   */
  heldByPredecessor(stranger: C, now: number): void {
    this.holder = stranger
    this.until = now + this.ms
  }

  /** The holder says it no longer trusts its lease. */
  revoked(client: C): void {
    if (client === this.holder) this.release()
  }

  /**
   * Answering a request of `client` read at `receivedAt`: the lease's length in ms when it holds it
   * now (granted or renewed), 0 when it may not.
   */
  grant(client: C, receivedAt: number, now: number): number {
    if (this.revoking) return 0
    if (this.holder !== undefined && this.holder !== client && now < this.until) return 0
    for (const [other, at] of this.lastCommit) if (other !== client && now - at < this.ms) return 0
    this.until = this.holder === client ? Math.max(this.until, receivedAt + this.ms) : receivedAt + this.ms
    this.holder = client
    return this.ms
  }

  /** The session ended. A lease it held stays until it runs out: its client may not know yet. */
  forget(client: C): void {
    this.lastCommit.delete(client)
  }

  get holding(): C | undefined {
    return this.holder
  }

  private release(): void {
    const revoking = this.revoking
    this.revoking = undefined
    this.holder = undefined
    this.until = 0
    if (revoking) {
      clearTimeout(revoking.timer)
      revoking.release()
    }
  }
}
