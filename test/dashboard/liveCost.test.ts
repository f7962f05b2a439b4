// The live status walks the namespace on the NameNode's event loop: a costly status is sent less
// often, so watching the dashboard never takes more than a small share of the NameNode's time.

import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { LiveHub } from '../../src/dashboard/live.js'
import { EventFeed } from '../../src/namenode/events.js'

/** Just enough of a ServerResponse for the hub: it records what was written. */
function viewer(): ServerResponse & { text: string } {
  const res = new EventEmitter() as unknown as ServerResponse & { text: string }
  Object.assign(res, {
    text: '', destroyed: false, writableEnded: false, writableLength: 0,
    writeHead: () => res, end: () => {}, destroy: () => {},
    write: (chunk: string) => { res.text += chunk; return true },
  })
  return res
}

afterEach(() => {
  vi.useRealTimers()
})

describe('the live status', () => {
  it('is computed every tick when cheap, and spaced out by its cost when not', async () => {
    vi.useFakeTimers()
    let clock = 0
    let cost = 1
    let computed = 0
    const hub = new LiveHub({
      events: new EventFeed(), incarnation: 1, intervalMs: 1000, log: () => {}, now: () => clock,
      status: async () => {
        computed++
        clock += cost // the walk's time, as the hub measures it
        return '{}'
      },
    })
    const res = viewer()
    await hub.open({ method: 'GET', headers: {} } as IncomingMessage, res)
    expect(computed).toBe(1)
    const tick = async () => {
      clock += 1000
      await vi.advanceTimersByTimeAsync(1000)
    }
    for (let i = 0; i < 5; i++) await tick()
    expect(computed).toBe(6) // 1 ms each: every second
    cost = 200 // a big namespace: 50 × 200 ms = one status per 10 s at most
    await tick()
    const before = computed
    for (let i = 0; i < 30; i++) await tick()
    expect(computed - before).toBeGreaterThanOrEqual(2)
    expect(computed - before).toBeLessThanOrEqual(3)
    expect(res.text.match(/event: status/g)?.length).toBe(computed)
    hub.close()
  })
})
