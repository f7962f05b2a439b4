import { defineConfig } from 'vitest/config'
import SlowFirstSequencer from './test/setup/sequencer.js'

// Tests live in test/**/*.test.ts. FUSE tests mount real file systems and spawn daemons, so files
// run in forked processes (never worker threads: a mount served by the same thread deadlocks), at
// most two at a time on these 2-core machines.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    // The slowest files first (test/setup/sequencer.ts says why).
    sequence: { sequencer: SlowFirstSequencer },
    // Generous "eventually" deadlines: a test that hangs still fails, and one on a machine busy with
    // another run (2 cores shared) is slow, not wrong. No test bounds how fast anything ran.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    teardownTimeout: 30_000,
    // Builds dist/ once per run, so tests that spawn `node bin/dfs.js` run the current sources.
    globalSetup: ['./test/setup/build.ts'],
    // Temp folders a file made and did not remove go when it is done (test/setup/tempDirs.ts).
    setupFiles: ['./test/setup/tempDirs.ts'],
    // The summary reporter prints the last line, `N passed, N failed[, N skipped]`.
    reporters: ['default', './test/reporter/summary.ts'],
  },
})
