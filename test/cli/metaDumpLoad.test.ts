// dfs meta dump / dfs meta load as a user runs them: the document goes to stdout and comes back on
// stdin; bad input is one line with a code, a non-zero exit, and nothing written.

import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { dfs } from '../helpers/cli.js'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { buildSample, openNamespace } from '../meta/namespaceFolder.js'

const load = (meta: string, input: string | Buffer) =>
  run(process.execPath, [DFS_BIN, 'meta', 'load', '--meta', meta], { cwd: REPO_ROOT, input })

async function sample(): Promise<string> {
  const dir = join(tempDirForTest('meta-cli-').path, 'src')
  const store = await openNamespace(dir)
  buildSample(store)
  await store.close()
  return dir
}

describe('dfs meta dump | dfs meta load', () => {
  it('round-trips through stdout and stdin, byte-identical, and says what happens next', async () => {
    const src = await sample()
    const first = await dfs('meta', 'dump', '--meta', src)
    expect(first.code, first.stderr).toBe(0)
    const target = join(tempDirForTest('meta-cli-').path, 'loaded')
    const loaded = await load(target, first.stdout)
    expect(loaded.code, loaded.stderr).toBe(0)
    expect(loaded.stdout).toMatch(/made metadata folder .* as of record \d+/)
    expect(loaded.stdout).toMatch(/never claimed the DataNodes|claims the DataNodes with epoch/)
    const second = await dfs('meta', 'dump', '--meta', target)
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout).toBe(first.stdout)
  })

  it('refuses bad input with one line and a code, and writes nothing', async () => {
    const src = await sample()
    const good = (await dfs('meta', 'dump', '--meta', src)).stdout
    const base = tempDirForTest('meta-cli-').path
    const inputs: [string, string, string][] = [
      ['not JSON', 'this is not json\n', 'DUMP_INVALID'],
      ['truncated', good.slice(0, good.length - 40), 'DUMP_INVALID'],
      ['wrong kind', good.replace('"kind":"dfs-namespace-dump"', '"kind":"something-else"'), 'DUMP_INVALID'],
      ['empty', '', 'DUMP_INVALID'],
    ]
    for (const [what, input, code] of inputs) {
      const target = join(base, what.replace(/ /g, '-'))
      const r = await load(target, input)
      expect(r.code, what).not.toBe(0)
      expect(r.stderr.trim().split('\n'), what).toHaveLength(1)
      expect(r.stderr, what).toContain(`[${code}]`)
      expect(await readdir(base), what).not.toContain(target.split('/').pop())
    }
    expect(await readdir(base)).toEqual([]) // no temp folder left either
  })

  it('refuses a folder that is not empty, changing nothing in it', async () => {
    const src = await sample()
    const good = (await dfs('meta', 'dump', '--meta', src)).stdout
    const target = tempDirForTest('meta-cli-').path
    await mkdir(join(target, 'sub'))
    await writeFile(join(target, 'keep.txt'), 'mine')
    const r = await load(target, good)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/is not empty .*\[DUMP_TARGET_NOT_EMPTY\]/)
    expect((await readdir(target)).sort()).toEqual(['keep.txt', 'sub'])
    // A metadata folder in use is not empty either.
    const again = await load(src, good)
    expect(again.stderr).toContain('[DUMP_TARGET_NOT_EMPTY]')
  })

  it('says what is missing when neither --meta nor --namenode is given, or both are', async () => {
    const r = await dfs('meta', 'dump')
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('[BAD_ARGUMENT]')
    const both = await dfs('meta', 'dump', '--meta', '/nowhere', '--namenode', 'tcp://127.0.0.1:1', '--secret-file', '/nowhere/s')
    expect(both.stderr).toMatch(/not both .*\[BAD_ARGUMENT\]/)
  })

  it('dfs namenode refuses a bad --backup-keep or --backup-every before it creates anything', async () => {
    const base = tempDirForTest('meta-cli-').path
    const meta = join(base, 'meta')
    for (const flags of [['--backup-keep', '0'], ['--backup-keep', 'lots'], ['--backup-every', '5']]) {
      const r = await dfs('namenode', '--meta', meta, '--listen', '127.0.0.1:0', '--secret-file', join(base, 'secret'), '--backup-dir', join(base, 'b'), ...flags)
      expect(r.code, flags.join(' ')).not.toBe(0)
      expect(r.stderr.trim().split('\n'), flags.join(' ')).toHaveLength(1)
      expect(r.stderr, flags.join(' ')).toContain('[BAD_ARGUMENT]')
    }
    expect(await readdir(base)).toEqual([])
  })

  it('a closed pipe or a full disk is one line, not a stack', async () => {
    const src = await sample()
    const r = await run('bash', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(DFS_BIN)} meta dump --meta ${src} > /dev/full`], { cwd: REPO_ROOT })
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim()).toMatch(/^dfs: cannot write the dump output: .*\[ENOSPC\]$/)
  })
})
