// The progress bar of balance, drain and fsck: on a terminal cli-progress draws it in place; without
// one a plain line at most once a second and always the last; with --json nothing.

import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { Progress, plainLine } from '../../src/cli/progress.js'

function stream(isTTY: boolean) {
  const s = new PassThrough() as PassThrough & { isTTY: boolean; columns: number }
  s.isTTY = isTTY
  s.columns = 200
  let text = ''
  s.on('data', (chunk: Buffer) => (text += chunk.toString()))
  return { stream: s as unknown as NodeJS.WriteStream, text: () => text }
}

describe('Progress', () => {
  it('without a terminal: a plain line now and then, and the last one', () => {
    const out = stream(false)
    let now = 0
    const p = new Progress({ label: 'fsck', stream: out.stream, now: () => now })
    p.update({ value: 0, total: 100, detail: '0/4 chunks' })
    now = 400
    p.update({ value: 25, total: 100, detail: '1/4 chunks' }) // too soon: not printed
    now = 1000
    p.update({ value: 50, total: 100, detail: '2/4 chunks' })
    now = 1100
    p.finish({ value: 100, total: 100, detail: '4/4 chunks' })
    p.update({ value: 100, total: 100, detail: 'after the end' })
    expect(out.text().split('\n')).toEqual([
      'fsck [------------------------------]   0%  0/4 chunks',
      'fsck [###############---------------]  50%  2/4 chunks',
      'fsck [##############################] 100%  4/4 chunks',
      '',
    ])
  })

  it('with --json: nothing at all', () => {
    const out = stream(false)
    const p = new Progress({ label: 'balance', stream: out.stream, quiet: true })
    p.update({ value: 1, total: 2, detail: 'x' })
    p.finish({ value: 2, total: 2, detail: 'x' })
    expect(out.text()).toBe('')
  })

  it('on a terminal: a bar redrawn in place (cli-progress)', () => {
    const out = stream(true)
    const p = new Progress({ label: 'drain /n1', stream: out.stream })
    p.update({ value: 0, total: 4, detail: '0/4 chunks' })
    p.finish({ value: 4, total: 4, detail: '4/4 chunks' })
    expect(out.text()).toContain('drain /n1 [##############################] 100%  4/4 chunks')
    expect(out.text()).toMatch(/\x1b\[/) // cursor control: drawn in place
  })

  it('nothing to do shows as done', () => {
    expect(plainLine('balance', { value: 0, total: 0, detail: '0/0 chunks' })).toBe('balance [------------------------------]   0%  0/0 chunks')
    const out = stream(false)
    new Progress({ label: 'fsck', stream: out.stream }).finish({ value: 0, total: 0, detail: '0/0 chunks' })
    expect(out.text()).toBe('fsck [##############################] 100%  0/0 chunks\n')
  })
})
