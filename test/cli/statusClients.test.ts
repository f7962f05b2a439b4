// dfs status's Clients section from a client table's summaries: one row per client, one line per row,
// whatever a client sent as its host name and mount point (no FUSE).

import { describe, expect, it } from 'vitest'
import { formatClients } from '../../src/cli/status.js'
import type { ClientSummary } from '../../src/protocol/clientStats.js'

function client(host: string, mountpoint: string): ClientSummary {
  return {
    id: 'c1', host, mountpoint, pid: 7, startedAt: 0, inProcess: false, connected: true, connectedAt: 0,
    counters: { ops: {}, nodes: {}, failovers: 0 }, opsPerSec: 0, readBytesPerSec: 0, writeBytesPerSec: 0,
  }
}

describe('the Clients section', () => {
  it('shows a host name and mount point with control characters escaped, on one line', () => {
    const lines = formatClients([client('h\u001b[2J\u001b]0;x\u0007', '/mnt/new\nline\tand\r')], 1000)
    expect(lines).toHaveLength(3)
    const text = lines.join('\n')
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/)
    expect(lines[2]).toMatch(/^h\\u001b\[2J\\u001b\]0;x\\u0007:\/mnt\/new\\nline\\tand\\r  7 /)
  })
})
