// --http / --http-token-file: loopback by default, anything else only with a token.

import { describe, expect, it } from 'vitest'
import { checkHttpFlags, isLoopback } from '../../src/dashboard/httpFlags.js'
import { bindDashboard, startDashboard } from '../../src/dashboard/server.js'
import { createServer, type Server } from 'node:net'
import type { NameNodeHost } from '../../src/namenode/openNameNode.js'

describe('--http', () => {
  it('knows loopback: 127.0.0.0/8, ::1, localhost', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) expect(isLoopback(host), host).toBe(true)
    for (const host of ['0.0.0.0', '10.0.0.1', '128.0.0.1', '::', 'example.com', '127.0.0.1.example.com', '::ffff:10.0.0.1']) expect(isLoopback(host), host).toBe(false)
  })

  it('refuses another address without a token, and a token without --http', () => {
    expect(() => checkHttpFlags({ http: '0.0.0.0:8080' })).toThrow(expect.objectContaining({ code: 'HTTP_NOT_LOOPBACK' }))
    expect(() => checkHttpFlags({ http: '[::]:8080' })).toThrow(expect.objectContaining({ code: 'HTTP_NOT_LOOPBACK' }))
    expect(() => checkHttpFlags({ http: 'nope' })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT', message: '--http "nope" is not host:port; write it as 127.0.0.1:8080' }))
    expect(() => checkHttpFlags({ httpTokenFile: 't' })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }))
    expect(() => checkHttpFlags({ http: '0.0.0.0:8080', httpTokenFile: 't' })).not.toThrow()
    expect(() => checkHttpFlags({ http: '127.0.0.1:0' })).not.toThrow()
    expect(() => checkHttpFlags({})).not.toThrow()
  })

  it('is the server\'s rule too, whoever starts it', async () => {
    const host = {} as NameNodeHost
    await expect(startDashboard({ host, listen: '0.0.0.0:0', log: () => {}, status: () => { throw new Error('not asked') } }))
      .rejects.toMatchObject({ code: 'HTTP_NOT_LOOPBACK' })
  })

  it('says what to do when its port is taken', async () => {
    const busy: Server = createServer()
    await new Promise<void>(resolve => busy.listen(0, '127.0.0.1', resolve))
    try {
      const port = (busy.address() as { port: number }).port
      await expect(bindDashboard(`127.0.0.1:${port}`)).rejects.toMatchObject({
        code: 'BAD_ARGUMENT',
        message: expect.stringMatching(new RegExp(`^cannot listen on --http 127\\.0\\.0\\.1:${port}: port ${port} is in use; pick another port`)),
      })
    } finally {
      await new Promise(resolve => busy.close(resolve))
    }
  })
})
