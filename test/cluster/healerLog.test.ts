// The healer logs one summary line per pass (chunks restored, copies, bytes, failures, duration) at
// info level (warn when something failed), and the per-chunk detail only at debug level: a dead node
// with many chunks is one line in a daemon's log, not one per chunk.

import { rm } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { Healer } from '../../src/cluster/healer/Healer.js'
import { HealPass } from '../../src/cluster/healer/HealPass.js'
import type { Log, LogLevel } from '../../src/log/Log.js'
import { type HealCluster, makeHealCluster, randomChunk, until } from './healFixtures.js'

const KiB = 1024

let cluster: HealCluster | undefined
let healer: Healer | undefined
afterEach(async () => {
  await healer?.stop()
  healer = undefined
  await cluster?.cleanup()
  cluster = undefined
})

/** A Log that keeps every line with its level. */
function recordingLog(): { log: Log; lines: { level: LogLevel; message: string }[] } {
  const lines: { level: LogLevel; message: string }[] = []
  const at = (level: LogLevel) => (message: string) => { lines.push({ level, message }) }
  return { lines, log: Object.assign(at('info'), { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }) }
}

describe('Healer log', () => {
  it('re-replicating a dead node is one info line per pass; each chunk only at debug level', async () => {
    const c = (cluster = await makeHealCluster({ nodes: 3, replicas: 2 }))
    for (let f = 0; f < 6; f++) await c.addFile(`f${f}`, [randomChunk(32 * KiB), randomChunk(32 * KiB)])
    const { log, lines } = recordingLog()
    healer = new Healer({ meta: c.meta, chunks: c.chunks, registry: c.registry, replicas: 2, log, options: { graceMs: 100, scanIntervalMs: 60_000, hintDelayMs: 20 } })
    healer.start()
    const h = healer
    await until(() => h.status().lastScanAt !== undefined, 60_000, 'first scan')

    const victim = c.nodes[0].nodeId
    const ids: string[] = []
    for (const inode of c.meta.state.inodes.values()) inode.chunks?.forEach((ref) => ref && ref.nodes.includes(victim) && ids.push(ref.id))
    expect(ids.length).toBeGreaterThan(1)
    await rm(c.dirs[0], { recursive: true, force: true })
    c.registry.markDead(victim, 'test: folder removed')

    await until(() => lines.some((l) => l.message.includes('pass done')), 60_000, 'a pass summary')
    expect(h.status().copiedChunks).toBe(ids.length)
    const summaries = lines.filter((l) => l.message.includes('pass done'))
    expect(summaries).toHaveLength(1)
    expect(summaries[0].level).toBe('info')
    expect(summaries[0].message).toMatch(new RegExp(`^healer: pass done in \\d+\\.\\d s: ${ids.length} chunks restored \\(${ids.length} copies, .*\\), 0 failed$`))
    // No chunk id at info level or above; every one at debug.
    const loud = lines.filter((l) => l.level !== 'debug').map((l) => l.message).join('\n')
    const quiet = lines.filter((l) => l.level === 'debug').map((l) => l.message).join('\n')
    for (const id of ids) {
      expect(loud).not.toContain(id)
      expect(quiet).toContain(id)
    }
  })
})

describe('HealPass summary', () => {
  const counts = { copiedChunks: 10, copiedBytes: 1000, trimmedCopies: 0, corruptRemoved: 0, failed: 0 }

  it('says nothing for a pass that changed nothing', () => {
    expect(new HealPass(counts, 0).summary(counts, 5)).toBeUndefined()
  })

  it('counts only what happened during the pass, and warns with the first failure', () => {
    const pass = new HealPass(counts, 1_000)
    pass.restored = 2
    pass.short = 1
    pass.failure('copying chunk abc to node n2 failed: no room')
    pass.failure('a later failure')
    const s = pass.summary({ ...counts, copiedChunks: 13, copiedBytes: 4 * 1024 * 1024 + 1000, failed: 1 }, 3_500)
    expect(s?.level).toBe('warn')
    expect(s?.message).toBe('healer: pass done in 2.5 s: 2 chunks restored (3 copies, 4.0 MiB), 1 failed, 1 still below R copies (not enough writable nodes); first failure: copying chunk abc to node n2 failed: no room')
    expect(s?.context).toMatchObject({ restored: 2, copies: 3, bytes: 4 * 1024 * 1024, failed: 1, belowR: 1, ms: 2_500 })
  })
})
