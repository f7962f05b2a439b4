// SHA-256 on worker threads, of bytes in shared memory (SharedArrayBuffer): nothing is copied, the
// workers read the very bytes the caller holds. Node's own off-thread hashing (WebCrypto on libuv's
// pool) first copies the whole buffer on the calling thread, which for the daemon is the one thread
// that answers FUSE. The caller must not change the bytes until the hash is back (chunks are frozen
// once sealed or read, by design).
//
// The workers start on first use and hold the process open only while they have work: a command
// that hashes once still exits when it is done.

import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

// CommonJS run by `eval`, so the same code serves dist/ and the TypeScript sources the tests load.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
// Each message leaves this thread a handle on the caller's memory, which holds that memory until
// this thread's next garbage collection, and a thread that allocates almost nothing would hardly
// ever collect. So it collects itself (a tiny heap: well under a millisecond) every COLLECT_BYTES.
require('node:v8').setFlagsFromString('--expose-gc')
const collect = require('node:vm').runInNewContext('gc')
const COLLECT_BYTES = ${64 * 1024 * 1024}
let since = 0
parentPort.on('message', ({ id, buffer, offset, length }) => {
  let reply
  try {
    reply = { id, hex: createHash('sha256').update(new Uint8Array(buffer, offset, length)).digest('hex') }
  } catch (err) {
    reply = { id, error: String((err && err.message) || err) }
  }
  parentPort.postMessage(reply)
  buffer = undefined
  since += length
  if (since >= COLLECT_BYTES) {
    since = 0
    collect()
  }
})
`

/** One worker per core, at most four: hashing beside the I/O, never starving it. */
const POOL_SIZE = Math.max(1, Math.min(4, availableParallelism()))

interface Job {
  resolve(hex: string): void
  reject(err: Error): void
}

interface Slot {
  worker: Worker
  jobs: Map<number, Job>
}

const slots: Slot[] = []
let nextId = 0

/** SHA-256 (lowercase hex) of data, whose memory must be a SharedArrayBuffer, on a worker thread. */
export function hashShared(data: Uint8Array): Promise<string> {
  if (!(data.buffer instanceof SharedArrayBuffer)) throw new TypeError('hashShared needs bytes in a SharedArrayBuffer')
  const slot = leastBusy()
  const id = nextId++
  return new Promise<string>((resolve, reject) => {
    if (slot.jobs.size === 0) slot.worker.ref()
    slot.jobs.set(id, { resolve, reject })
    slot.worker.postMessage({ id, buffer: data.buffer, offset: data.byteOffset, length: data.byteLength })
  })
}

function leastBusy(): Slot {
  let best: Slot | undefined
  for (const slot of slots) if (!best || slot.jobs.size < best.jobs.size) best = slot
  if (best && (best.jobs.size === 0 || slots.length >= POOL_SIZE)) return best
  return start()
}

function start(): Slot {
  const worker = new Worker(WORKER_SOURCE, { eval: true })
  const slot: Slot = { worker, jobs: new Map() }
  worker.unref()
  worker.on('message', ({ id, hex, error }: { id: number; hex?: string; error?: string }) => {
    const job = slot.jobs.get(id)
    if (!job) return
    slot.jobs.delete(id)
    if (slot.jobs.size === 0) worker.unref()
    if (hex !== undefined) job.resolve(hex)
    else job.reject(new Error(`hashing failed: ${error}`))
  })
  // A worker that dies fails what it held; the next hash starts another.
  const fail = (err: Error) => {
    const at = slots.indexOf(slot)
    if (at >= 0) slots.splice(at, 1)
    for (const job of slot.jobs.values()) job.reject(err)
    slot.jobs.clear()
  }
  worker.on('error', fail)
  worker.on('exit', code => fail(new Error(`hashing worker exited (code ${code})`)))
  slots.push(slot)
  return slot
}
