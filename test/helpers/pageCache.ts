// The kernel's page cache, as tests that pin what dfs leaves in it see it: fincore(1) reports how
// many bytes of a file are cached. A memory file system (tmpfs) can neither drop its pages nor read
// with O_DIRECT, so such tests keep their node folders on a disk-backed file system.
//
//   const dir = diskFolder('dfs-direct-')     // inside a test: removed when it finishes
//   expect(cachedBytes(path)).toBe(0)

import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'
import { tempDirForTest } from './tmp.js'
import { REPO_ROOT } from './mount.js'

/** A fresh folder on a disk-backed file system: under the system temp dir, or the project's .bench/ when that is tmpfs. */
export function diskFolder(prefix: string): string {
  const dir = tempDirForTest(prefix).path
  const fstype = execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim()
  if (fstype !== 'tmpfs' && fstype !== 'ramfs') return dir
  const parent = join(REPO_ROOT, '.bench')
  mkdirSync(parent, { recursive: true })
  const own = mkdtempSync(join(parent, prefix))
  onTestFinished(() => rmSync(own, { recursive: true, force: true }))
  return own
}

/** Bytes of the file in the page cache, as the kernel reports them. */
export function cachedBytes(path: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim())
}
