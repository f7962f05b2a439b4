// Every error code in src/errors.ts is one dfs can actually produce: each is raised somewhere in src/
// (a dfsError(...) or new DfsError(...) whose code argument names it), or it is listed in RESERVED
// below with the reason it exists without being raised. A code nobody raises is a promise in
// docs/errors.md that nothing keeps.
//
// What counts as raising: the first argument of a dfsError( / new DfsError( call in a .ts file under
// src/ (errors.ts itself excluded) contains the code as a quoted literal, so
// `dfsError(cause.code === 'ENOSPC' ? 'ENOSPC' : 'EIO', ...)` raises both. Codes that only travel
// (decoded from a TCP status, mapped by posixCodeOf) must also be raised literally somewhere. A
// dfs-specific code given as the `code: 'X'` of a descriptor that is raised through it (the lock
// kinds: dfsError(kind.code, ...)) counts too; POSIX names do not, as OS errors carry them as well.
// Adding a code: raise it where it belongs (this test then passes), or add it to RESERVED with why.

import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DFS_CODES, POSIX_CODES } from '../src/errors.js'

const SRC = new URL('../src/', import.meta.url).pathname

/** Codes kept though dfs never raises them, and why. */
const RESERVED: Record<string, string> = {
  EXDEV: 'the kernel answers a rename or link across file systems itself; within one dfs mount there is no such thing',
  ERANGE: 'answered by number at the FUSE edge (src/fuse/mount.ts, getxattr/listxattr into a buffer too small), never as a DfsError',
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)))
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

/** Code -> files that raise it. */
async function raisedCodes(): Promise<Map<string, string[]>> {
  const raised = new Map<string, string[]>()
  for (const file of await sourceFiles(SRC)) {
    if (file === join(SRC, 'errors.ts')) continue
    const text = await readFile(file, 'utf8')
    for (const call of text.matchAll(/(?:\bdfsError|\bnew DfsError)\(\s*([^,]*),/g)) {
      for (const literal of call[1].matchAll(/['"`]([A-Z][A-Z0-9_]+)['"`]/g)) {
        const files = raised.get(literal[1]) ?? []
        files.push(file.slice(SRC.length))
        raised.set(literal[1], files)
      }
    }
    for (const named of text.matchAll(/\bcode:\s*['"]([A-Z][A-Z0-9_]+)['"]/g)) {
      if (!(named[1] in DFS_CODES)) continue
      const files = raised.get(named[1]) ?? []
      files.push(file.slice(SRC.length))
      raised.set(named[1], files)
    }
  }
  return raised
}

describe('error codes in use', () => {
  test('every code in src/errors.ts is raised somewhere in src/, or reserved with a reason', async () => {
    const raised = await raisedCodes()
    const codes = [...POSIX_CODES, ...Object.keys(DFS_CODES)]
    const unused = codes.filter((code) => !raised.has(code) && !(code in RESERVED))
    expect(unused, 'codes in src/errors.ts that no dfsError(...) in src/ raises: raise them where they belong, or add them to RESERVED in this test with the reason').toEqual([])
  })

  test('a reserved code is really not raised, and is still a code', async () => {
    const raised = await raisedCodes()
    const codes = new Set<string>([...POSIX_CODES, ...Object.keys(DFS_CODES)])
    for (const [code, why] of Object.entries(RESERVED)) {
      expect(codes.has(code), `${code} is reserved but not in src/errors.ts`).toBe(true)
      expect(raised.get(code), `${code} is raised now (${raised.get(code)?.join(', ')}): take it out of RESERVED`).toBeUndefined()
      expect(why.length).toBeGreaterThan(20)
    }
  })

  test('raises only codes src/errors.ts has', async () => {
    // TypeScript checks the literal calls; this catches what slips past it (a cast, a template).
    const codes = new Set<string>([...POSIX_CODES, ...Object.keys(DFS_CODES)])
    const unknown = [...(await raisedCodes()).keys()].filter((code) => !codes.has(code))
    expect(unknown).toEqual([])
  })
})
