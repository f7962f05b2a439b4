// The NameNode host's event feed (src/namenode/events.ts), as the dashboard reads it: every journal
// checkpoint is one event with its duration and seq, and the cluster services emit into the same
// feed (a balance started and finished through the control handlers). No FUSE.

import { afterEach, describe, expect, it } from 'vitest'
import { makeTempDir } from '../helpers/tmp.js'
import { EventFeed } from '../../src/namenode/events.js'
import { ClientTable } from '../../src/namenode/clients.js'
import { type RunningNameNode, startTestNameNode } from './fixtures.js'

let running: RunningNameNode | undefined
afterEach(async () => {
  await running?.server.close()
  await running?.host.close()
  running = undefined
})

describe('NameNode host events', () => {
  it('a checkpoint is one event naming its seq and duration', async () => {
    const { host } = (running = await startTestNameNode(makeTempDir('dfs-events-').path))
    const { meta } = host.cluster
    meta.commit({ op: 'mknod', parent: 1, name: 'd', mode: 0o40755, uid: 0, gid: 0, time: 1 })
    const seq = meta.lastSeq
    await meta.checkpoint()
    const checkpoints = host.events.recent().filter(e => e.kind === 'checkpoint')
    expect(checkpoints).toHaveLength(1)
    expect(checkpoints[0]).toMatchObject({ level: 'info' })
    expect(checkpoints[0]!.message).toMatch(new RegExp(`^journal checkpoint at seq ${seq} took \\d+\\.\\d{3} s$`))
  })

  it('the services emit into the host\'s feed: a balance started and finished', async () => {
    const { host } = (running = await startTestNameNode(makeTempDir('dfs-events-').path))
    const handlers = host.clusterHandlers()
    await handlers.balance!({})
    await host.services.rebalancer.settle()
    const balance = host.events.recent().reverse().filter(e => e.kind === 'balance').map(e => e.message)
    expect(balance).toEqual([expect.stringMatching(/^balance started/), expect.stringMatching(/^balance finished: moved 0 chunks/)])
  })
})

describe('an event is one line', () => {
  // A mount point may hold a newline; a client may send any host name (an escape sequence that would
  // drive a terminal, a newline that makes one event read as two).
  it('whatever a client names itself, its connected and gone events are one line without control characters', () => {
    const events = new EventFeed()
    const table = new ClientTable({ events })
    const about = { host: 'evil\u001b]0;owned\u0007', mountpoint: '/mnt/a\nb\u2028c', pid: 1, startedAt: 1 }
    table.report('c1', { about, counters: { ops: {}, nodes: {}, failovers: 0 } })
    table.leave('c1')
    const messages = events.recent().map(e => e.message)
    expect(messages).toHaveLength(2)
    for (const message of messages) {
      expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/)
      expect(message).toContain('evil\\u001b]0;owned\\u0007:/mnt/a\\nb\\u2028c')
    }
  })
})
