// Crash safety: a record that sync() acknowledged is there after a crash at any moment, and the
// records after it form a prefix of what was committed (never a hole, never a mount refusal).
// Both tests commit `set k<i> = <i>` for i = 1, 2, 3, ... so a recovered state must be exactly
// k1..k<lastSeq>, with lastSeq at least the last acknowledged seq.

import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { type KvState, openKv, tempDir } from './kv.js'

const PAD = 'x'.repeat(2000) // long records: a batch is one write of ~50 KB, more likely caught half done

function valueOf(i: number): string {
  return `${i}:${PAD}`
}

function expectPrefixState(state: KvState, lastSeq: number, acked: number): void {
  expect(lastSeq).toBeGreaterThanOrEqual(acked)
  expect(state.size).toBe(lastSeq)
  for (let i = 1; i <= lastSeq; i++) {
    if (state.get(`k${i}`) !== valueOf(i)) expect.fail(`k${i} is ${String(state.get(`k${i}`))} after recovering ${lastSeq} records`)
  }
}

/**
 * Copy a folder's files synchronously. While this runs the main thread stands still, but the
 * write, fsync, rename or unlink the store already handed to libuv's thread pool goes on, so the
 * copy holds the files as a crash at that instant would leave them: a batch not written yet,
 * written but not synced, now and then half written. A file that vanishes mid-copy was being
 * deleted, which the store only does to files a durable checkpoint already covers.
 */
function copyFolderSync(from: string, to: string): void {
  mkdirSync(to)
  for (const name of readdirSync(from)) {
    let data: Buffer
    try {
      data = readFileSync(join(from, name))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw err
    }
    writeFileSync(join(to, name), data)
  }
}

describe('crash safety', () => {
  it('keeps every synced record in copies of the folder taken while writes are in flight', async () => {
    // Simulates a process crash (kill -9) at arbitrary moments: each copy is what the metadata
    // folder holds at one instant while the writer loop is busy, checkpoints included (one every
    // 500 records: written, renamed, old segments deleted). It does not simulate a power cut: the
    // copy reads the page cache, not only what fdatasync put on the disk. Torn lines are rare
    // here; journal.test.ts makes them on purpose.
    const dir = await tempDir()
    const copies = await tempDir()
    const store = await openKv(dir, { create: { settings: {} }, checkpointEvery: { records: 500 } })
    const taken: Array<{ folder: string; acked: number }> = []
    let acked = 0
    for (let i = 0; taken.length < 20; ) {
      for (let j = 0; j < 25; j++, i++) store.commit({ op: 'set', key: `k${i + 1}`, value: valueOf(i + 1) })
      // The batch's write was handed to the thread pool just now: copy while it is in flight, or
      // a moment later while its fdatasync may be.
      if (Math.random() < 0.3) {
        if (Math.random() < 0.5) await new Promise((resolve) => setImmediate(resolve))
        const folder = join(copies, `copy-${taken.length}`)
        copyFolderSync(dir, folder)
        taken.push({ folder, acked }) // only what sync() acknowledged before the "crash" must survive it
      }
      const seq = store.lastSeq
      await store.sync()
      acked = seq
    }
    expect(store.stats.checkpoints).toBeGreaterThan(0)

    for (const { folder, acked } of taken) {
      const recovered = await openKv(folder, {})
      expectPrefixState(recovered.state, recovered.lastSeq, acked)
      await recovered.close()
    }
  })

  it('keeps every synced record when the daemon is killed with SIGKILL', async () => {
    // A real kill -9 of a process committing, syncing and checkpointing as fast as it can. The
    // child runs the compiled store from dist/ (the vitest globalSetup builds it before any test).
    const compiled = fileURLToPath(new URL('../../dist/meta/MetaStore.js', import.meta.url))
    expect(existsSync(compiled), `${compiled} is missing: build with tsc -p tsconfig.json`).toBe(true)
    const work = await tempDir()
    const script = join(work, 'committer.mjs')
    await writeFile(
      script,
      `const { MetaStore } = await import(${JSON.stringify(compiled)})
const machine = {
  empty: () => new Map(),
  apply: (state, record) => { state.set(record.key, record.value) },
  snapshot: (state) => [...state],
  restore: (pieces) => new Map(pieces),
}
const store = await MetaStore.open(process.argv[2], machine, { create: { settings: {} }, checkpointEvery: { records: 3000 } })
for (let i = 1; ; ) {
  for (let j = 0; j < 20; j++, i++) store.commit({ op: 'set', key: 'k' + i, value: i + ':' + ${JSON.stringify(PAD)} })
  const seq = store.lastSeq
  await store.sync()
  process.stdout.write(seq + '\\n')
}
`,
    )

    for (const killAt of [500, 4000, 9000]) {
      const dir = join(work, `meta-${killAt}`)
      const acked = await runAndKill(script, dir, killAt + Math.floor(Math.random() * 1000))
      const recovered = await openKv(dir, {}) // also takes over the dead child's lock
      expectPrefixState(recovered.state, recovered.lastSeq, acked)
      await recovered.close()
    }
  })
})

/** Run the committer until it has acknowledged `target` records, SIGKILL it, and return the last seq it acknowledged. */
function runAndKill(script: string, dir: string, target: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let acked = 0
    let pending = ''
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n')
      pending = lines.pop()!
      for (const line of lines) acked = Number(line)
      if (acked >= target) child.kill('SIGKILL')
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acked)
      else reject(new Error(`the committer exited by itself (code ${code}): ${stderr}`))
    })
  })
}
