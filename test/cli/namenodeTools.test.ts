// `dfs status | balance | drain | fsck --namenode tcp://… --secret-file <f>`: the cluster commands
// against a running `dfs namenode` instead of a local mount, as real processes: three `dfs datanode`
// servers, one `dfs namenode`, and each command as `node bin/dfs.js`. The cluster's files are written
// first by an embedded mount over the same DataNodes, which is then unmounted, so the NameNode serves
// a cluster with data in it.

import { type ChildProcess, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newChunkId } from '../../src/datanode/chunkId.js'
import { TcpDataNode } from '../../src/datanode/tcp/TcpDataNode.js'
import { freePort } from '../../src/util/freePort.js'
import { dfs, until } from '../helpers/cli.js'
import { DFS_BIN, REPO_ROOT, startDfs } from '../helpers/mount.js'
import { sh } from '../helpers/run.js'
import { TempDirs } from '../datanode/tempDirs.js'
import { MessageReader, NAMENODE_PROTOCOL_VERSION, type Message, clientProof, newNonce, send } from '../../src/protocol/wire.js'

const READY_MS = 60_000
const temp = new TempDirs()
const children: ChildProcess[] = []
let root: string
let secretFile: string
let otherSecretFile: string
let nodeUrls: string[] = []
let namenode: string
let tool: TcpDataNode | undefined

/** Start `dfs <args>` in the background; resolves with the first stdout line matching `ready`. */
function startRole(args: string[], ready: RegExp): Promise<RegExpExecArray> {
  const child = spawn(process.execPath, [DFS_BIN, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  let err = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dfs ${args[0]} not ready in ${READY_MS} ms: ${out}${err}`)), READY_MS)
    child.stderr!.on('data', (d: Buffer) => { err += d.toString() })
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = ready.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m)
      }
    })
    child.once('exit', code => {
      clearTimeout(timer)
      reject(new Error(`dfs ${args[0]} exited (${code}) before it was ready: ${out}${err}`))
    })
  })
}

async function stopChildren(): Promise<void> {
  await Promise.all(children.splice(0).map(child => new Promise<void>(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const kill = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.once('exit', () => { clearTimeout(kill); resolve() })
    child.kill('SIGTERM')
  })))
}

const nn = () => ['--namenode', namenode, '--secret-file', secretFile]

/** The one-line error of a failed command: `dfs: <message> [CODE]`. */
function oneLineError(stderr: string, code: string): string {
  const lines = stderr.trim().split('\n')
  expect(lines, stderr).toHaveLength(1)
  expect(lines[0]).toContain(`[${code}]`)
  return lines[0]
}

beforeAll(async () => {
  root = await temp.make('dfs-nn-tools-')
  secretFile = join(root, 'secret')
  otherSecretFile = join(root, 'other-secret')
  await writeFile(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 })
  await writeFile(otherSecretFile, randomBytes(32).toString('hex'), { mode: 0o600 })
  for (let i = 1; i <= 3; i++) {
    const dir = join(root, `node_${i}`)
    await mkdir(dir)
    const m = await startRole(['datanode', '--dir', dir, '--listen', '127.0.0.1:0', '--secret-file', secretFile, '--quiet'], / on (127\.0\.0\.1:\d+) /)
    nodeUrls.push(`tcp://${m[1]}`)
  }
  const meta = join(root, 'meta')
  const mnt = join(root, 'mnt')
  await mkdir(meta)
  await mkdir(mnt)
  const mount = await startDfs({ mountpoint: mnt, nodes: nodeUrls, meta, replicas: 2, chunkSize: '64k', extraArgs: ['--secret-file', secretFile] })
  try {
    const made = await sh(`set -e; for i in 1 2 3; do head -c 300000 /dev/urandom > ${mnt}/file$i; done; mkdir ${mnt}/dir; echo hi > ${mnt}/dir/small`)
    expect(made.code, made.stderr).toBe(0)
  } finally {
    await mount.stop()
  }
  // No scrubber, no orphan collection in the test's time: what fsck finds stays until it has looked.
  // Moves at 128 KiB/s: a drain takes several seconds, long enough to cancel.
  const m = await startRole(['namenode', '--meta', meta, '--listen', '127.0.0.1:0', '--secret-file', secretFile, '--scrub-rate', '0', '--orphan-grace', '1h', '--heal-bandwidth', '128k'],
    /serving cluster \S+ on (tcp:\/\/127\.0\.0\.1:\d+)/)
  namenode = m[1]
}, 300_000)

afterAll(async () => {
  await tool?.close().catch(() => {})
  await stopChildren()
  await temp.cleanup()
})

describe('dfs status --namenode', () => {
  it('prints the NameNode\'s nodes as a table, and as JSON', async () => {
    const text = await dfs('status', ...nn())
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain(`dfs on ${namenode} (pid `)
    expect(text.stdout).toMatch(/^NODE\s+STATE\s+HEARTBEAT/m)
    expect(text.stdout).toContain('3/3 alive')
    expect(text.stdout).toContain('0 clients (0 connected)')
    const json = await dfs('status', '--json', ...nn())
    expect(json.code, json.stderr).toBe(0)
    const status = JSON.parse(json.stdout)
    expect(status.nodes.map((n: { address: string }) => n.address).sort()).toEqual([...nodeUrls].sort())
    expect(status.chunks.files).toBe(4)
    expect(status.clients).toEqual([]) // a tool is not a client
  })
})

describe('the tool handshake (auth with tool: true)', () => {
  it('gets a welcome and no snapshot, records or node lists; only control requests are served', async () => {
    const secret = await readSecret()
    const socket = connect({ host: '127.0.0.1', port: Number(namenode.split(':').pop()) })
    const reader = new MessageReader(() => 64 * 1024 * 1024)
    const got: Message[] = []
    const nonce = newNonce()
    try {
      await new Promise<void>((resolve, reject) => {
        socket.on('error', reject)
        socket.on('data', data => {
          for (const m of reader.push(data)) {
            got.push(m)
            if (m.t === 'hello') {
              send(socket, { t: 'auth', version: NAMENODE_PROTOCOL_VERSION, nonce, proof: clientProof(secret, m.challenge, nonce), client: 'a-tool', tool: true })
            } else if (m.t === 'welcome') {
              send(socket, { t: 'req', id: 1, m: 'commit', a: { record: { op: 'mknod' } } })
              send(socket, { t: 'req', id: 2, m: 'control', a: { cmd: 'balance-status' } })
            } else if (m.t === 'res' && m.id === 2) {
              resolve()
            }
          }
        })
      })
    } finally {
      socket.destroy()
    }
    expect(got.map(m => m.t)).toEqual(['hello', 'welcome', 'res', 'res'])
    expect(got[2]).toMatchObject({ t: 'res', id: 1, ok: false, e: { code: 'PROTOCOL_ERROR' } })
    expect(got[3]).toMatchObject({ t: 'res', id: 2, ok: true })
  })
})

describe('dfs fsck --namenode', () => {
  it('checks every copy online: healthy, text and JSON; --repair is refused with what to do instead', async () => {
    const json = await dfs('fsck', ...nn(), '--json')
    expect(json.code, json.stderr).toBe(0)
    const report = JSON.parse(json.stdout)
    expect(report).toMatchObject({ files: 4, chunks: 3 * 5 + 1, replicas: 2, lost: [], underReplicated: [], badReplicas: [], orphans: [], namenode })
    expect(report.nodes).toHaveLength(3)
    expect(report.daemon.nodes).toHaveLength(3)
    const text = await dfs('fsck', ...nn())
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain('4 files, 16 chunks, 2 replicas wanted')
    expect(text.stdout).toContain(`checked online by the NameNode at ${namenode}`)
    expect(text.stdout.trim().split('\n').pop()).toBe('healthy')

    const repair = await dfs('fsck', ...nn(), '--repair')
    expect(repair.code).toBe(1)
    expect(oneLineError(repair.stderr, 'BAD_ARGUMENT')).toMatch(/does not repair online.*dfs fsck --meta <dir> --repair/)
  })
})

describe('dfs balance | drain --namenode', () => {
  it('balance: follows the job to its end, text and JSON', async () => {
    const json = await dfs('balance', ...nn(), '--json')
    expect(json.code, json.stderr).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'balance', state: 'done' })
    const text = await dfs('balance', ...nn())
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(new RegExp(`^dfs: (balance of )?${namenode.replace(/[.]/g, '\\.')} `))
  })

  it('drain a node, then --undo: every chunk moves off it, then it takes chunks again', async () => {
    const node = nodeUrls[2]
    const drained = await dfs('drain', node, ...nn(), '--json')
    expect(drained.code, drained.stderr).toBe(0)
    const result = JSON.parse(drained.stdout)
    expect(result).toMatchObject({ kind: 'drain', state: 'done', node: { address: node } })
    const status = JSON.parse((await dfs('status', '--json', ...nn())).stdout)
    expect(status.nodes.find((n: { address: string }) => n.address === node)).toMatchObject({ draining: true })
    // After a drain, fsck online still finds every chunk with its copies.
    expect((await dfs('fsck', ...nn(), '--json')).code).toBe(0)
    // Again, as text: nothing left to move, and how to remove the node from a NameNode's cluster.
    const text = await dfs('drain', node, ...nn())
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain(`dfs: drained ${node}: moved 0 chunks`)
    expect(text.stdout).toContain(`It can be removed: stop the NameNode at ${namenode}, then start it without it:`)
    expect(text.stdout).toContain(`dfs namenode --meta ${join(root, 'meta')} --nodes ${nodeUrls.filter(u => u !== node).join(',')} `)

    const undo = await dfs('drain', '--undo', node, ...nn())
    expect(undo.code, undo.stderr).toBe(0)
    expect(undo.stdout).toContain(`dfs: ${node} takes new chunks again`)
    const after = JSON.parse((await dfs('status', '--json', ...nn())).stdout)
    expect(after.nodes.find((n: { address: string }) => n.address === node).draining).toBeFalsy()
  })

  it('drain --cancel: the command following the drain says cancelled and exits 3; the hints name the NameNode', async () => {
    const node = nodeUrls[0]
    const follower = spawn(process.execPath, [DFS_BIN, 'drain', node, ...nn()], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(follower)
    let stderr = ''
    follower.stderr!.on('data', (b: Buffer) => (stderr += b.toString()))
    const exited = new Promise<number | null>(resolve => follower.once('exit', code => resolve(code)))
    const status = async () => JSON.parse((await dfs('status', '--json', ...nn())).stdout)
    await until(async () => (await status()).rebalance?.movedChunks >= 1 && (await status()).rebalance?.state === 'running', 60_000)
    const cancel = await dfs('drain', '--cancel', ...nn())
    expect(cancel.code, cancel.stderr).toBe(0)
    expect(cancel.stdout).toMatch(new RegExp(`^dfs: drain of ${node} cancelled: moved \\d+ of \\d+ chunks`))
    expect(cancel.stdout).toContain(`dfs drain --undo ${node} --namenode ${namenode} --secret-file ${secretFile} takes it back`)
    expect(await exited).toBe(3)
    expect(stderr).toMatch(/drain cancelled .*\[JOB_CANCELLED\]/)
    const s = await status()
    expect(s.rebalance).toMatchObject({ kind: 'drain', state: 'cancelled' })
    expect(s.chunks).toMatchObject({ underReplicated: 0, unavailable: 0 })
    const undo = await dfs('drain', '--undo', node, ...nn(), '--json')
    expect(undo.code, undo.stderr).toBe(0)
    expect(JSON.parse(undo.stdout).node.address).toBe(node)
  })

  it('drain --cancel with nothing running says so through the NameNode, as through a mount', async () => {
    const r = await dfs('drain', '--cancel', ...nn())
    expect(r.code).not.toBe(0)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })
})

describe('dfs fsck --namenode, a problem', () => {
  it('reports what it finds (an orphan chunk file on a DataNode) and exits 1', async () => {
    tool = await TcpDataNode.connect(nodeUrls[0], { secret: await readSecret() })
    const data = randomBytes(1000)
    const id = newChunkId()
    await tool.put(id, data, createHash('sha256').update(data).digest('hex'))
    try {
      const json = await dfs('fsck', ...nn(), '--json')
      expect(json.code, json.stderr).toBe(1)
      expect(JSON.parse(json.stdout).orphans).toEqual([expect.objectContaining({ chunk: id })])
      const text = await dfs('fsck', ...nn())
      expect(text.code).toBe(1)
      expect(text.stdout).toContain('orphan chunk files (referenced by nothing): 1')
      expect(text.stdout).toMatch(/problems found; the NameNode's healer/)
    } finally {
      await tool.delete(id).catch(() => {}) // a DataNode may take deletes from the NameNode only
    }
  })
})

describe('errors', () => {
  it('a wrong secret: one line, NAMENODE_UNAVAILABLE, exit 1', async () => {
    for (const cmd of [['status'], ['balance'], ['fsck']]) {
      const r = await dfs(...cmd, '--namenode', namenode, '--secret-file', otherSecretFile)
      expect(r.code, cmd[0]).toBe(1)
      expect(oneLineError(r.stderr, 'NAMENODE_UNAVAILABLE')).toMatch(/secret/)
    }
    const json = await dfs('status', '--json', '--namenode', namenode, '--secret-file', otherSecretFile)
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout).error.code).toBe('NAMENODE_UNAVAILABLE')
  })

  it('nothing listening: one line, NAMENODE_UNAVAILABLE, exit 1', async () => {
    const address = `tcp://127.0.0.1:${await freePort()}`
    for (const cmd of [['status'], ['drain', 'somenode'], ['fsck']]) {
      const r = await dfs(...cmd, '--namenode', address, '--secret-file', secretFile)
      expect(r.code, cmd[0]).toBe(1)
      expect(oneLineError(r.stderr, 'NAMENODE_UNAVAILABLE')).toContain(address)
    }
  })

  it('bad flags: no secret, a mount point as well, --meta as well', async () => {
    const noSecret = await dfs('status', '--namenode', namenode)
    expect(noSecret.code).toBe(1)
    expect(oneLineError(noSecret.stderr, 'BAD_ARGUMENT')).toContain('--secret-file')
    const both = await dfs('balance', root, ...nn())
    expect(both.code).toBe(1)
    expect(oneLineError(both.stderr, 'BAD_ARGUMENT')).toContain('not both')
    const meta = await dfs('fsck', '--meta', join(root, 'meta'), ...nn())
    expect(meta.code).toBe(1)
    oneLineError(meta.stderr, 'BAD_ARGUMENT')
    const notTcp = await dfs('status', '--namenode', '127.0.0.1:7000', '--secret-file', secretFile)
    expect(notTcp.code).toBe(1)
    oneLineError(notTcp.stderr, 'BAD_ARGUMENT')
  })
})

async function readSecret(): Promise<Buffer> {
  const { readSecretFile } = await import('../../src/datanode/tcp/secret.js')
  return readSecretFile(secretFile)
}

describe('dfs info --namenode', () => {
  it('shows a file\'s chunks by its path in the namespace; a path that leads nowhere is one line', async () => {
    const json = await dfs('info', '/file1', '--json', ...nn())
    expect(json.code, json.stderr).toBe(0)
    const placement = JSON.parse(json.stdout)
    expect(placement).toMatchObject({ path: '/file1', type: 'file', size: 300000, chunkSize: 65536, replicas: 2 })
    expect(placement.chunks.map((c: { intact: number }) => c.intact)).toEqual([2, 2, 2, 2, 2])
    expect(placement.chunks.flatMap((c: { copies: { address: string }[] }) => c.copies.map(copy => copy.address)).every((a: string) => nodeUrls.includes(a))).toBe(true)
    const text = await dfs('info', '/dir', ...nn())
    expect(text.stdout).toMatch(/^\/dir: inode \d+, a directory: no chunks/)
    const missing = await dfs('info', '/nope', ...nn())
    expect(missing.code).toBe(1)
    expect(oneLineError(missing.stderr, 'ENOENT')).toMatch(/\/nope: no such file or directory/)
  })
})
