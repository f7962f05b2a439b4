// `dfs --version` prints the package's version; a command given --json reports a failure as one JSON
// document on stdout ({"error":{"code","message",...context}}) with a non-zero exit, whether the
// command itself failed or its flags did not parse. Without --json the one-line message stays.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { cleanupTempDirsAfterAll, makeTempDir } from '../helpers/tmp.js'

cleanupTempDirsAfterAll()
const root = makeTempDir('dfs-cli-json-')
const env = { DFS_RUNTIME_DIR: join(root.path, 'runtime') }
const dfs = (...args: string[]) => run(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, env })
const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }

describe('dfs --version', () => {
  it.each(['--version', '-V'])('%s prints the package version', async (flag) => {
    const r = await dfs(flag)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(`${version}\n`)
  })
})

describe('--json errors', () => {
  const parse = (stdout: string) => {
    expect(stdout.trim().split('\n'), 'one JSON document, one line').toHaveLength(1)
    return JSON.parse(stdout) as { error: Record<string, unknown> }
  }

  it('a failing command prints its code, message and context as JSON on stdout', async () => {
    const meta = join(root.path, 'no-such-meta')
    const r = await dfs('fsck', '--meta', meta, '--json')
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('')
    const { error } = parse(r.stdout)
    expect(error).toMatchObject({ code: 'META_FOREIGN', meta })
    expect(error.message).toContain(meta)
  })

  it('status with no daemon running', async () => {
    const r = await dfs('status', '--json')
    expect(r.code).toBe(1)
    expect(parse(r.stdout).error.code).toBe('NOT_MOUNTED')
  })

  it('a flag the parser rejects is a BAD_ARGUMENT document, exit 2', async () => {
    const r = await dfs('status', '--json', '--no-such-flag')
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('')
    const { error } = parse(r.stdout)
    expect(error.code).toBe('BAD_ARGUMENT')
    expect(error.message).toContain('--no-such-flag')
  })

  it('without --json the error stays one line on stderr', async () => {
    const r = await dfs('status')
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^dfs: .*\[NOT_MOUNTED\]$/m)
  })

  it('--json after `--` is an argument, not the flag', async () => {
    const r = await dfs('status', '--', '--json')
    expect(r.code).not.toBe(0)
    expect(r.stdout).toBe('')
  })
})
