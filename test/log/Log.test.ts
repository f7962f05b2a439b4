// levelled(): the adapter that lets every part of dfs call log.warn(...) whether it was handed a
// pino-backed Log or a plain (message) => void; and --log-level's parsing.

import { describe, expect, it } from 'vitest'
import { levelled, parseLogLevel, silentLog } from '../../src/log/Log.js'
import { DfsError } from '../../src/errors.js'

describe('levelled', () => {
  it('gives a plain function error, warn and info (context appended as JSON), and drops debug', () => {
    const lines: string[] = []
    const log = levelled((m: string) => lines.push(m))
    log('plain')
    log.error('e')
    log.warn('w', { chunk: 'abc' })
    log.info('i')
    log.debug('per-chunk detail')
    expect(lines).toEqual(['plain', 'e', 'w {"chunk":"abc"}', 'i'])
  })

  it('passes a Log through as it is, and nothing becomes silent', () => {
    const log = Object.assign(() => {}, { error() {}, warn() {}, info() {}, debug() {} })
    expect(levelled(log)).toBe(log)
    expect(levelled(undefined)).toBe(silentLog)
  })
})

describe('parseLogLevel', () => {
  it('takes the four levels, in any case', () => {
    expect(['error', 'warn', 'INFO', ' debug '].map((l) => parseLogLevel(l))).toEqual(['error', 'warn', 'info', 'debug'])
  })

  it('refuses anything else with BAD_ARGUMENT naming the choices', () => {
    expect(() => parseLogLevel('verbose')).toThrow(DfsError)
    expect(() => parseLogLevel('verbose')).toThrow('--log-level "verbose" is not a log level; use one of error, warn, info, debug')
  })
})
