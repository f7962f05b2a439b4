// /metrics of a real NameNode (in this process, three folder nodes, two copies of each chunk), written
// to through the file system core as the embedded mount does, without FUSE: bytes written and the
// journal's fsyncs show up, every chunk has two intact copies; a node whose folder is removed is
// counted dead once the heartbeats notice, and the healer's copies of its chunks are counted.

import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import parsePrometheus from 'parse-prometheus-text-format'
import { afterEach, describe, expect, it } from 'vitest'
import { createMetrics, type Metrics } from '../../src/dashboard/metrics.js'
import { FileSystem } from '../../src/fs/FileSystem.js'
import { NameNodeHost } from '../../src/namenode/openNameNode.js'
import type { InProcessSession } from '../../src/protocol/InProcessSession.js'
import { until } from '../helpers/cli.js'
import { tempDirForTest } from '../helpers/tmp.js'
import { writeFile } from '../fs/fakes.js'

const CHUNK = 64 * 1024
const quiet = () => {}

let stop: (() => Promise<void>) | undefined
afterEach(async () => {
  await stop?.()
  stop = undefined
})

async function start(dir: string, opts: { graceMs?: number } = {}): Promise<{ host: NameNodeHost; fs: FileSystem; metrics: Metrics; folders: string[] }> {
  const folders = ['n1', 'n2', 'n3'].map(n => join(dir, n))
  for (const folder of folders) mkdirSync(folder, { recursive: true })
  const host = await NameNodeHost.open({
    meta: join(dir, 'meta'), nodes: folders, replicas: 2, chunkSize: CHUNK, cacheBytes: 0, log: quiet, reopenGraceMs: 0,
    // Heartbeats often, so a removed folder is noticed soon; the healer waits long (unless told), so it does not copy meanwhile.
    liveness: { intervalMs: 200, suspectAfterMs: 2000, deadAfterMs: 4000 },
    healing: { graceMs: opts.graceMs ?? 600_000, bandwidthBytesPerSec: 0, orphanGraceMs: 600_000 },
    scrub: { bytesPerSec: 0 },
  })
  const session: InProcessSession = host.inProcessSession()
  const fs = new FileSystem({ meta: session, chunks: host.cluster.chunks, chunkSize: CHUNK, dirtyLimit: 16 * CHUNK, owner: { uid: 0, gid: 0 }, log: quiet })
  const metrics = createMetrics(host)
  stop = async () => {
    metrics.close()
    await session.close()
    await host.close()
  }
  return { host, fs, metrics, folders }
}

type Family = { name: string; type: string; metrics: { labels?: Record<string, string>; value?: string; count?: string }[] }

async function scrape(metrics: Metrics): Promise<Map<string, Family>> {
  return new Map((parsePrometheus(await metrics.render()) as Family[]).map(f => [f.name, f]))
}

/** The value of one series (labels matched as given, others ignored); 0 when absent. */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name)
  const sample = family?.metrics.find(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  return Number(sample?.value ?? sample?.count ?? 0)
}

const sumOf = (families: Map<string, Family>, name: string) =>
  (families.get(name)?.metrics ?? []).reduce((a, m) => a + Number(m.value), 0)

describe('metrics of a running NameNode', () => {
  it('show a written file, its bytes and the journal fsyncs', async () => {
    const { fs, metrics, host } = await start(tempDirForTest('dfs-metrics-').path)
    const before = await scrape(metrics)
    // Each node in one of the three health states (a heartbeat slowed by a busy machine may make one suspect).
    expect(['alive', 'suspect', 'dead'].map(state => value(before, 'dfs_nodes', { state }))).toSatisfy(([alive, suspect, dead]: number[]) => alive! + suspect! === 3 && dead === 0)
    expect(value(before, 'dfs_files')).toBe(0)
    const writtenBefore = sumOf(before, 'dfs_node_written_bytes_total')

    const data = randomBytes(3 * CHUNK + 100)
    await writeFile(fs, '/a.bin', data)
    await host.cluster.meta.sync()

    const after = await scrape(metrics)
    expect(value(after, 'dfs_files')).toBe(1)
    expect(value(after, 'dfs_chunks')).toBe(4)
    expect(value(after, 'dfs_chunks_by_copies', { copies: '2' })).toBe(4)
    expect(value(after, 'dfs_chunks_by_copies', { copies: '0' })).toBe(0)
    expect(value(after, 'dfs_chunks_under_replicated')).toBe(0)
    // Two copies of every byte, to the nodes the chunk store wrote to.
    expect(sumOf(after, 'dfs_node_written_bytes_total') - writtenBefore).toBe(2 * data.length)
    expect(sumOf(after, 'dfs_node_writes_total')).toBeGreaterThanOrEqual(8)
    expect(Number(after.get('dfs_journal_fsync_duration_seconds')?.metrics[0]?.count)).toBeGreaterThan(0)

    // The nodes' usage comes with their heartbeats.
    await until(async () => sumOf(await scrape(metrics), 'dfs_node_stored_bytes') >= 2 * data.length, 60_000)
  })

  it('count a node dead once its folder is gone', async () => {
    const dir = tempDirForTest('dfs-metrics-').path
    const { fs, metrics, host } = await start(dir)
    await writeFile(fs, '/a.bin', randomBytes(2 * CHUNK))
    const refs = [...host.cluster.meta.state.inodes.values()].flatMap(i => ('chunks' in i ? i.chunks ?? [] : []))
    // A node that holds a copy of the first chunk.
    const victim = host.cluster.registry.statuses().find(s => s.nodeId === refs[0]!.nodes[0])!
    const onVictim = refs.filter(r => r?.nodes.includes(victim.nodeId)).length

    await rm(victim.address, { recursive: true, force: true, maxRetries: 20 })
    await until(async () => value(await scrape(metrics), 'dfs_nodes', { state: 'dead' }) === 1, 60_000)

    const families = await scrape(metrics)
    expect(value(families, 'dfs_nodes', { state: 'alive' }) + value(families, 'dfs_nodes', { state: 'suspect' })).toBe(2)
    expect(value(families, 'dfs_node_state', { node: victim.nodeId, state: 'dead' })).toBe(1)
    expect(value(families, 'dfs_node_state', { node: victim.nodeId, state: 'alive' })).toBe(0)
    // Chunks that had a copy on it have one intact copy left.
    expect(value(families, 'dfs_chunks_by_copies', { copies: '1' })).toBe(onVictim)
    expect(value(families, 'dfs_chunks_under_replicated')).toBe(onVictim)
  })

  it('count the healer\'s copies once a dead node\'s chunks are healed', async () => {
    const { fs, metrics, host } = await start(tempDirForTest('dfs-metrics-').path, { graceMs: 0 })
    await writeFile(fs, '/a.bin', randomBytes(3 * CHUNK))
    const refs = [...host.cluster.meta.state.inodes.values()].flatMap(i => ('chunks' in i ? i.chunks ?? [] : []))
    const victim = host.cluster.registry.statuses().find(s => s.nodeId === refs[0]!.nodes[0])!
    const onVictim = refs.filter(r => r?.nodes.includes(victim.nodeId)).length
    const before = await scrape(metrics)
    expect(value(before, 'dfs_healer_copied_chunks_total')).toBe(0)

    await rm(victim.address, { recursive: true, force: true, maxRetries: 20 })
    await until(async () => {
      const families = await scrape(metrics)
      return value(families, 'dfs_nodes', { state: 'dead' }) === 1 && value(families, 'dfs_chunks_by_copies', { copies: '2' }) === refs.length
    }, 60_000)

    const families = await scrape(metrics)
    expect(value(families, 'dfs_healer_copied_chunks_total')).toBeGreaterThanOrEqual(onVictim)
    expect(value(families, 'dfs_healer_copied_bytes_total')).toBeGreaterThanOrEqual(onVictim * CHUNK)
    expect(value(families, 'dfs_chunks_under_replicated')).toBe(0)
  })
})
