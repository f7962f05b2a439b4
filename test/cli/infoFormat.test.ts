// `dfs info`'s text: a line for the file, a line per chunk, a line per copy (its state, node, the
// node's health, when it was verified), and a last line saying whether every chunk has R intact copies.

import { expect, it } from 'vitest'
import { formatPlacement } from '../../src/cli/info.js'
import type { FilePlacement } from '../../src/protocol/placement.js'

const placement = (states: ['ok' | 'bad' | 'unreachable', 'ok' | 'bad' | 'unreachable'][]): FilePlacement => ({
  path: '/mnt/f', ino: 7, type: 'file', size: 5 * 1024, chunkSize: 1024, replicas: 2,
  chunks: states.map((pair, index) => ({
    index: index * 2, id: `id${index}`, offset: index * 2048, length: 1024, sha256: `sha${index}`,
    intact: pair.filter(s => s === 'ok').length,
    copies: pair.map((state, i) => ({ nodeId: `n${i}`, address: `/nodes/${i}`, node: state === 'unreachable' ? 'dead' : 'alive', state, ...(i === 0 ? { verifiedAt: 1_000_000 - 90_000 } : {}) })),
  })),
})

it('shows every chunk and copy, and how many chunks are short of R intact copies', () => {
  const text = formatPlacement(placement([['ok', 'ok'], ['bad', 'unreachable'], ['ok', 'unreachable']]), 1_000_000)
  expect(text.split('\n')).toEqual([
    '/mnt/f: inode 7, 5120 bytes (5.0 KiB), 3 chunks of 1.0 KiB and 2 holes (never written, read as zeros), 2 replicas',
    'chunk 0: offset 0, 1024 bytes, id id0, sha256 sha0',
    '  ok           node n0 (alive) /nodes/0, verified 90 s ago',
    '  ok           node n1 (alive) /nodes/1, not verified yet',
    'chunk 2: offset 2048, 1024 bytes, id id1, sha256 sha1',
    '  bad          node n0 (alive) /nodes/0, verified 90 s ago',
    '  unreachable  node n1 (dead) /nodes/1, not verified yet',
    'chunk 4: offset 4096, 1024 bytes, id id2, sha256 sha2',
    '  ok           node n0 (alive) /nodes/0, verified 90 s ago',
    '  unreachable  node n1 (dead) /nodes/1, not verified yet',
    '2 of 3 chunks have fewer than 2 intact copies (1 with none on a live node: reads of them fail now); the healer restores them (dfs status)',
  ])
  expect(formatPlacement(placement([['ok', 'ok']]), 0).split('\n').pop()).toBe('every chunk has 2 intact copies')
})

it('a directory, symlink or special file: its inode and no chunks', () => {
  expect(formatPlacement({ ...placement([]), type: 'dir' })).toBe('/mnt/f: inode 7, a directory: no chunks (only regular files have chunks)')
})

it('is a line per file, chunk and copy whatever the names hold', () => {
  const p = placement([['ok', 'ok']])
  p.path = '/mnt/new\nline \u001b[31mred'
  p.chunks[0]!.copies[1]!.address = '/nodes/a\nb'
  const lines = formatPlacement(p, 1_000_000).split('\n')
  expect(lines).toHaveLength(5)
  expect(lines[0]).toMatch(/^\/mnt\/new\\nline \\u001b\[31mred: inode 7/)
  expect(lines[3]).toBe('  ok           node n1 (alive) /nodes/a\\nb, not verified yet')
})
