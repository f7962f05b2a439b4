// `dfs policy apply <dir>` at the NameNode: convert the chunks already written under a directory to
// the storage policy in force for their directory (copies <-> erasure-coded stripes), in the
// background, one job at a time, its progress read by polling status() (as balance and drain).
//
// A job walks the subtree twice, in batches that yield to the event loop (subtreeFiles.ts): first to
// count what is in another layout than its directory's policy (files, chunks, bytes: the totals of
// the progress bar), then to convert it chunk by chunk (convertChunk.ts: read verified, write in the
// new layout, compare-and-swap the map, delete the old pieces once that is durable), under the
// chunk locks the healer and the rebalancer take, within the copy bandwidth they share. The second
// walk reads each file as it is then: a chunk a client rewrote meanwhile (its new chunk is already in
// the policy in force) or that is gone is skipped; a file's chunks are converted to the policy in
// force for its directory at the moment it is reached.
//
// Cancel (`dfs policy apply --cancel`): the job takes no new chunk and ends once the chunks in flight
// have finished or been abandoned; each chunk is either converted or untouched, so a file may mix
// layouts (every service handles each chunk by its own ref) until apply runs again.

import type { ChunkRef } from '../../chunks/ChunkRef.js'
import { type Layout, storedAsPolicy } from '../../chunks/layout.js'
import { dfsError } from '../../errors.js'
import { inodeAtPath } from '../../meta/namespace/lookup.js'
import { checkPolicyFits, formatPolicy, policyInForce } from '../../meta/namespace/policy.js'
import { isDir, isFile } from '../../meta/namespace/types.js'
import type { NewEvent } from '../../namenode/events.js'
import { formatSize } from '../../util/size.js'
import type { ChunkLocks } from '../chunkLocks.js'
import type { EmitEvent } from '../EventBurst.js'
import { RateMeter } from '../healer/RateMeter.js'
import { TokenBucket } from '../healer/TokenBucket.js'
import type { NamespaceMetaStore } from '../openCluster.js'
import { type ConversionStatus, conversionLine } from './conversionStatus.js'
import { type ConvertIO, convertChunk } from './convertChunk.js'
import { type FileInDir, subtreeFiles } from './subtreeFiles.js'
import { concurrencyOf } from '../../util/concurrency.js'

export type { ConversionStatus } from './conversionStatus.js'

export interface ConverterOptions {
  /** Chunks converted at once. Default 2: each holds a chunk's bytes in memory, read and re-encoded. */
  concurrency?: number
  /** Directory entries looked at per slice of the walks (tests make it small). */
  walkBatch?: number
}

export interface ConverterDeps {
  meta: Pick<NamespaceMetaStore, 'state' | 'commit' | 'sync'>
  /** The NameNode's ChunkStore. */
  io: ConvertIO
  /** Remove pieces from every node (what the NameNode does with dropped chunks). */
  deleteChunks(ids: string[]): Promise<void>
  /** The cluster's R: the policy of a tree without any, and the layout of refs that do not say. */
  replicas: number
  /** DataNodes in the cluster: a policy wider than this is refused before anything starts. */
  nodeCount(): number
  /** Shared with the healer and the rebalancer: one repair, move or conversion of a chunk at a time. */
  locks: ChunkLocks
  /** The copy bandwidth shared with the healer and the rebalancer. */
  bandwidth: TokenBucket
  log: (message: string) => void
  onEvent?: EmitEvent
  options?: ConverterOptions
}

interface Job {
  status: ConversionStatus
  rate: RateMeter
  done: Promise<void>
  cancel: AbortController
  /** Aborted by cancel() or by the NameNode stopping. */
  signal: AbortSignal
}

interface PlannedFile extends FileInDir {
  /** Chunks still to be handled; the file is done at 0. */
  remaining: number
}

export class PolicyConverter {
  readonly #deps: ConverterDeps
  readonly #concurrency: number
  readonly #walkBatch: number | undefined
  readonly #abort = new AbortController()
  #job: Job | undefined
  #nextId = 1

  constructor(deps: ConverterDeps) {
    this.#deps = deps
    this.#concurrency = concurrencyOf(deps.options?.concurrency, 2)
    this.#walkBatch = deps.options?.walkBatch
  }

  /** The job running, else the last one (undefined before the first). */
  status(): ConversionStatus | undefined {
    const job = this.#job
    if (!job) return undefined
    const s = job.status
    const elapsedMs = (s.finishedAt ?? Date.now()) - s.startedAt
    return {
      ...s,
      elapsedMs,
      bytesPerSec: s.state === 'running' ? job.rate.perSecond() : elapsedMs > 0 ? Math.round(s.bytesDone / (elapsedMs / 1000)) : 0,
    }
  }

  /** The line `dfs status` shows while a job runs (and for the last one, how it ended). */
  summary(): string | undefined {
    const s = this.status()
    return s ? conversionLine(s) : undefined
  }

  get running(): boolean {
    return this.#job?.status.state === 'running'
  }

  /**
   * Start converting the files under `path` (a directory, as a path in the namespace). Throws
   * ENOENT/ENOTDIR for a path that names no directory, POLICY_TOO_WIDE when the policy in force there
   * needs more nodes than the cluster has, ALREADY_RUNNING while a job runs. Nothing changes then.
   */
  start(path: string): ConversionStatus {
    this.#assertIdle()
    const { meta, replicas } = this.#deps
    const ino = inodeAtPath(meta.state, path)
    const inode = meta.state.inodes.get(ino)
    if (!inode || !isDir(inode)) {
      throw dfsError('ENOTDIR', `${path} is not a directory: dfs policy apply converts the files under a directory to its policy`, { path })
    }
    const { layout } = policyInForce(meta.state, ino, replicas)
    checkPolicyFits(layout, this.#deps.nodeCount())
    const job = this.#newJob(path, formatPolicy(layout))
    this.#deps.log(`policy apply: converting the files under ${path} to ${job.status.policy} (and subdirectories to theirs)`)
    this.#deps.onEvent?.({ kind: 'convert', level: 'info', message: `policy apply started: converting the files under ${path} to ${job.status.policy}` })
    job.done = this.#run(job, ino)
    return this.status()!
  }

  /** Cancel the job running; resolves once its chunks in flight have ended, with its final status. Throws NOT_RUNNING. */
  async cancel(): Promise<ConversionStatus> {
    const job = this.#job
    if (!job || job.status.state !== 'running') throw dfsError('NOT_RUNNING', 'no policy apply is running; dfs status shows the last one', {})
    const s = job.status
    this.#deps.log(`policy apply: cancelled after ${s.chunksDone} of ${s.chunksTotal} chunks; waiting for the chunks in flight`)
    job.cancel.abort()
    await job.done
    return this.status()!
  }

  /** Resolves when the job running now (if any) has ended. */
  async settle(): Promise<ConversionStatus | undefined> {
    await this.#job?.done
    return this.status()
  }

  /** Stop after the chunks in flight (each is converted, or left as it was). */
  async stop(): Promise<void> {
    this.#abort.abort()
    await this.#job?.done
  }

  #assertIdle(): void {
    if (this.#abort.signal.aborted) throw dfsError('EIO', 'the NameNode is stopping')
    const s = this.#job?.status
    if (s?.state === 'running') {
      throw dfsError('ALREADY_RUNNING', `a policy apply of ${s.path} is already running (${s.chunksDone} of ${s.chunksTotal} chunks); dfs policy apply --cancel stops it, dfs status shows it`, { path: s.path })
    }
  }

  #newJob(path: string, policy: string): Job {
    const status: ConversionStatus = {
      id: this.#nextId++, path, policy, state: 'running', phase: 'counting', startedAt: Date.now(), elapsedMs: 0,
      filesTotal: 0, chunksTotal: 0, bytesTotal: 0, filesDone: 0, chunksDone: 0, bytesDone: 0,
      skippedChunks: 0, failedChunks: 0, storedBefore: 0, storedAfter: 0, bytesPerSec: 0,
    }
    const cancel = new AbortController()
    const job: Job = { status, rate: new RateMeter(), done: Promise.resolve(), cancel, signal: AbortSignal.any([this.#abort.signal, cancel.signal]) }
    this.#job = job
    return job
  }

  async #run(job: Job, dir: number): Promise<void> {
    const s = job.status
    try {
      const files = await this.#count(job, dir)
      s.phase = 'converting'
      if (!job.signal.aborted) await this.#convert(job, files)
      s.state = job.signal.aborted ? (job.cancel.signal.aborted ? 'cancelled' : 'stopped') : 'done'
    } catch (err) {
      s.state = 'failed'
      s.error = (err as Error).message
      this.#deps.log(`policy apply: failed: ${s.error}`)
    }
    s.phase = 'finished'
    s.finishedAt = Date.now()
    s.elapsedMs = s.finishedAt - s.startedAt
    this.#deps.log(conversionLine(this.status()!))
    this.#deps.onEvent?.(endEvent(s))
  }

  /** The chunk's target: the policy in force for the directory the file was reached through. */
  #target(file: FileInDir): Layout {
    return policyInForce(this.#deps.meta.state, file.dir, this.#deps.replicas).layout
  }

  /** First walk: the files with chunks in another layout than their directory's policy, and the totals. */
  async #count(job: Job, dir: number): Promise<PlannedFile[]> {
    const { meta, replicas } = this.#deps
    const s = job.status
    const planned: PlannedFile[] = []
    for await (const batch of subtreeFiles(meta.state, dir, this.#walkBatch)) {
      if (job.signal.aborted) break
      for (const file of batch) {
        const target = this.#target(file)
        let chunks = 0
        let bytes = 0
        for (const ref of meta.state.inodes.get(file.ino)?.chunks ?? []) {
          if (!ref || storedAsPolicy(ref, target, replicas)) continue
          chunks++
          bytes += ref.len
        }
        if (chunks === 0) continue
        planned.push({ ...file, remaining: 0 })
        s.filesTotal++
        s.chunksTotal += chunks
        s.bytesTotal += bytes
      }
    }
    return planned
  }

  /**
   * The chunks to convert, a file at a time, read from the namespace when a worker asks for the next
   * (so as the file is then). A file with none left (rewritten or deleted meanwhile) is done at once.
   */
  *#tasks(job: Job, files: PlannedFile[]): Generator<{ file: PlannedFile; index: number; ref: ChunkRef; target: Layout }> {
    const { meta, replicas } = this.#deps
    for (const file of files) {
      const inode = meta.state.inodes.get(file.ino)
      const target = this.#target(file)
      const chunks = inode && isFile(inode) ? inode.chunks ?? [] : []
      const todo = chunks.flatMap((ref, index) => (ref && !storedAsPolicy(ref, target, replicas) ? [{ index, ref }] : []))
      if (todo.length === 0) {
        job.status.filesDone++
        continue
      }
      file.remaining = todo.length
      for (const { index, ref } of todo) yield { file, index, ref, target }
    }
  }

  /** Second walk: convert each planned file's chunks as they are now, `concurrency` chunks at a time. */
  async #convert(job: Job, files: PlannedFile[]): Promise<void> {
    const { meta, replicas } = this.#deps
    const s = job.status
    const fileDone = (file: PlannedFile) => {
      if (--file.remaining === 0) s.filesDone++
    }
    const queue = this.#tasks(job, files)
    const worker = async () => {
      let turns = 0
      for (let next = queue.next(); !next.done; next = queue.next()) {
        const { file, index, ref, target } = next.value
        if (job.signal.aborted) break
        try {
          const result = await convertChunk({
            meta, io: this.#deps.io, deleteChunks: (ids) => this.#deps.deleteChunks(ids), locks: this.#deps.locks, replicas,
            beforeWrite: (bytes) => this.#deps.bandwidth.take(bytes, job.signal),
            signal: job.signal,
            log: (m) => this.#deps.log(`policy apply: ${m}`),
          }, { ino: file.ino, index, id: ref.id }, target)
          if (result.converted) {
            s.chunksDone++
            s.bytesDone += result.bytes
            s.storedBefore += result.storedBefore
            s.storedAfter += result.storedAfter
            job.rate.add(result.bytes)
          } else if (result.why === 'stopping') {
            break
          } else {
            s.skippedChunks++
          }
        } catch (err) {
          s.failedChunks++
          this.#deps.log(`policy apply: converting chunk ${index} (${ref.id}) of inode ${file.ino} to ${formatPolicy(target)} failed; it keeps its layout: ${(err as Error).message}`)
        }
        fileDone(file)
        // Many chunks skipped in a row never leave the event loop otherwise.
        if (++turns % 64 === 0) await new Promise<void>((resolve) => setImmediate(resolve))
      }
    }
    await Promise.all(Array.from({ length: this.#concurrency }, worker))
  }
}

/** How a job ended, for the event feed. */
function endEvent(s: ConversionStatus): NewEvent {
  const what = `policy apply of ${s.path} (${s.policy})`
  const did = `converted ${s.chunksDone.toLocaleString('en-US')} of ${s.chunksTotal.toLocaleString('en-US')} chunks (${formatSize(s.bytesDone)}) in ${(s.elapsedMs / 1000).toFixed(1)} s`
  const base = { kind: 'convert', count: s.chunksDone } as const
  switch (s.state) {
    case 'failed':
      return { ...base, level: 'error', message: `${what} failed after it ${did}: ${s.error}` }
    case 'cancelled':
      return { ...base, level: 'info', message: `${what} cancelled: ${did}` }
    case 'stopped':
      return { ...base, level: 'info', message: `${what} stopped with the NameNode: ${did}` }
    default:
      return { ...base, level: s.failedChunks ? 'warn' : 'info', message: `${what} finished: ${did}${s.failedChunks ? `, ${s.failedChunks} failed (they keep their layout; run it again)` : ''}` }
  }
}
