// The Node.js flags a mount daemon is started with (`dfs mount` without --foreground, and the bench's
// daemons, which stand for it). Only a flag at node's start can set them: `v8.setFlagsFromString`
// after start-up does not resize the heap.
//
// A larger young generation: loading a checkpoint makes objects by the million that all live on
// (inodes, chunk refs), and V8's default 16 MiB semi-space fills every few milliseconds, so the
// scavenger copies the same survivors again and again before they reach the old generation. A
// million-file namespace was ready in 4.2-4.5 s with 32 MiB against 5.0-5.7 s with the default, at
// 4.8-5.3 s of CPU against 6.4-7.2 (docs/bench.md, scale). 64 MiB was no faster and held more memory.

const YOUNG_GENERATION = '--max-semi-space-size=32'

/** execArgv for a daemon started from this process: its own flags, plus ours unless it (or NODE_OPTIONS) sets them already. */
export function daemonExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const given = [...execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  const setsYoung = given.some(flag => /^--max[-_]semi[-_]space[-_]size(=|$)/.test(flag))
  return setsYoung ? [...execArgv] : [...execArgv, YOUNG_GENERATION]
}
