// `dfs datanode` as a user runs it: it serves, stops cleanly on SIGTERM and SIGINT, and refuses bad
// input with one line and exit 1, changing nothing.
//
// It runs `node bin/dfs.js datanode ...` once src/cli/main.ts registers the command; until then a
// stand-in script runs the same datanodeCommand() from dist/ and prints errors as main.ts does.

import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { TcpDataNode } from '../../src/datanode/tcp/TcpDataNode.js'
import { DFS_BIN, REPO_ROOT } from '../helpers/mount.js'
import { run } from '../helpers/run.js'
import { TempDirs } from './tempDirs.js'
import { sha256Of } from '../helpers/sha256.js'

const temp = new TempDirs()
const shimDir = new TempDirs()
let command: string[] // the program and arguments before `--dir ...`

beforeAll(async () => {
  const main = readFileSync(join(REPO_ROOT, 'dist', 'cli', 'main.js'), 'utf8')
  if (main.includes('datanodeCommand')) {
    command = [DFS_BIN, 'datanode']
    return
  }
  const shim = join(await shimDir.make('dfs-cli-shim-'), 'datanode.mjs')
  await writeFile(shim, [
    `const { datanodeCommand } = await import(${JSON.stringify(join(REPO_ROOT, 'dist', 'cli', 'datanode.js'))})`,
    `const { DfsError } = await import(${JSON.stringify(join(REPO_ROOT, 'dist', 'errors.js'))})`,
    'try {',
    '  await datanodeCommand().parseAsync(process.argv)',
    '} catch (err) {',
    '  if (err instanceof DfsError) console.error(`dfs: ${err.message} [${err.code}]`)',
    '  else console.error(`dfs: unexpected error: ${err?.stack ?? err}`)',
    '  process.exit(1)',
    '}',
  ].join('\n'))
  command = [shim]
})
afterAll(() => shimDir.cleanup())

interface Running {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const children: ChildProcess[] = []

function start(args: string[]): Running {
  const child = spawn(process.execPath, [...command, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  return { child, stdout: () => out, stderr: () => err, exited }
}

async function waitForLine(r: Running, pattern: RegExp, timeoutMs = 120_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const match = pattern.exec(r.stdout())
    if (match) return match
    if (r.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`no line matching ${pattern}; stdout: ${r.stdout()} stderr: ${r.stderr()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function folders(): Promise<{ dir: string; secret: string; parent: string }> {
  const parent = await temp.make('dfs-cli-datanode-')
  const dir = join(parent, 'node_1')
  await mkdir(dir)
  const secret = join(parent, 'secret')
  await writeFile(secret, 'cli test secret\n', { mode: 0o600 })
  return { dir, secret, parent }
}

describe('dfs datanode', () => {
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await new Promise((resolve) => child.once('exit', resolve))
      }
    }
    await temp.cleanup()
  })

  it('serves a folder, and exits 0 on SIGTERM and on SIGINT', async () => {
    const { dir, secret } = await folders()
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const r = start(['--dir', dir, '--listen', '127.0.0.1:0', '--secret-file', secret])
      const [, nodeId, port] = await waitForLine(r, /^dfs datanode: serving .* as node (\S+) on 127\.0\.0\.1:(\d+)/m)
      const node = await TcpDataNode.connect(`tcp://127.0.0.1:${port}`, { secret: 'cli test secret', clusterId: 'cli-cluster' })
      try {
        expect(node.nodeId).toBe(nodeId)
        const id = newChunkId()
        await node.put(id, Buffer.from(`served until ${signal}`), sha256Of(Buffer.from(`served until ${signal}`)))
        expect((await node.get(id)).toString()).toBe(`served until ${signal}`)
      } finally {
        await node.close()
      }
      r.child.kill(signal)
      expect(await r.exited).toEqual({ code: 0, signal: null })
      expect(r.stdout()).toMatch(new RegExp(`dfs datanode: stopped \\(${signal}\\)`))
    }
    // The second run served the same node (the folder carries its identity).
    expect(JSON.parse(readFileSync(join(dir, 'dfs-node.json'), 'utf8'))).toMatchObject({ clusterId: 'cli-cluster' })
  })

  async function refuses(args: string[], pattern: RegExp, code: string, unchanged: string[] = []): Promise<void> {
    const before = await Promise.all(unchanged.map((d) => readdir(d)))
    const r = await run(process.execPath, [...command, ...args], { cwd: REPO_ROOT, timeout: 15_000 })
    expect(r.code, r.stderr).toBe(1)
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines, r.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(/^dfs/)
    expect(lines[0]).toMatch(pattern)
    expect(lines[0]).toMatch(new RegExp(`\\[${code}\\]$`))
    expect(await Promise.all(unchanged.map((d) => readdir(d)))).toEqual(before)
  }

  it('refuses a missing, empty or unreadable secret file', async () => {
    const { dir, parent } = await folders()
    const empty = join(parent, 'empty')
    await writeFile(empty, '', { mode: 0o600 })
    await refuses(['--dir', dir, '--listen', '127.0.0.1:0', '--secret-file', join(parent, 'nope')], /secret-file .*nope does not exist; create one/, 'BAD_ARGUMENT', [dir])
    await refuses(['--dir', dir, '--listen', '127.0.0.1:0', '--secret-file', empty], /is empty; create one/, 'BAD_ARGUMENT', [dir])
    await refuses(['--dir', dir, '--listen', '127.0.0.1:0', '--secret-file', parent], /is a folder/, 'BAD_ARGUMENT', [dir])
  })

  it('refuses a missing folder, a malformed address and a port in use', async () => {
    const { dir, secret, parent } = await folders()
    await refuses(['--dir', join(parent, 'missing'), '--listen', '127.0.0.1:0', '--secret-file', secret], /does not exist; create it with mkdir -p/, 'NODE_FOLDER_INVALID', [parent])
    await refuses(['--dir', dir, '--listen', 'localhost', '--secret-file', secret], /--listen "localhost" is not host:port/, 'BAD_ARGUMENT', [dir])
    await refuses(['--dir', dir, '--listen', '127.0.0.1:70000', '--secret-file', secret], /is not host:port/, 'BAD_ARGUMENT', [dir])
    const busy = createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    try {
      const port = (busy.address() as { port: number }).port
      // The folder is empty: a refused start must not have initialised it.
      await refuses(['--dir', dir, '--listen', `127.0.0.1:${port}`, '--secret-file', secret], new RegExp(`port ${port} is in use`), 'BAD_ARGUMENT', [dir])
    } finally {
      await new Promise((resolve) => busy.close(resolve))
    }
    expect(await readdir(dir)).toEqual([])
  })
})
