// The differential POSIX conformance suite: hundreds of scripted cases (test/posix/cases.ts) run on
// a native directory on the real disk and on a dfs mount, as root and as unprivileged users, and
// each case's results must match: return values and errno names, and after every round the stat
// fields (type, mode, uid, gid, nlink, size, rdev, shared inodes) and which of atime/mtime/ctime
// changed. Where the kernel or libfuse 2 makes a difference unfixable, the case asserts dfs's
// documented behaviour instead (test/posix/knownDifferences.ts).

import { afterAll, beforeAll, describe, it } from 'vitest'
import { cleanupAll } from '../helpers/mount.js'
import { allCases } from './cases.js'
import { type BothResults, type Roots, expectSame, posixRoots, runBoth } from './runner.js'

// DFS_POSIX_ONLY=<regex> runs only the matching cases; DFS_POSIX_DUMP=1 prints both results of each.
const only = process.env.DFS_POSIX_ONLY ? new RegExp(process.env.DFS_POSIX_ONLY) : undefined
const areas = new Map([...allCases()].map(([area, list]) => [area, list.filter(c => !only || only.test(c.id))] as const).filter(([, list]) => list.length > 0))
const cases = [...areas.values()].flat()
const ids = new Set<string>()
for (const c of cases) {
  if (ids.has(c.id)) throw new Error(`duplicate case id ${c.id}`)
  ids.add(c.id)
}

let roots: Roots
let results: BothResults
const index = new Map(cases.map((c, i) => [c.id, i]))

beforeAll(async () => {
  roots = await posixRoots({ chunkSize: '64k' })
  results = await runBoth(roots, cases)
})
afterAll(async () => {
  await cleanupAll()
  await roots?.cleanup()
})

for (const [area, list] of areas) {
  describe(area, () => {
    it.each(list.map(c => [c.id, c] as const))('%s', (_id, c) => {
      const i = index.get(c.id)!
      if (process.env.DFS_POSIX_DUMP) console.log(c.id, JSON.stringify({ native: results.native[i], dfs: results.dfs[i] }, null, 1))
      expectSame(c, results.native[i]!, results.dfs[i]!, results.twins.get(c.id))
    })
  })
}
