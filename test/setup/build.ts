// vitest globalSetup: compile src/ to dist/ once before any test file runs, so integration tests
// that spawn `node bin/dfs.js` exercise the current sources even under a bare `npx vitest`.
// A failed build stops the whole run with tsc's own messages. DFS_SKIP_BUILD=1 skips it (to run unit
// tests, which import src/ directly, while someone else's half-written file breaks the build).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export default function build(): void {
  if (process.env.DFS_SKIP_BUILD === '1') {
    console.warn('test/setup/build.ts: DFS_SKIP_BUILD=1, not rebuilding dist/ (tests that run bin/dfs.js may run old code)')
    return
  }
  const localTsc = join(root, 'node_modules', '.bin', 'tsc')
  // The local binary avoids npx's start-up cost; npx is the fallback for an unusual layout.
  const [cmd, args] = existsSync(localTsc)
    ? [localTsc, ['-p', 'tsconfig.json']]
    : ['npx', ['--no-install', 'tsc', '-p', 'tsconfig.json']]
  const started = Date.now()
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (r.error || r.status !== 0) {
    const out = [r.stdout, r.stderr].filter(Boolean).join('\n').trim()
    const why = r.error ? String(r.error) : r.signal ? `killed by ${r.signal}` : `exit code ${r.status}`
    throw new Error(
      `test/setup/build.ts: \`tsc -p tsconfig.json\` failed (${why}); no test ran against a stale dist/.\n${out}`,
    )
  }
  if (process.env.DFS_TEST_VERBOSE) console.log(`build: tsc -p tsconfig.json took ${Date.now() - started} ms`)
}
