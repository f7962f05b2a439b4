// `dfs status`'s text from the status JSON, also as a daemon or NameNode started before an upgrade
// sends it (no nodes[].state; `clients` a count): the CLI reads what it can and does not throw.

import { describe, expect, it } from 'vitest'
import { formatStatus } from '../../src/cli/status.js'
import type { ClusterStatus } from '../../src/namenode/status.js'

function olderStatus(): ClusterStatus {
  const node = (nodeId: string, over: Record<string, unknown>) => ({ nodeId, address: `/data/${nodeId}`, health: 'alive', full: false, heartbeatAgeMs: 1000, ...over })
  return {
    mountpoint: '/mnt/dfs', meta: '/meta', pid: 1, uptimeMs: 60_000, replicas: 2, chunkSize: 1 << 20, clients: 2,
    liveness: { heartbeatMs: 500, suspectAfterMs: 2000, deadAfterMs: 10_000 },
    nodes: [node('n1', {}), node('n2', { draining: true }), node('n3', { full: true }), node('n4', { health: 'dead', full: true })],
    totals: { capacity: 0, available: 0, used: 0, nodes: 4, alive: 3, usableCapacity: 0, usableAvailable: 0, devices: 1 },
    chunks: { referenced: 0, underReplicated: 0, unavailable: 0, waitingForGrace: 0, files: 0 },
    io: { writes: 0, underReplicatedWrites: 0, reads: 0, cacheHits: 0, failovers: 0, badReplicas: 0, deleteFailures: 0, deletesDeferred: 0 },
  } as unknown as ClusterStatus
}

describe('formatStatus', () => {
  it('shows each node\'s one-word state from its fields, and skips a clients count it cannot list', () => {
    const text = formatStatus(olderStatus())
    const stateOf = (nodeId: string) => text.split('\n').find(line => line.startsWith(nodeId))?.split(/\s+/)[1]
    expect(['n1', 'n2', 'n3', 'n4'].map(stateOf)).toEqual(['alive', 'draining', 'full', 'dead'])
    expect(text).not.toMatch(/client/)
  })

  it('shows a node still counting its chunks after it opened as "N+ (counting)", a counted one as N', () => {
    const status = olderStatus()
    Object.assign(status.nodes[0]!, { chunks: 1200, counting: true })
    Object.assign(status.nodes[1]!, { chunks: 7 })
    const chunksOf = (nodeId: string) => formatStatus(status).split('\n').find(line => line.startsWith(nodeId))?.match(/\s(\d+(\+ \(counting\))?)\s+\/data/)?.[1]
    expect(chunksOf('n1')).toBe('1200+ (counting)')
    expect(chunksOf('n2')).toBe('7')
  })

  it('counts the scrubber\'s passes in English: 1 pass, 2 passes', () => {
    const scrubber = (passes: number) => ({ state: 'resting', scannedChunks: 3, scannedBytes: 3072, corruptFound: 0, missingFound: 0, passes, bytesPerSec: 0 })
    const line = (passes: number) => formatStatus({ ...olderStatus(), scrubber: scrubber(passes) } as unknown as ClusterStatus).split('\n').find(l => l.startsWith('scrubber:'))
    expect(line(1)).toMatch(/, 1 pass$/)
    expect(line(2)).toMatch(/, 2 passes$/)
  })

  it('on a client mount, names the NameNode whose pid it shows, and shows the mount\'s own chunk I/O', () => {
    const io = (writes: number) => ({ writes, underReplicatedWrites: 0, reads: 0, cacheHits: 0, failovers: 0, badReplicas: 0, deleteFailures: 0, deletesDeferred: 0 })
    const client = { ...olderStatus(), namenode: 'tcp://10.0.0.1:7000', io: io(0), clientIo: io(3) } as unknown as ClusterStatus
    const lines = formatStatus(client).split('\n')
    expect(lines[0]).toMatch(/^dfs on \/mnt\/dfs \(NameNode tcp:\/\/10\.0\.0\.1:7000, pid 1, /)
    expect(lines.find(l => l.startsWith('io'))).toMatch(/^io \(this mount\): 3 chunk writes/)
    expect(formatStatus(olderStatus()).split('\n').find(l => l.startsWith('io'))).toMatch(/^io \(the NameNode\): 0 chunk writes/)
    expect(formatStatus(olderStatus())).toMatch(/^0 files, /m)
  })
})
