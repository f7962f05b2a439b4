// The error vocabulary (src/errors.ts) and its documentation (docs/errors.md) stay in step, and
// posixCodeOf() maps every error to the errno a file system caller gets.
import { readFile } from 'node:fs/promises'
import { constants } from 'node:os'
import { describe, expect, test } from 'vitest'
import { DFS_CODES, DfsError, POSIX_CODES, dfsError, isDfsError, posixCodeOf, type DfsCode } from '../src/errors.js'

const docPath = new URL('../docs/errors.md', import.meta.url)

/** Table rows of docs/errors.md: code (first cell) -> errno named in the third cell. */
async function documentedCodes(): Promise<Map<string, string>> {
  const rows = new Map<string, string>()
  for (const line of (await readFile(docPath, 'utf8')).split('\n')) {
    const cells = line.split('|').map((c) => c.trim())
    // '| `CODE` | meaning | `ERRNO` (n, text) | what to do |' -> ['', '`CODE`', meaning, errno, todo, '']
    const code = /^`([A-Z0-9_]+)`$/.exec(cells[1] ?? '')?.[1]
    if (!code) continue
    const errno = /`(E[A-Z0-9]+)`/.exec(cells[3] ?? '')?.[1] ?? ''
    rows.set(code, errno)
  }
  return rows
}

describe('docs/errors.md', () => {
  test('documents every POSIX code, as the errno of the same name', async () => {
    const docs = await documentedCodes()
    const missing = POSIX_CODES.filter((c) => !docs.has(c))
    expect(missing, 'POSIX codes missing from docs/errors.md').toEqual([])
    for (const code of POSIX_CODES) expect(docs.get(code), `errno documented for ${code}`).toBe(code)
  })

  test('documents every dfs code, with the errno src/errors.ts maps it to', async () => {
    const docs = await documentedCodes()
    const codes = Object.keys(DFS_CODES) as DfsCode[]
    const missing = codes.filter((c) => !docs.has(c))
    expect(missing, 'dfs codes missing from docs/errors.md').toEqual([])
    for (const code of codes) expect(docs.get(code), `errno documented for ${code}`).toBe(DFS_CODES[code])
  })

  test('documents no code that src/errors.ts does not have', async () => {
    const known = new Set<string>([...POSIX_CODES, ...Object.keys(DFS_CODES)])
    const extra = [...(await documentedCodes()).keys()].filter((c) => !known.has(c))
    expect(extra, 'codes in docs/errors.md but not in src/errors.ts').toEqual([])
  })
})

describe('error codes', () => {
  test('every POSIX code is a real errno on this platform', () => {
    const errno = constants.errno as Record<string, number | undefined>
    for (const code of POSIX_CODES) expect(errno[code], code).toBeTypeOf('number')
  })

  test('every dfs code maps to a POSIX code, and the two sets do not overlap', () => {
    for (const [code, posix] of Object.entries(DFS_CODES)) {
      expect(POSIX_CODES, `${code} -> ${posix}`).toContain(posix)
      expect(POSIX_CODES).not.toContain(code)
    }
  })
})

describe('posixCodeOf', () => {
  test('a POSIX-coded DfsError keeps its code', () => {
    for (const code of POSIX_CODES) expect(posixCodeOf(dfsError(code, 'x'))).toBe(code)
  })

  test('a dfs-coded DfsError becomes its mapped errno', () => {
    expect(posixCodeOf(dfsError('CHUNK_CORRUPT', 'bad hash', { chunk: 'ab'.repeat(16) }))).toBe('EIO')
    expect(posixCodeOf(dfsError('NODE_FULL', 'no room', { node: '/n1' }))).toBe('ENOSPC')
    expect(posixCodeOf(dfsError('BAD_ARGUMENT', 'bad size'))).toBe('EINVAL')
    for (const code of Object.keys(DFS_CODES) as DfsCode[]) {
      expect(posixCodeOf(new DfsError(code, 'x'))).toBe(DFS_CODES[code])
    }
  })

  test("Node's own fs errors map by their code", async () => {
    const err = await readFile('/nonexistent/dfs-errors-test').catch((e: unknown) => e)
    expect(posixCodeOf(err)).toBe('ENOENT')
    const dir = await readFile('/').catch((e: unknown) => e)
    expect(posixCodeOf(dir)).toBe('EISDIR')
  })

  test('anything else becomes EIO', () => {
    for (const value of [
      new Error('plain'),
      Object.assign(new Error('net'), { code: 'ECONNREFUSED' }),
      { code: 'NOT_A_CODE' },
      { code: 'toString' },
      { code: 'constructor' },
      { code: 5 },
      'ENOENT',
      42,
      null,
      undefined,
    ]) {
      expect(posixCodeOf(value), String(JSON.stringify(value) ?? value)).toBe('EIO')
    }
  })
})

describe('DfsError', () => {
  test('carries code, context and cause', () => {
    const cause = new Error('disk')
    const err = dfsError('CHUNK_MISSING', 'chunk file missing', { node: '/n2', chunk: 'c'.repeat(32) }, cause)
    expect(err).toBeInstanceOf(Error)
    expect(err.name).toBe('DfsError')
    expect(err.code).toBe('CHUNK_MISSING')
    expect(err.context).toEqual({ node: '/n2', chunk: 'c'.repeat(32) })
    expect(err.cause).toBe(cause)
    expect(isDfsError(err)).toBe(true)
    expect(isDfsError(err, 'CHUNK_MISSING')).toBe(true)
    expect(isDfsError(err, 'ENOENT')).toBe(false)
    expect(isDfsError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false)
  })
})
