// Temporary folders that tests own and always remove.
//
//   const dir = makeTempDir('journal-')       // { path, cleanup() }
//   onTestFinished(dir.cleanup)                // or: tempDirForTest('journal-') does both
//   afterAll(cleanupTempDirs)                  // or: cleanupTempDirsAfterAll() at file/describe level
//
// cleanup() never deletes through a live mount: anything still mounted below the folder (a dfs mount
// left by a failed test) is lazily unmounted first, and if that fails the folder is left in place
// with an error rather than rm -rf walking into a FUSE file system.
// DFS_KEEP_TMP=1 keeps every folder (and prints its path) for a post-mortem.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, realpathSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve, sep } from 'node:path'
import { afterAll, onTestFinished } from 'vitest'

export interface TempDir {
  /** Absolute, symlink-free path of the new, empty folder. */
  readonly path: string
  /** Unmount anything left mounted inside, then rm -rf (force). Safe to call more than once. */
  cleanup(): Promise<void>
}

const live = new Set<TempDir>()

/** Create a fresh folder under the system temp dir, e.g. makeTempDir('dfs-meta-'). */
export function makeTempDir(prefix = 'dfs-test-'): TempDir {
  const path = mkdtempSync(join(realpathSync(tmpdir()), prefix))
  let done: Promise<void> | undefined
  const dir: TempDir = {
    path,
    cleanup() {
      done ??= (async () => {
        live.delete(dir)
        if (process.env.DFS_KEEP_TMP === '1') {
          console.log(`DFS_KEEP_TMP: kept ${path}`)
          return
        }
        await unmountBelow(path)
        await rm(path, { recursive: true, force: true, maxRetries: 3 })
      })()
      return done
    },
  }
  live.add(dir)
  return dir
}

/** Inside a test: a temp folder removed when the test finishes, whether it passed or failed. */
export function tempDirForTest(prefix?: string): TempDir {
  const dir = makeTempDir(prefix)
  onTestFinished(() => dir.cleanup())
  return dir
}

/** Remove every temp folder made in this test process and not yet cleaned up. */
export async function cleanupTempDirs(): Promise<void> {
  const errors: unknown[] = []
  for (const dir of [...live]) await dir.cleanup().catch((err: unknown) => errors.push(err))
  if (errors.length > 0) throw new AggregateError(errors, `could not remove ${errors.length} temp folder(s)`)
}

/** At file or describe level: register cleanupTempDirs() to run after all tests there. */
export function cleanupTempDirsAfterAll(): void {
  afterAll(cleanupTempDirs)
}

/** Mount points at or below `dir` in this mount namespace, deepest first (from /proc/self/mountinfo). */
export function mountsBelow(dir: string): string[] {
  const root = resolve(dir)
  let text: string
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8') // procfs, never the mount itself
  } catch {
    return []
  }
  return text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map(unescapeMountPath)
    .filter((p) => p === root || p.startsWith(root + sep))
    .sort((a, b) => b.length - a.length)
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
export function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)))
}

async function unmountBelow(path: string): Promise<void> {
  for (const mnt of mountsBelow(path)) {
    await quiet('fusermount', ['-uz', mnt])
    if (mountsBelow(mnt).includes(mnt)) await quiet('umount', ['-l', mnt])
  }
  const left = mountsBelow(path)
  if (left.length > 0) {
    throw new Error(`not removing ${path}: still mounted below it: ${left.join(', ')} (try: umount -l <dir>)`)
  }
}

function quiet(cmd: string, args: string[]): Promise<void> {
  return new Promise((done) => {
    execFile(cmd, args, { timeout: 10_000, killSignal: 'SIGKILL' }, () => done())
  })
}
