// The differential runner behind test/posix: the same cases run by driver.py under a directory on
// the native disk and under a dfs mount, as root (the driver forks a child per case and round that
// drops to the case's caller, as setpriv does), and the two JSON outputs are compared case by case.
//
//   const roots = await posixRoots({ chunkSize: '64k' })      // a native dir and a mounted dfs
//   const { native, dfs } = await runBoth(roots, cases)         // one driver process per root
//   expectSame(cases[i], native[i], dfs[i])                     // or the documented dfs behaviour
//
// The native directory lives under os.tmpdir() (the real disk here, ext4), or under the checkout
// when that is tmpfs, whose rules differ (directory sizes, for one). Parents are 0755 so the
// unprivileged callers can reach the roots; each case makes its own directory with the mode it needs.

import { chmodSync, mkdirSync, mkdtempSync, statfsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import { type DfsDaemon, REPO_ROOT, makeCluster, type StartDfsOptions } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { makeTempDir } from '../helpers/tmp.js'
import { type KnownDifference, knownDifferenceFor, renamedBack } from './knownDifferences.js'

export const HERE = dirname(fileURLToPath(import.meta.url))
/** The system python, which every caller can execute (a pyenv shim under /root is root-only). */
export const PYTHON = '/usr/bin/python3'

export type Caller = 'root' | 'nobody' | 'member' | 'other'

export interface Case {
  /** area/what/..., unique; known differences are matched on it. */
  id: string
  /** The case's own directory (default 0777 root:root). */
  dir?: { mode?: number; uid?: number; gid?: number }
  /** Python statements run as root in the case directory before the first snapshot. */
  setup?: string[]
  /** Each round runs as one caller; a stat snapshot of the watched names follows every round. */
  rounds: { as?: Caller; ops: string[] }[]
  /** Names (relative to the case directory) to stat after setup and after each round; '.' is implied. */
  watch?: string[]
}

/** What driver.py prints for one case. */
export interface CaseResult {
  setup: unknown[]
  rounds: { results: unknown[]; stat: Record<string, unknown> }[]
  listing: string[]
}

export interface Roots {
  native: string
  mnt: string
  dfs: DfsDaemon
  /** The cluster's node folders (the exerciser deletes one). */
  nodes: string[]
  /** Removes a native root made outside the temp dir (the rest goes with cleanupAll()). */
  cleanup(): Promise<void>
}

const TMPFS_MAGIC = 0x01021994

/**
 * A native root directory and a freshly mounted dfs, both reachable by every caller. The native
 * root is on a real disk: under the system temp dir, or under the checkout when that is tmpfs
 * (whose rules differ: directory sizes, for one). Call cleanup() after cleanupAll().
 */
export async function posixRoots(opts: Partial<StartDfsOptions> & { nodeCount?: number } = {}): Promise<Roots> {
  const { nodeCount, ...start } = opts
  const onTmpfs = statfsSync(tmpdir()).type === TMPFS_MAGIC
  const base = onTmpfs ? mkdtempSync(join(REPO_ROOT, '.posix-native-')) : makeTempDir('dfs-posix-native-').path
  chmodSync(base, 0o755)
  const native = join(base, 'root')
  mkdirSync(native, 0o755)
  const cluster = makeCluster(nodeCount ?? 3, 'dfs-posix-')
  chmodSync(cluster.root, 0o755)
  const dfs = await cluster.start({ chunkSize: '64k', ...start })
  const cleanup = async () => {
    if (onTmpfs) await rm(base, { recursive: true, force: true })
  }
  return { native, mnt: cluster.mnt, dfs, nodes: cluster.nodes, cleanup }
}

/** Run the cases under one root with driver.py; throws with the driver's stderr if it fails. */
export async function runCases(root: string, cases: Case[], gapMs = 25): Promise<CaseResult[]> {
  const input = JSON.stringify({ root, gap_ms: gapMs, cases })
  const r = await run(PYTHON, [join(HERE, 'driver.py')], { input, timeout: 600_000 })
  if (r.code !== 0) throw new Error(`driver.py under ${root} failed (exit ${r.code}):\n${r.stderr.slice(-4000)}`)
  const out = JSON.parse(r.stdout) as CaseResult[]
  if (out.length !== cases.length) throw new Error(`driver.py under ${root}: ${out.length} results for ${cases.length} cases`)
  return out
}

export interface BothResults {
  native: CaseResult[]
  dfs: CaseResult[]
  /** Native results of the twins some known differences describe dfs by, by case id. */
  twins: Map<string, CaseResult>
}

/** The cases under both roots at once (two driver processes, one per core), and any twins natively. */
export async function runBoth(roots: Roots, cases: Case[]): Promise<BothResults> {
  const twins = cases.flatMap(c => {
    const twin = knownDifferenceFor(c.id)?.twin?.(c).twin
    return twin ? [{ id: c.id, twin }] : []
  })
  const [nativeAll, dfs] = await Promise.all([runCases(roots.native, [...cases, ...twins.map(t => t.twin)]), runCases(roots.mnt, cases)])
  const native = nativeAll.slice(0, cases.length)
  return { native, dfs, twins: new Map(twins.map((t, i) => [t.id, nativeAll[cases.length + i]!])) }
}

/**
 * dfs must give what the native disk gave, or, for a case in the known-differences list, exactly
 * the documented dfs behaviour (and that must really differ from native, so the list stays true).
 */
export function expectSame(c: Case, native: CaseResult, dfs: CaseResult, twin?: CaseResult): void {
  const known: KnownDifference | undefined = knownDifferenceFor(c.id)
  const script = describeCase(c)
  if (!known) {
    expect(differences(native, dfs, 'native'), `dfs differs from the native disk\n${script}`).toEqual([])
    return
  }
  const expected = known.twin ? renamedBack(twin!, known.twin(c).keys) : known.dfs!(structuredClone(native), c)
  expect(differences(native, expected, 'native'), `known difference "${known.name}" no longer differs from native: remove it from the list\n${script}`).not.toEqual([])
  expect(differences(expected, dfs, 'documented'), `dfs does not behave as documented for known difference "${known.name}" (${known.reason})\n${script}`).toEqual([])
}

/** Every leaf where two results differ: `rounds[0].stat.x.mode: native 0o755, dfs 0o4755`. */
export function differences(want: unknown, got: unknown, wantName: string, at = ''): string[] {
  if (typeof want === 'object' && want !== null && typeof got === 'object' && got !== null && Array.isArray(want) === Array.isArray(got)) {
    const keys = new Set([...Object.keys(want), ...Object.keys(got)])
    return [...keys].flatMap(k => {
      const path = Array.isArray(want) ? `${at}[${k}]` : at ? `${at}.${k}` : k
      return differences((want as Record<string, unknown>)[k], (got as Record<string, unknown>)[k], wantName, path)
    })
  }
  const a = JSON.stringify(want)
  const b = JSON.stringify(got)
  return a === b ? [] : [`${at}: ${wantName} ${a}, dfs ${b}`]
}

function describeCase(c: Case): string {
  const lines = [`case ${c.id}`]
  if (c.dir) lines.push(`  dir: ${JSON.stringify(c.dir, (_k, v) => (typeof v === 'number' && v > 7 ? `0o${v.toString(8)}` : v))}`)
  for (const s of c.setup ?? []) lines.push(`  setup: ${s}`)
  c.rounds.forEach((r, i) => r.ops.forEach(op => lines.push(`  round ${i + 1} as ${r.as ?? 'root'}: ${op}`)))
  if (c.watch?.length) lines.push(`  watch: ${c.watch.join(', ')}`)
  return lines.join('\n')
}
