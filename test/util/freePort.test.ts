import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { describe, expect, it, vi } from 'vitest'
import { freePort } from '../../src/util/freePort.js'

const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])

describe('freePort', () => {
  // First: nothing handed out yet, so the two numbers it steers the picks to are not skipped as given.
  it('passes over a port another process listens on', async () => {
    // a server of "someone else": bound by number, below the ephemeral range, not through freePort
    const busy = createServer()
    let busyPort = 0
    for (let port = 20_000; !busyPort; port++) {
      busyPort = await new Promise<number>(resolve => {
        busy.once('error', () => resolve(0))
        busy.listen(port, '127.0.0.1', () => resolve(port))
      })
    }
    const span = ephemeralLow - 10_000
    const pick = (port: number) => (port - 10_000 + 0.5) / span
    const random = vi.spyOn(Math, 'random').mockReturnValueOnce(pick(busyPort)).mockReturnValueOnce(pick(busyPort + 1000))
    try {
      const port = await freePort()
      expect(random).toHaveBeenCalledTimes(2)
      expect(port).toBe(busyPort + 1000)
    } finally {
      random.mockRestore()
      await new Promise(resolve => busy.close(resolve))
    }
  })

  it('gives ports below the kernel\'s ephemeral range, never the same one twice, each one free to listen on', async () => {
    const ports: number[] = []
    for (let i = 0; i < 50; i++) ports.push(await freePort())
    expect(new Set(ports).size).toBe(ports.length)
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(1024)
      expect(port).toBeLessThan(ephemeralLow)
    }
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(ports[0], '127.0.0.1', resolve)
    })
    await new Promise(resolve => server.close(resolve))
  })
})
