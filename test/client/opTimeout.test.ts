// A client mount's kernel requests must outlast --namenode-timeout: libfuse answers a request it has
// waited its own limit for with ETIMEDOUT, so a limit at or below --namenode-timeout made a request
// waiting for a stopped NameNode fail with ETIMEDOUT after 60 s whatever --namenode-timeout said
// (found with `kill -STOP` of the NameNode and `--namenode-timeout 120s`: mkdir failed at 60 s).

import { describe, expect, it } from 'vitest'
import { fuseOpTimeoutMs } from '../../src/client/remoteMount.js'
import { fuseOptions } from '../../src/fuse/mount.js'

describe('a client mount\'s libfuse request limit', () => {
  it.each([1_000, 60_000, 120_000, 600_000])('outlasts --namenode-timeout %i ms with room to fail with EIO first', namenodeTimeoutMs => {
    const { timeout } = fuseOptions({ name: 'dfs', opTimeoutMs: fuseOpTimeoutMs(namenodeTimeoutMs) }) as { timeout: number }
    expect(timeout).toBeGreaterThanOrEqual(namenodeTimeoutMs + 30_000)
  })
})
