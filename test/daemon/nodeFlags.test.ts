// The node flags a mount daemon is started with: ours are added once, and never over a value the
// user chose on node's command line or in NODE_OPTIONS.

import { afterEach, describe, expect, it } from 'vitest'
import { daemonExecArgv } from '../../src/daemon/nodeFlags.js'

const saved = process.env.NODE_OPTIONS
afterEach(() => {
  if (saved === undefined) delete process.env.NODE_OPTIONS
  else process.env.NODE_OPTIONS = saved
})

describe('daemonExecArgv', () => {
  it('adds a larger young generation after the flags given', () => {
    delete process.env.NODE_OPTIONS
    expect(daemonExecArgv([])).toEqual(['--max-semi-space-size=32'])
    expect(daemonExecArgv(['--cpu-prof'])).toEqual(['--cpu-prof', '--max-semi-space-size=32'])
  })

  it('keeps the size the user chose, on the command line or in NODE_OPTIONS, in either spelling', () => {
    delete process.env.NODE_OPTIONS
    expect(daemonExecArgv(['--max-semi-space-size=8'])).toEqual(['--max-semi-space-size=8'])
    expect(daemonExecArgv(['--max_semi_space_size=64'])).toEqual(['--max_semi_space_size=64'])
    process.env.NODE_OPTIONS = '--enable-source-maps  --max-semi-space-size=4'
    expect(daemonExecArgv(['--cpu-prof'])).toEqual(['--cpu-prof'])
  })

  it('does not take a flag that merely starts alike for the size', () => {
    delete process.env.NODE_OPTIONS
    expect(daemonExecArgv(['--max-semi-space-sizes=1'])).toEqual(['--max-semi-space-sizes=1', '--max-semi-space-size=32'])
  })
})
