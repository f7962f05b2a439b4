// The pieces of the mount lifecycle that need no mount: which processes use a folder (what `dfs
// unmount` names when it refuses), which mount a path lies in, and where daemons register.

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { runtimeDir } from '../../src/daemon/registry.js'
import { describeUsers, processesUsing } from '../../src/fuse/mountUsers.js'
import { isInside } from '../../src/fuse/mountpoint.js'
import { until } from '../helpers/cli.js'
import { tempDirForTest } from '../helpers/tmp.js'

const children: ChildProcess[] = []
afterEach(() => { for (const child of children.splice(0)) child.kill('SIGKILL') })
function start(cmd: string, args: string[], cwd?: string): ChildProcess {
  const child = spawn(cmd, args, { cwd, stdio: 'ignore' })
  children.push(child)
  return child
}

describe('processesUsing', () => {
  it('names processes with a file open or their current folder inside, and not those next to it', async () => {
    const dir = tempDirForTest('dfs-users-')
    const inside = join(dir.path, 'mnt')
    const beside = join(dir.path, 'mnt2') // same prefix, another folder
    mkdirSync(join(inside, 'sub'), { recursive: true })
    mkdirSync(beside)
    writeFileSync(join(inside, 'f'), 'x')
    writeFileSync(join(beside, 'g'), 'y')
    const reader = start('tail', ['-f', join(inside, 'f')])
    const sitter = start('sleep', ['600'], join(inside, 'sub'))
    const neighbour = start('tail', ['-f', join(beside, 'g')])

    let users: Awaited<ReturnType<typeof processesUsing>> = []
    await until(async () => (users = await processesUsing(inside)).length >= 2, 30_000, 50)
    expect(users.find(u => u.pid === reader.pid)).toEqual({ pid: reader.pid, command: 'tail', uses: [join(inside, 'f')] })
    expect(users.find(u => u.pid === sitter.pid)).toEqual({ pid: sitter.pid, command: 'sleep', uses: ['cwd'] })
    expect(users.some(u => u.pid === neighbour.pid)).toBe(false)
    expect(describeUsers(users.filter(u => u.pid === sitter.pid))).toBe(`pid ${sitter.pid} (sleep: current folder)`)
  })

  it('says how many more there are past the first few', () => {
    const users = Array.from({ length: 10 }, (_, i) => ({ pid: 100 + i, command: 'cat', uses: ['/m/f'] }))
    expect(describeUsers(users, 2)).toBe('pid 100 (cat: /m/f), pid 101 (cat: /m/f), 8 more')
  })
})

describe('isInside', () => {
  it('compares whole path components', () => {
    expect(isInside('/m', '/m')).toBe(true)
    expect(isInside('/m/a/b', '/m')).toBe(true)
    expect(isInside('/m2', '/m')).toBe(false)
    expect(isInside('/anything', '/')).toBe(true)
  })
})

describe('runtimeDir', () => {
  const saved = { ...process.env }
  afterEach(() => { process.env = { ...saved } })

  it('does not depend on TMPDIR or XDG_RUNTIME_DIR; DFS_RUNTIME_DIR overrides it', () => {
    delete process.env.DFS_RUNTIME_DIR
    process.env.TMPDIR = '/somewhere'
    process.env.XDG_RUNTIME_DIR = '/elsewhere'
    const uid = process.getuid?.() ?? 0
    expect(runtimeDir()).toBe(uid === 0 ? '/run/dfs' : `/tmp/dfs-${uid}`)
    process.env.DFS_RUNTIME_DIR = '/x/y'
    expect(runtimeDir()).toBe('/x/y')
  })
})
