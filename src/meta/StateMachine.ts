// The contract between the journaled store (MetaStore) and the state it persists. The store knows
// nothing of inodes: it journals opaque JSON records, applies them through `apply`, and checkpoints
// whatever `snapshot` returns. The namespace (meta/namespace/) is the one implementation.

export interface JournalRecord {
  /** Record type, e.g. "create", "rename", "chunk". */
  op: string
  [field: string]: unknown
}

export interface StateMachine<S, R extends JournalRecord = JournalRecord, Result = unknown> {
  /** A fresh, empty state (first mount of a new cluster). */
  empty(): S
  /**
   * Apply one record to the state, in place. Must be deterministic: replay at mount applies the same
   * records in the same order and must reach the same state. Throws (DfsError) when the record
   * does not fit the state; the store then does not journal it.
   */
  apply(state: S, record: R): Result
  /**
   * Capture the state as it is now, cheaply and synchronously, and return the JSON-ready pieces of a
   * checkpoint over that capture. The file system keeps changing the live state while the store
   * serialises the pieces over many event-loop turns, so the iterable must never read live state.
   */
  snapshot(state: S): Iterable<unknown>
  /** Rebuild a state from the pieces `snapshot` produced (in order). */
  restore(pieces: Iterable<unknown>): S
  /**
   * The same, a piece at a time (a mount streams a checkpoint of millions of pieces into it as it
   * reads the file, never holding them all as pieces). Optional: restore is used without it.
   */
  restorer?(): { add(piece: unknown): void; done(): S }
}
